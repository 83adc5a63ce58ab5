/**
 * The plain data a Recorder and its signalling pass each other: the parties of a call, the streams
 * to record, the open legs, the live view, and the Recorder's events. No behaviour.
 */
import type { LegChange, LegResult, LegSpec, LegTap } from '../media/index.ts';
import type { PartyInfo } from './info.ts';
import type { FinishedRecording } from './spool.ts';

/** What the Recorder uses of the media engine (`MediaEngine` is one). */
export interface RecorderMedia {
  readonly ports: { allocate(streams: number): number; release(basePort: number, streams: number): void };
  pickWorker(): number;
  openLeg(workerIndex: number, spec: LegSpec): Promise<void>;
  updateLeg(legId: string, change: LegChange): void;
  closeLeg(legId: string, endMs: number): Promise<LegResult>;
  activity(legId: string): { readonly lastPacketAtMs: number; readonly received: number; readonly lost: number } | undefined;
}

/** Who is on the call and which stream carries whose voice, as signalling resolved it. */
export interface CallParties {
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly callerLabel: string | undefined;
  readonly calleeLabel: string | undefined;
  readonly participants: readonly PartyInfo[];
  /** Which source decided who called, and which tied streams to parties (`_info.txt`). */
  readonly callerBy: string;
  readonly channelsBy: string;
  /** Direction as signalling states it; the policy's direction otherwise. */
  readonly direction: 'in' | 'out' | undefined;
  /** The SIPREC session id of the metadata, if any. */
  readonly siprecSessionId: string | undefined;
}

/** One stream to record, as negotiated. */
export interface StreamSpec {
  readonly label: string;
  /** Codec name (`codecs.ts`); the leg's file is written in it and never in another. */
  readonly codec: string;
  readonly payloadType: number;
  readonly dtmfPayloadType: number | undefined;
  /** The SRC's SDES key (`a=crypto` value) when the stream is SRTP. */
  readonly srtpCrypto: string | undefined;
  /** The key callseal answered with, kept so that a repeated answer carries the same one. */
  readonly localCrypto: string | undefined;
  /** The source the SDP names; media from elsewhere is not recorded (invariant 4). */
  readonly remote: { readonly address: string; readonly port: number } | undefined;
  /** In-line mode: the leg records what one side of a relay sends instead of binding a port (`LegSpec.tap`). */
  readonly tap?: LegTap | undefined;
}

/** An open leg, as signalling needs it to answer and to plan a re-INVITE. */
export interface RecorderLeg {
  readonly label: string;
  readonly codec: string;
  readonly payloadType: number;
  readonly crypto: string | undefined;
  readonly localCrypto: string | undefined;
  readonly port: number;
}

/** How a call reaches callseal: forked by an SRC (SIPREC), or through callseal in the SIP path (the in-line B2BUA). */
export type CallMode = 'siprec' | 'inline';

/** A call that had a recording ended (H8: `call.ended`). */
export interface CallEnded {
  readonly callId: string;
  readonly mode: CallMode;
  readonly reason: string;
  readonly endMs: number;
}

/** A live recording, as the live view shows it (H2). */
export interface LiveRecording {
  readonly id: string;
  readonly callId: string;
  readonly mode: CallMode;
  readonly startMs: number;
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly setting: string;
  readonly streams: number;
  /** RTP packets received and lost so far, over all open streams. */
  readonly packets: number;
  readonly lost: number;
}

/** Events of a {@link Recorder}. */
export interface RecorderEvents {
  /** A segment is recording and the call is answered. */
  started: [LiveRecording];
  /** A segment is finished in the recordings folder, ready for sealing. */
  recorded: [FinishedRecording];
  /** Finishing a segment failed; its spool is kept for recovery at the next start. */
  failed: [{ readonly callId: string; readonly error: string }];
  stoppedByDtmf: [{ readonly callId: string; readonly code: string; readonly role: string; readonly atMs: number }];
  /** No RTP on any leg and no SIP activity for the limit: the call should end. */
  timeout: [{ readonly idleMs: number }];
  /**
   * The recording cannot go on (a leg's file could not be written, its media worker failed): the
   * call should end visibly, telling the SRC `sipCause` (503 lets it move to another recorder).
   */
  unrecordable: [{ readonly kind: 'write-error' | 'worker-failed'; readonly reason: string; readonly sipCause: number }];
  /** `close` finished for a call that recorded at some point (after its last `recorded`). */
  ended: [CallEnded];
}
