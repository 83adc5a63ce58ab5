/**
 * Messages between the SIP thread and the media workers. Plain data only (structured clone).
 */
import type { SourceCheck, StreamStats } from '../rtp/index.ts';

/** What a worker needs to record one leg. */
export interface LegSpec {
  readonly legId: string;
  readonly host: string;
  readonly port: number;
  /** Codec name: PCMA, PCMU, G722, G729 or OPUS (see `codecs.ts`). */
  readonly codec: string;
  readonly audioPayloadType: number;
  readonly dtmfPayloadType?: number;
  /** The SRC's `a=crypto` value when the stream is SRTP. */
  readonly srtpCrypto?: string;
  /** Spool path of the leg; the worker replaces its extension by the codec's (`codecFilePath`). */
  readonly path: string;
  /** Wall-clock start of the recording: position 0 of every leg. */
  readonly startMs: number;
  readonly reorderMs: number;
  /** The SRC's media address from the SDP (`c=`); packets from elsewhere are counted, not written. */
  readonly remoteAddress?: string;
  /** The SRC's media port from the SDP (`m=`): a re-INVITE that changes it announces a new source port. */
  readonly remotePort?: number;
  /** How the accepted source is chosen (`rtp.sourceCheck`); the engine fills it in. */
  readonly sourceCheck?: SourceCheck;
}

/** What a re-INVITE can change in an open leg. */
export interface LegChange {
  audioPayloadType?: number;
  dtmfPayloadType?: number;
  srtpCrypto?: string;
  remoteAddress?: string;
  remotePort?: number;
}

/** A DTMF digit seen in a leg (RFC 4733). */
export interface DtmfEvent {
  readonly digit: string;
  readonly atMs: number;
}

/** SIP thread to worker. */
export type WorkerCommand =
  | { readonly op: 'open'; readonly spec: LegSpec }
  | { readonly op: 'update'; readonly legId: string; readonly change: LegChange }
  | { readonly op: 'close'; readonly legId: string; readonly endMs: number }
  | { readonly op: 'stop' };

/** Worker to SIP thread. */
export type WorkerEvent =
  | { readonly op: 'opened'; readonly legId: string; readonly error?: string }
  | { readonly op: 'closed'; readonly legId: string; readonly stats?: StreamStats; readonly dataBytes?: number; readonly dtmf?: readonly DtmfEvent[]; readonly error?: string }
  /** The leg's file could not be written: the leg stopped recording, its file is kept (invariant 3). */
  | { readonly op: 'failed'; readonly legId: string; readonly error: string; readonly code: 'CS_RECORDING_DISK_FULL' | 'CS_RECORDING_IO' }
  /** Something went wrong that does not stop the recording (the `.stats` file could not be written). */
  | { readonly op: 'warning'; readonly legId: string; readonly error: string }
  | { readonly op: 'dtmf'; readonly legId: string; readonly digit: string; readonly atMs: number }
  | { readonly op: 'activity'; readonly legs: readonly (readonly [legId: string, lastPacketAtMs: number, received: number, lost: number])[] };

/** The result of closing a leg. */
export interface LegResult {
  readonly stats: StreamStats;
  readonly dataBytes: number;
  readonly dtmf: readonly DtmfEvent[];
}
