/**
 * What a re-INVITE or UPDATE does to each stream of a running recording, decided from the open
 * legs and the new offer alone. A stream that keeps its codec keeps its file and gets a
 * `LegChange` (payload types, SRTP key, source address); a hold offered in other codecs keeps the
 * file in its codec, since no media flows and the resume offers the codec again (Metaswitch holds
 * with `c=0.0.0.0` offering `0 8` after G.729); a real codec change closes the file and goes on in
 * a new one (B2: never transcode, never write one codec's bytes as another's); a refused stream
 * closes its leg; a new label opens a leg if its party is recorded (B1); a label no longer offered
 * closes. Pure: no I/O, no Recorder.
 */
import type { LegChange } from '../media/index.ts';
import type { RecorderLeg } from '../recording/index.ts';
import type { OfferedStream } from './sdp.ts';

/** What happens to one offered stream. */
export type StreamPlan =
  /** The leg goes on in its file; `held` when the stream is on hold in another codec. */
  | { readonly action: 'update'; readonly offer: OfferedStream; readonly leg: RecorderLeg; readonly change: LegChange; readonly held: boolean }
  /** The stream is refused now (or offers nothing recordable): its leg closes, the answer has port 0. */
  | { readonly action: 'close'; readonly offer: OfferedStream; readonly leg: RecorderLeg }
  /** The codec changed: the leg's file closes and the stream goes on in a new leg and file. */
  | { readonly action: 'reopen'; readonly offer: OfferedStream; readonly leg: RecorderLeg }
  /** A stream with no open leg that is recorded: a new leg on a port of its own. */
  | { readonly action: 'add'; readonly offer: OfferedStream }
  /** Answered with port 0: refused by the offer's terms, or its party is not recorded (B1). */
  | { readonly action: 'refuse'; readonly offer: OfferedStream; readonly why: 'not-recordable' | 'party-not-recorded' };

/** The plan of one re-INVITE or UPDATE. */
export interface ReinvitePlan {
  /** One entry per offered stream, in the offer's order. */
  readonly streams: readonly StreamPlan[];
  /** Open legs whose label the offer no longer carries: closed. */
  readonly removed: readonly RecorderLeg[];
}

/** Whether an offered stream can be recorded at all. */
function recordable(o: OfferedStream): boolean {
  return o.refused === undefined && o.codec !== undefined && o.payloadType !== undefined;
}

/**
 * Plans a re-INVITE or UPDATE of a recording: `legs` are its open legs, `offer` the new offer
 * (after `parseOffer` kept each open leg's codec where it is still offered), `wants` whether a
 * label's party is recorded under the decision's channels.
 */
export function planReinvite(legs: readonly RecorderLeg[], offer: readonly OfferedStream[], wants: (label: string) => boolean): ReinvitePlan {
  const streams = offer.map((o): StreamPlan => {
    const leg = legs.find((l) => l.label === o.label);
    if (!leg) {
      if (!recordable(o)) return { action: 'refuse', offer: o, why: 'not-recordable' };
      return wants(o.label) ? { action: 'add', offer: o } : { action: 'refuse', offer: o, why: 'party-not-recorded' };
    }
    if (!recordable(o) || !o.codec) return { action: 'close', offer: o, leg };
    const held = o.paused && o.codec.name !== leg.codec;
    if (!held && o.codec.name !== leg.codec) return wants(o.label) ? { action: 'reopen', offer: o, leg } : { action: 'close', offer: o, leg };
    const change: LegChange = {};
    // On hold in another codec the leg keeps its payload type: its file stays in its codec.
    if (!held && o.payloadType !== undefined) change.audioPayloadType = o.payloadType;
    if (o.address) {
      change.remoteAddress = o.address;
      change.remotePort = o.port;
    }
    if (o.dtmfPayloadType !== undefined) change.dtmfPayloadType = o.dtmfPayloadType;
    if (o.crypto && o.crypto.value !== leg.crypto) change.srtpCrypto = o.crypto.value;
    return { action: 'update', offer: o, leg, change, held };
  });
  const offered = new Set(offer.map((o) => o.label));
  return { streams, removed: legs.filter((l) => !offered.has(l.label)) };
}
