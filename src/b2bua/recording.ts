/**
 * The recording side of in-line calls (spec I2, B3, B6): for each new call the policy decides
 * from the call's facts (`facts.ts`); a call not to be recorded keeps its SDP untouched, a call
 * to be recorded gets a relay and a Recorder whose two legs are the relay's taps, opened at the
 * INVITE so that ringing and early media are recorded, and closed (then sealed) when the call
 * ends however it ends. When a call that must be recorded cannot be, `failMode` decides: `closed`
 * refuses it (503 with Warning), `open` connects it unrecorded, logs the decision and alerts; a
 * call not to be recorded is never refused for a recording problem. `*1` (the setting's stop
 * code) from the internal side stops the recording, by RFC 4733 on the relay or by SIP INFO.
 */
import type { Clock, Scheduler } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { TypedEmitter } from '../common/events.ts';
import { CallsealError, SipError, errorMessage } from '../common/errors.ts';
import type { MediaEngine } from '../media/index.ts';
import type { CallFacts, Decision } from '../policy/index.ts';
import { Recorder, type CallEnded, type FinishedRecording, type LiveRecording, type Spool, type StreamSpec } from '../recording/index.ts';
import { getHeader, randomToken, type SipMessage } from '../sip/index.ts';
import { bodyType } from './headers.ts';
import type { InlineCall } from './call.ts';
import { CALLEE_LABEL, CALLER_LABEL, inlineFacts, inlineParties } from './facts.ts';
import { directPath, peerOf, RelayPath, type LegSide } from './media-path.ts';
import { dtmfRelayDigit } from './dtmf-info.ts';
import { sdpAudioCodec } from './sdp-rewrite.ts';
import { chooseCodec } from './prompt-sdp.ts';
import { hasPrompt, type PromptFlow, type PromptLibrary } from './prompt-flow.ts';
import { promptPrelude, type ConsentLogged } from './prompt-setup.ts';
import { CodecFollower, knownCodec } from './codec-follow.ts';
import type { SrtpMode } from './srtp-legs.ts';
import type { SideName } from './routing.ts';

/** Options of {@link InlineRecordings}. */
export interface InlineRecordingsOptions {
  readonly media: MediaEngine;
  readonly spool: Spool;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly rtpHost: string;
  readonly reorderMs: number;
  readonly channels: 'stereo' | 'separate';
  readonly mediaTimeoutSec: number;
  readonly failMode: 'closed' | 'open';
  /** The media profile callseal offers each side (`inline.pbx.srtp`, `inline.trunk.srtp`); `as-offered` by default. */
  readonly srtp?: Readonly<Record<SideName, SrtpMode>>;
  /** The policy; logs each decision in the decision log. */
  readonly decide: (facts: CallFacts, event: 'new-session') => Decision;
  /** Why new recordings cannot start now (storage low, database unwritable); undefined when they can. */
  readonly intakeBlock: () => string | undefined;
  /** A fail-open call connected unrecorded. */
  readonly alert: (subject: string, text: string) => void;
  /** C1-C3: the announcement library; without it no announcement or IVR is played. */
  readonly library?: PromptLibrary | undefined;
  /** C3: logs the consent IVR's outcome in the decision log. */
  readonly logConsent?: ((facts: CallFacts, decision: Decision, consent: ConsentLogged) => void) | undefined;
}

/** Events of the in-line recordings (the same as the SIPREC server's, for the live view and sealing). */
export interface InlineRecordingsEvents {
  started: [LiveRecording];
  recorded: [FinishedRecording];
  failed: [{ readonly callId: string; readonly error: string }];
  /** A call that recorded ended (after its last `recorded`), for the live events (H8). */
  ended: [CallEnded];
}

interface Recorded {
  readonly call: InlineCall;
  readonly recorder: Recorder;
  readonly path: RelayPath;
}

/** Recording of in-line calls. */
export class InlineRecordings extends TypedEmitter<InlineRecordingsEvents> {
  readonly #o: InlineRecordingsOptions;
  readonly #byRelay = new Map<string, Recorded>();
  /** The announcements and IVRs playing, by relay: the caller's digits go to them. */
  readonly #flows = new Map<string, PromptFlow>();
  /** Recordings of ended calls still closing. */
  readonly #closing = new Set<Promise<void>>();

  constructor(options: InlineRecordingsOptions) {
    super();
    this.#o = options;
    this.onListenerError((err, event) => {
      options.log.error({ err: errorMessage(err), event }, 'in-line recordings listener failed');
    });
  }

  /** Live in-line recordings. */
  live(): LiveRecording[] {
    return [...this.#byRelay.values()].filter((r) => r.recorder.recording).map((r) => r.recorder.live());
  }

  /**
   * Decides a new call and sets it up: its media path, and for a recorded call the relay and
   * the Recorder. Rejects (the call is refused) only for a fail-closed call that must be recorded.
   */
  async setUp(call: InlineCall): Promise<void> {
    const o = this.#o;
    const req = call.invite.request;
    const facts = inlineFacts(call.callId, req, call.route, o.clock.nowMs());
    const decision = o.decide(facts, 'new-session');
    const plan = { announcementId: decision.announcementId, consent: decision.consent };
    const prompted = decision.record && o.library !== undefined && hasPrompt(plan);
    const chosen = prompted ? chooseCodec(req.body) : undefined;
    if (prompted && !chosen) {
      // No codec to play the announcement in: opt-in without the caller's key is not recorded.
      o.log.warn({ callId: call.callId, setting: decision.settingName }, 'the caller offers no codec announcements are played in (PCMA, PCMU, G.722): no announcement, no IVR');
      if (plan.consent?.mode === 'opt-in') {
        o.logConsent?.(facts, { ...decision, record: false }, { mode: 'opt-in', outcome: 'timeout', atMs: o.clock.nowMs() });
        call.media = directPath;
        return;
      }
    }
    if (!decision.record) {
      call.media = directPath;
      return;
    }
    const relayId = `inline-${randomToken(8)}`;
    const modes = o.srtp ?? { pbx: 'as-offered', trunk: 'as-offered' };
    const path = new RelayPath(o.media, relayId, o.log, { srtp: { a: modes[call.route.from], b: modes[call.route.to] } });
    let recorder: Recorder | undefined;
    let startLegs: ((fromNow: boolean) => Promise<void>) | undefined;
    try {
      const block = o.intakeBlock();
      if (block !== undefined) throw new CallsealError('CS_STORAGE_LOW', block);
      const offered = req.body.length > 0 ? sdpAudioCodec(req.body, knownCodec) : undefined;
      // The announcement's codec is the call's: the callee is offered that one only.
      const codec = chosen && offered ? { ...offered, codec: knownCodec(chosen.codec, chosen.payloadType) ?? offered.codec, payloadType: chosen.payloadType } : offered;
      if (!codec) throw new CallsealError('CS_SDP_INVALID', 'the INVITE offers no audio codec callseal records (or no SDP)');
      await path.open(peerOf(req.body));
      recorder = new Recorder({
        callId: call.callId, mode: 'inline', media: o.media, spool: o.spool, clock: o.clock, scheduler: o.scheduler, log: o.log,
        rtpHost: o.rtpHost, reorderMs: o.reorderMs, channels: o.channels, mediaTimeoutSec: o.mediaTimeoutSec,
        parties: inlineParties(req, call.route),
        // The in-line mode knows the internal party for certain: the side configured as internal (B6).
        decision: { ...decision, internalParty: call.route.direction === 'out' ? 'caller' : 'callee' },
      });
      const spec = (label: string, side: LegSide): StreamSpec => ({
        label, codec: codec.codec, payloadType: codec.payloadType, dtmfPayloadType: undefined, srtpCrypto: undefined, localCrypto: undefined,
        remote: undefined, tap: { relayId, side },
      });
      const rec = recorder;
      const follower = new CodecFollower(rec, [{ label: CALLER_LABEL, side: 'a' }, { label: CALLEE_LABEL, side: 'b' }], codec,
        (leg, c) => ({ ...spec(leg.label, leg.side), codec: c.codec, payloadType: c.payloadType }), o.log);
      startLegs = async (fromNow: boolean): Promise<void> => {
        const legs = await rec.start([spec(CALLER_LABEL, 'a'), spec(CALLEE_LABEL, 'b')], fromNow);
        if (legs.every((l) => l === undefined)) throw new CallsealError('CS_RECORDING_IO', 'no leg of the recording opened');
        path.onAnswer((_from, sdp) => follower.answer(sdp));
      };
      // B3: from set-up, unless an announcement comes first (then from its end, or from the consent outcome).
      if (!chosen) await startLegs(false);
    } catch (err) {
      await path.close();
      await recorder?.discard().catch((e: unknown) => { o.log.warn({ callId: call.callId, err: errorMessage(e) }, 'discarding the recording failed'); });
      const why = `call must be recorded but cannot be: ${errorMessage(err)}`;
      if (o.failMode === 'closed') {
        o.log.warn({ callId: call.callId, setting: decision.settingName, err: errorMessage(err) }, 'in-line call refused (fail-closed)');
        throw new SipError('CS_INLINE_UNRECORDABLE', 503, 'Service Unavailable', why, { cause: err });
      }
      o.log.error({ callId: call.callId, setting: decision.settingName, err: errorMessage(err) }, 'in-line call connected unrecorded (fail-open)');
      o.alert('in-line call not recorded', `Call ${call.callId} (${decision.caller} -> ${decision.callee}) must be recorded under "${decision.settingName ?? ''}" but could not be; it was connected unrecorded (fail-open).\n\n${why}\n`);
      call.media = directPath;
      return;
    }
    call.media = path;
    this.#follow({ call, recorder, path }, relayId);
    if (chosen && o.library) {
      call.prelude = promptPrelude({
        call, recorder, path, relayId, codec: chosen, plan, facts, decision, startLegs, flows: this.#flows, library: o.library,
        media: o.media, clock: o.clock, scheduler: o.scheduler, log: o.log, failMode: o.failMode, alert: o.alert, logConsent: o.logConsent,
      });
    }
  }

  #follow(r: Recorded, relayId: string): void {
    const { call, recorder } = r;
    const log = this.#o.log;
    this.#byRelay.set(relayId, r);
    recorder.on('started', (live) => { this.safeEmit('started', live); });
    recorder.on('recorded', (finished) => { this.safeEmit('recorded', finished); });
    recorder.on('failed', (f) => { this.safeEmit('failed', f); });
    recorder.on('ended', (e) => { this.safeEmit('ended', e); });
    recorder.on('timeout', ({ idleMs }) => { call.hangUp(`no media for ${Math.round(idleMs / 1000)} s`); });
    recorder.on('unrecordable', ({ reason }) => { call.hangUp(`recording failed: ${reason}`); });
    call.on('response', (status) => {
      if (status < 200 || status >= 300) return;
      try {
        recorder.confirmAnswer();
      } catch (err) {
        log.error({ callId: call.callId, err: errorMessage(err) }, 'recording failed at the answer');
        call.hangUp('recording failed');
      }
    });
    call.on('request', (from, method, msg) => { this.#info(r, from, method, msg); });
    call.on('ended', (reason, status) => {
      this.#byRelay.delete(relayId);
      // B3: what was recorded from set-up (ringing, early media) is kept and sealed, answered or not.
      const closing = recorder.close(status !== undefined ? `call ended: ${reason} (${status})` : `call ended: ${reason}`).catch((err: unknown) => {
        log.error({ callId: call.callId, err: errorMessage(err) }, 'closing the in-line recording failed');
      });
      this.#closing.add(closing);
      void closing.finally(() => { this.#closing.delete(closing); });
    });
  }

  /** SIP INFO with `application/dtmf-relay` (B6); it is relayed on either way. */
  #info(r: Recorded, from: LegSide, method: string, msg: SipMessage): void {
    if (method !== 'INFO' || (bodyType(msg) ?? '').toLowerCase() !== 'application/dtmf-relay') return;
    const digit = dtmfRelayDigit(msg.body);
    if (digit !== undefined) r.recorder.dtmfFrom(from === 'a' ? 'caller' : 'callee', digit, this.#o.clock.nowMs());
  }

  /** An RFC 4733 digit from one side of a relay (the engine's `relayDtmf`). */
  onRelayDtmf(relayId: string, fromSide: LegSide, digit: string, atMs: number): void {
    const flow = this.#flows.get(relayId);
    if (flow) {
      if (fromSide === 'a') flow.dtmf(digit);
      return;
    }
    this.#byRelay.get(relayId)?.recorder.dtmfFrom(fromSide === 'a' ? 'caller' : 'callee', digit, atMs);
  }

  /** Waits until the recordings of ended calls are closed (after the calls ended at shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#closing]);
  }

  /** A media worker died: the calls of its relays end (their recordings close with what was written). */
  onWorkerFailed(relayIds: readonly string[], reason: string): string[] {
    const ended: string[] = [];
    for (const id of relayIds) {
      const r = this.#byRelay.get(id);
      if (!r) continue;
      r.recorder.workerFailed(reason);
      ended.push(getHeader(r.call.invite.request, 'call-id') ?? r.call.callId);
    }
    return ended;
  }
}
