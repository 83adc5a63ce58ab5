/**
 * Between a SIPREC dialog and its Recorder, in the shape dialog events -> `CallFacts` ->
 * `decide()` -> Recorder: the parties and the policy's facts from the rs-metadata and the offer,
 * the Recorder's `StreamSpec` from an offered stream, the answered streams from the Recorder's
 * legs, and what a re-INVITE or UPDATE does (metadata kept, the policy asked again, the recording
 * started or stopped, the stream plan carried out). No SIP messages: the server answers.
 */
import type { Logger } from '../common/log.ts';
import type { CallFacts, Decision } from '../policy/index.ts';
import type { CallParties, PartyInfo, Recorder, RecorderLeg, StreamSpec } from '../recording/index.ts';
import { mergeMetadata, resolveParties, type Participant, type RecordingMetadata } from './metadata.ts';
import { newLocalCrypto, type AnsweredStream, type OfferedStream } from './sdp.ts';
import { planReinvite, type ReinvitePlan } from './reinvite-plan.ts';
import type { DialogUpdate } from './request.ts';

/** The offer/answer state of a dialog that the recording depends on. */
export interface DialogMedia {
  /** The metadata as merged from every version so far. */
  metadata: RecordingMetadata | undefined;
  /** The latest offer. */
  offer: OfferedStream[];
}

/** The policy as the server is given it. */
export type DecideFn = (facts: CallFacts, event: 'new-session' | 'metadata-update') => Decision;

/** Caller, callee and their stream labels from the metadata and the offer's audio labels. */
export function partiesOf(metadata: RecordingMetadata | undefined, offer: readonly OfferedStream[]): CallParties {
  const p = resolveParties(metadata, offer.filter((o) => o.mediaType === 'audio').map((o) => o.label));
  const info = (x: Participant | undefined): PartyInfo => ({ number: x?.number ?? '', name: x?.name ?? '', aor: x?.aor ?? '' });
  return {
    caller: info(p.caller), callee: info(p.callee), callerLabel: p.callerLabel, calleeLabel: p.calleeLabel,
    participants: (metadata?.participants ?? []).map(info), callerBy: p.source, channelsBy: p.labelSource,
    direction: metadata?.direction, siprecSessionId: metadata?.sessionId,
  };
}

/** The facts the policy decides from (`decide()`), at `atMs`. */
export function callFactsOf(callId: string, metadata: RecordingMetadata | undefined, parties: CallParties, atMs: number): CallFacts {
  return {
    callId, caller: parties.caller.aor || parties.caller.number, callee: parties.callee.aor || parties.callee.number,
    diversions: metadata?.diversions ?? [], directionHint: metadata?.direction, atMs,
  };
}

/** What the Recorder opens for an offered stream, or undefined when it cannot be recorded. */
export function streamSpecOf(o: OfferedStream): StreamSpec | undefined {
  if (o.refused !== undefined || !o.codec || o.payloadType === undefined) return undefined;
  return {
    label: o.label, codec: o.codec.name, payloadType: o.payloadType, dtmfPayloadType: o.dtmfPayloadType, srtpCrypto: o.crypto?.value,
    // RFC 4568 section 6.1: each side sends its own key; callseal never sends, but answers with one.
    localCrypto: o.crypto ? newLocalCrypto(o.crypto.tag, o.crypto.suite) : undefined,
    remote: o.address ? { address: o.address, port: o.port } : undefined,
  };
}

/** A stream answered with port 0. */
export function refusedAnswer(offer: OfferedStream): AnsweredStream {
  return { offer, localPort: 0, localCrypto: undefined };
}

/** A stream answered on its leg, or refused without one. */
export function answerOf(offer: OfferedStream, leg: RecorderLeg | undefined): AnsweredStream {
  return leg ? { offer, localPort: leg.port, localCrypto: leg.localCrypto } : refusedAnswer(offer);
}

/** Each stream answered on the open leg of its label (an offerless re-INVITE offers them again). */
export function answersFromLegs(offer: readonly OfferedStream[], legs: readonly RecorderLeg[]): AnsweredStream[] {
  return offer.map((o) => answerOf(o, legs.find((l) => l.label === o.label)));
}

/** Starts recording the streams of `offer`; returns them answered (refused ones with port 0). */
export async function startRecording(recorder: Recorder, offer: readonly OfferedStream[], log: Logger): Promise<AnsweredStream[]> {
  const specs = offer.map((o) => {
    const spec = streamSpecOf(o);
    if (!spec && o.port !== 0 && recorder.wants(o.label)) log.info({ callId: recorder.callId, label: o.label, reason: o.refused }, 'stream refused');
    return spec;
  });
  const legs = await recorder.start(specs);
  return offer.map((o, i) => answerOf(o, legs[i]));
}

/**
 * Follows a re-INVITE or UPDATE: a metadata version is kept and the policy asked again (a transfer
 * can bring a call into or out of scope), then the streams are planned against the open legs.
 * Returns the streams to answer, or undefined for an answer without SDP.
 */
export async function followUpdate(recorder: Recorder, dialog: DialogMedia, update: DialogUpdate, decide: DecideFn, nowMs: number, log: Logger): Promise<AnsweredStream[] | undefined> {
  const r = recorder;
  const setOffer = (offer: OfferedStream[]): void => {
    dialog.offer = offer;
    r.setParties(partiesOf(dialog.metadata, offer));
  };
  if (update.metadata && update.metadataRaw) {
    dialog.metadata = mergeMetadata(dialog.metadata, update.metadata);
    r.setParties(partiesOf(dialog.metadata, dialog.offer));
    await r.addMetadata(update.metadataRaw);
    log.info({ callId: r.callId, version: r.metadataVersions, mode: update.metadata.dataMode }, 'recording metadata updated');
    const before = r.decision;
    r.setDecision(decide(callFactsOf(r.callId, dialog.metadata, r.parties, nowMs), 'metadata-update'));
    if (before.record && !r.decision.record && r.recording) {
      await r.stop(`no longer in scope after a metadata update: ${r.decision.reason}`);
    } else if (!r.recording && r.decision.record && !r.stopped) {
      setOffer(update.offer ?? dialog.offer);
      return startRecording(r, dialog.offer, log);
    }
  }
  if (!r.recording) {
    // Not recording: every stream stays declined.
    setOffer(update.offer ?? dialog.offer);
    return dialog.offer.map(refusedAnswer);
  }
  let answered: AnsweredStream[] | undefined;
  if (update.offer) {
    answered = await applyPlan(r, planReinvite(r.legs(), update.offer, (label) => r.wants(label)), log);
    setOffer(update.offer);
  } else if (update.offerless) answered = answersFromLegs(dialog.offer, r.legs());
  await r.saveState();
  return answered;
}

/** Carries out a re-INVITE plan on the Recorder; returns the answered streams in the offer's order. */
export async function applyPlan(recorder: Recorder, plan: ReinvitePlan, log: Logger): Promise<AnsweredStream[]> {
  const answered: AnsweredStream[] = [];
  for (const s of plan.streams) {
    switch (s.action) {
      case 'update':
        // A leg gone meanwhile (a DTMF stop) is answered refused.
        answered.push(answerOf(s.offer, recorder.updateLeg(s.leg.label, s.change)));
        break;
      case 'close':
        await recorder.closeLeg(s.leg.label);
        answered.push(refusedAnswer(s.offer));
        break;
      case 'reopen':
        log.info({ callId: recorder.callId, label: s.leg.label, from: s.leg.codec, to: s.offer.codec?.name }, 'codec changed; the stream continues in a new file');
        await recorder.closeLeg(s.leg.label);
        answered.push(await addLeg(recorder, s.offer));
        break;
      case 'add':
        answered.push(await addLeg(recorder, s.offer));
        break;
      case 'refuse':
        answered.push(refusedAnswer(s.offer));
        break;
    }
  }
  for (const leg of plan.removed) await recorder.closeLeg(leg.label);
  return answered;
}

async function addLeg(recorder: Recorder, offer: OfferedStream): Promise<AnsweredStream> {
  const spec = streamSpecOf(offer);
  return answerOf(offer, spec ? await recorder.addLeg(spec) : undefined);
}
