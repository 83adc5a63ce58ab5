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
  /**
   * Records what one side of a relay sends instead of binding a port (in-line mode, docs/inline.md):
   * `host`, `port`, `srtpCrypto`, `remoteAddress` and `remotePort` are then ignored, and the leg is
   * fed the packets the relay accepted from `side` (after the source check and SRTP). The leg opens
   * in the relay's worker. With `includePrompts` (the default) a prompt that callseal plays to the
   * other side replaces what `side` sends in the leg as it does in the call, so the leg holds the
   * direction as the other party heard it.
   */
  readonly tap?: LegTap;
}

/** What a tap leg records: the packets one side of a relay sends. */
export interface LegTap {
  readonly relayId: string;
  readonly side: RelaySideName;
  /** Whether prompts played to the other side replace `side`'s packets in the leg; default true. */
  readonly includePrompts?: boolean;
}

/** The two sides of a relayed call. */
export type RelaySideName = 'a' | 'b';

/** One side of a relayed call: the peer's media address from its SDP; SRTP keys when that side is SRTP. */
export interface RelaySide {
  /** The peer's media address from its SDP `c=`; unknown until its SDP arrives (nothing is sent or accepted until then). */
  readonly remoteHost?: string;
  /** The peer's media port from its SDP `m=`. */
  readonly remotePort?: number;
  /**
   * SDES `a=crypto` values (RFC 4568): `receive` is the peer's (decrypts what it sends), `send` is
   * callseal's own for this side (encrypts what callseal sends it; see `newSdesCrypto`).
   */
  readonly srtp?: RelaySrtp;
  /** The RFC 4733 telephone-event payload type this side sends; without it no `relayDtmf` is raised for the side. */
  readonly dtmfPayloadType?: number;
}

/** SDES keys of one SRTP side. */
export interface RelaySrtp {
  readonly receive: string;
  readonly send: string;
}

/** A change to one side of an open relay: fields given replace the old ones; `srtp: null` makes the side plain RTP. */
export interface RelaySideChange {
  readonly remoteHost?: string;
  readonly remotePort?: number;
  readonly srtp?: RelaySrtp | null;
  readonly dtmfPayloadType?: number;
}

/** What a worker needs to relay one call. */
export interface RelaySpec {
  readonly relayId: string;
  readonly a: RelaySide;
  readonly b: RelaySide;
}

/** The relay's sockets, as the worker binds them (the engine fills in host, ports and source check). */
export interface RelayBinding extends RelaySpec {
  readonly host: string;
  readonly aPort: number;
  readonly bPort: number;
  readonly sourceCheck: SourceCheck;
}

/** Packet counts of one side of a relay. */
export interface RelaySideCounts {
  /** Datagrams that reached callseal's socket facing the side. */
  received: number;
  /** Packets from the side forwarded to the other side. */
  forwarded: number;
  /** Packets from an address other than the side's negotiated one (or before it was known): dropped. */
  foreignSource: number;
  authFailures: number;
  malformed: number;
  /** RTCP packets on the RTP port (RFC 5761 multiplexing): not relayed. */
  rtcp: number;
  /** Valid packets not forwarded: the other side's address not known yet, or a prompt playing to it. */
  notForwarded: number;
  /** Prompt packets callseal sent to the side. */
  promptPackets: number;
  /** Packets callseal could not send to the side (a socket error). */
  sendErrors: number;
  /** Wall-clock time of the last valid packet from the side, or 0. */
  lastPacketAtMs: number;
}

/** The result of closing a relay. */
export interface RelayResult {
  readonly a: RelaySideCounts;
  readonly b: RelaySideCounts;
  /** Set when the relay's worker failed: the counts are the last ones reported. */
  readonly workerFailed?: string;
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
  | { readonly op: 'relayOpen'; readonly binding: RelayBinding }
  | { readonly op: 'relayUpdate'; readonly relayId: string; readonly side: RelaySideName; readonly change: RelaySideChange }
  /** The frames travel as one buffer and their lengths (a clone of a view would copy the whole buffer behind it). */
  | { readonly op: 'relayPlay'; readonly relayId: string; readonly playId: number; readonly toSide: RelaySideName; readonly frames: Uint8Array; readonly frameLengths: readonly number[]; readonly payloadType: number; readonly ptimeMs: number; readonly clockRateHz: number }
  | { readonly op: 'relayClose'; readonly relayId: string }
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
  | { readonly op: 'activity'; readonly legs: readonly (readonly [legId: string, lastPacketAtMs: number, received: number, lost: number])[] }
  | { readonly op: 'relayOpened'; readonly relayId: string; readonly error?: string }
  | { readonly op: 'relayClosed'; readonly relayId: string; readonly result?: RelayResult }
  | { readonly op: 'relayPlayed'; readonly relayId: string; readonly playId: number; readonly sent: number }
  | { readonly op: 'relayDtmf'; readonly relayId: string; readonly fromSide: RelaySideName; readonly digit: string; readonly atMs: number }
  | { readonly op: 'relayActivity'; readonly relays: readonly (readonly [relayId: string, result: RelayResult])[] };

/** The result of closing a leg. */
export interface LegResult {
  readonly stats: StreamStats;
  readonly dataBytes: number;
  readonly dtmf: readonly DtmfEvent[];
}
