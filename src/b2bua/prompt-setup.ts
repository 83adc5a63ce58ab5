/**
 * The prelude of a recorded in-line call whose decision has an announcement or a consent IVR
 * (C1-C3): what runs in `InlineCall.start` before the INVITE goes to the callee.
 *
 * 1. A 183 Session Progress to the caller with callseal's SDP answer (the relay's port facing it,
 *    the codec chosen from its offer, telephone-event if offered).
 * 2. The announcement, the IVR and the confirmation (`prompt-flow.ts`), the caller's digits coming
 *    from the relay.
 * 3. The outcome: logged in the decision log and, for a recorded call, kept for the metadata; the
 *    recording's legs open now (B3: right after the announcement). A call the caller did not
 *    consent to stays anchored on the relay but is not recorded.
 * 4. The INVITE goes on with the caller's offer limited to the chosen codec.
 *
 * A call that ends meanwhile (CANCEL) aborts the flow: nothing is offered to the callee.
 */
import type { Clock, Scheduler } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { SipError, errorMessage } from '../common/errors.ts';
import type { CallFacts, Decision } from '../policy/index.ts';
import type { Recorder } from '../recording/index.ts';
import { randomToken } from '../sip/index.ts';
import type { InlineCall } from './call.ts';
import type { RelayPath } from './media-path.ts';
import { PromptFlow, type PromptLibrary, type PromptMedia, type PromptPlan } from './prompt-flow.ts';
import { newSdesCrypto, type SrtpSuite } from '../rtp/index.ts';
import { earlyAnswer, limitOffer, offeredSrtp, type ChosenCodec } from './prompt-sdp.ts';

/** The consent outcome as the decision log keeps it. */
export interface ConsentLogged {
  readonly mode: string;
  readonly outcome: string;
  readonly key?: string | undefined;
  readonly atMs: number;
}

/** What {@link promptPrelude} works with. */
export interface PromptSetup {
  readonly call: InlineCall;
  readonly recorder: Recorder;
  readonly path: RelayPath;
  readonly relayId: string;
  readonly codec: ChosenCodec;
  readonly plan: PromptPlan;
  readonly facts: CallFacts;
  readonly decision: Decision;
  /** Opens the recording's legs, from now. */
  readonly startLegs: (fromNow: boolean) => Promise<void>;
  /** The running flows by relay (the caller's digits are routed there). */
  readonly flows: Map<string, PromptFlow>;
  readonly library: PromptLibrary;
  readonly media: PromptMedia & { updateRelay(relayId: string, side: 'a', change: { readonly srtp: { readonly receive: string; readonly send: string } }): void };
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly failMode: 'closed' | 'open';
  readonly alert: (subject: string, text: string) => void;
  readonly logConsent?: ((facts: CallFacts, decision: Decision, consent: ConsentLogged) => void) | undefined;
}

/** The call's prelude: plays, asks, decides, starts the recording (or not), then lets the INVITE go on. */
export function promptPrelude(s: PromptSetup): (call: InlineCall) => Promise<void> {
  return async (call) => {
    const ports = await s.path.open();
    const flow = new PromptFlow({
      media: s.media, library: s.library, scheduler: s.scheduler, clock: s.clock, log: s.log, relayId: s.relayId, callId: call.callId, codec: s.codec, plan: s.plan,
    });
    s.flows.set(s.relayId, flow);
    call.on('ended', () => { flow.abort(); });
    // An SRTP caller hears the announcement over SRTP, with a key of callseal's own for its leg.
    const srtp = offeredSrtp(call.invite.request.body);
    const usable = srtp?.usable;
    if (srtp && !usable) throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', 'SDP offers SRTP without an SDES crypto suite callseal supports (AES_CM_128_HMAC_SHA1_80 or _32)');
    let own: string | undefined;
    if (usable) {
      own = newSdesCrypto(usable.tag, usable.suite as SrtpSuite);
      s.media.updateRelay(s.relayId, 'a', { srtp: { receive: usable.value, send: own } });
    }
    let result;
    try {
      if (!call.earlyMedia(earlyAnswer(s.codec, ports.host, ports.aPort, randomToken(8).replace(/\D/g, '').padEnd(4, '1'), own))) return;
      result = await flow.run();
    } finally {
      s.flows.delete(s.relayId);
    }
    if (result.aborted || call.ended) return;
    call.offerFilter = (sdp) => limitOffer(sdp, s.codec);
    const consent = result.consent;
    if (consent) {
      // The consent entry of the decision log says whether the call is recorded after all.
      s.logConsent?.(s.facts, { ...s.decision, record: consent.recorded }, { mode: consent.mode, outcome: consent.outcome, atMs: consent.atMs, ...(consent.key !== undefined ? { key: consent.key } : {}) });
      if (!consent.recorded) {
        s.log.info({ callId: call.callId, mode: consent.mode, outcome: consent.outcome, key: consent.key }, 'in-line call not recorded: consent IVR');
        await s.recorder.discard();
        return;
      }
      s.recorder.setConsent({ mode: consent.mode, recorded: true, outcome: consent.outcome, atMs: consent.atMs, ...(consent.key !== undefined ? { key: consent.key } : {}) });
    }
    try {
      await s.startLegs(true);
    } catch (err) {
      await s.recorder.discard().catch(() => undefined);
      const why = `call must be recorded but cannot be: ${errorMessage(err)}`;
      if (s.failMode === 'closed') throw new SipError('CS_INLINE_UNRECORDABLE', 503, 'Service Unavailable', why, { cause: err });
      s.log.error({ callId: call.callId, err: errorMessage(err) }, 'in-line call connected unrecorded (fail-open)');
      s.alert('in-line call not recorded', `Call ${call.callId} must be recorded under "${s.decision.settingName ?? ''}" but could not be; it was connected unrecorded (fail-open).\n\n${why}\n`);
    }
  };
}
