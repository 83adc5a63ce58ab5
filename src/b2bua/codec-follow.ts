/**
 * The recording legs of an in-line call follow the codec of the call's answers (RFC 3264): the
 * legs open with the first recordable codec of the caller's offer, and an answer (183, 200, or
 * the answer to a re-INVITE or UPDATE) whose first recordable codec is another closes both legs
 * and opens them again in the new codec; each leg goes on in a new file of the same recording,
 * as a SIPREC leg does whose codec a re-INVITE changes. Both ends send the answer's first codec
 * (the offerer picks from the answer, the answerer answers with what it will send).
 */
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { codecByName, codecByStaticType } from '../media/index.ts';
import type { Recorder, StreamSpec } from '../recording/index.ts';
import type { LegSide } from './media-path.ts';
import { sdpAudioCodec, type SdpAudioCodec } from './sdp-rewrite.ts';

/** The codec name of a payload type when callseal records it. */
export function knownCodec(name: string, payloadType: number): string | undefined {
  return (name !== '' ? codecByName(name) : undefined)?.name ?? (payloadType < 96 ? codecByStaticType(payloadType)?.name : undefined);
}

/** The recording legs of one call, by label and relay side. */
export interface FollowedLeg {
  readonly label: string;
  readonly side: LegSide;
}

/** Re-opens a call's tap legs when an answer changes the codec. */
export class CodecFollower {
  readonly #recorder: Recorder;
  readonly #legs: readonly FollowedLeg[];
  readonly #spec: (leg: FollowedLeg, codec: SdpAudioCodec) => StreamSpec;
  readonly #log: Logger;
  #codec: SdpAudioCodec;
  /** Changes are applied one after the other, in the order the answers came. */
  #queue: Promise<void> = Promise.resolve();

  constructor(recorder: Recorder, legs: readonly FollowedLeg[], first: SdpAudioCodec, spec: (leg: FollowedLeg, codec: SdpAudioCodec) => StreamSpec, log: Logger) {
    this.#recorder = recorder;
    this.#legs = legs;
    this.#codec = first;
    this.#spec = spec;
    this.#log = log;
  }

  /** The codec the legs record in (the last answer's). */
  get codec(): SdpAudioCodec {
    return this.#codec;
  }

  /**
   * An answer's SDP; resolves when the legs record in its codec. An SDP without a recordable codec
   * (a refused or held stream) changes nothing. Never rejects: a failure is logged.
   */
  answer(sdp: Buffer): Promise<void> {
    let next: SdpAudioCodec | undefined;
    try {
      next = sdpAudioCodec(sdp, knownCodec);
    } catch (err) {
      this.#log.info({ callId: this.#recorder.callId, err: errorMessage(err) }, 'answer SDP not read for the recording codec');
      return this.#queue;
    }
    if (!next || (next.codec === this.#codec.codec && next.payloadType === this.#codec.payloadType)) return this.#queue;
    const from = this.#codec;
    const to = next;
    this.#codec = to;
    this.#queue = this.#queue.then(async () => {
      if (!this.#recorder.recording) return;
      this.#log.info({ callId: this.#recorder.callId, from: from.codec, to: to.codec }, 'the answer changed the codec; the legs go on in new files');
      for (const leg of this.#legs) {
        await this.#recorder.closeLeg(leg.label);
        await this.#recorder.addLeg(this.#spec(leg, to));
      }
    }).catch((err: unknown) => {
      this.#log.error({ callId: this.#recorder.callId, err: errorMessage(err) }, 'the recording legs could not follow the codec');
    });
    return this.#queue;
  }
}
