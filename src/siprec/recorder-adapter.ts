/**
 * Between a SIPREC dialog and its Recorder: the parties and the policy's `CallFacts` from the
 * rs-metadata and the offer, the Recorder's `StreamSpec` from an offered stream, answered streams
 * from the Recorder's legs, and a re-INVITE plan carried out on the Recorder. No SIP messages.
 */
import type { Logger } from '../common/log.ts';
import type { CallFacts } from '../policy/index.ts';
import type { CallParties, PartyInfo, Recorder, RecorderLeg, StreamSpec } from '../recording/index.ts';
import { resolveParties, type Participant, type RecordingMetadata } from './metadata.ts';
import { newLocalCrypto, type AnsweredStream, type OfferedStream } from './sdp.ts';
import type { ReinvitePlan } from './reinvite-plan.ts';

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
