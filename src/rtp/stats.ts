/**
 * Packet statistics of one recorded stream (B9), kept by the timeline and written to the stream's
 * stats file and `_info.txt`. Plain data, no I/O.
 */

/** Packet statistics of one stream (B9): the evidence of completeness. */
export interface StreamStats {
  /** Packets the sequence numbers say were sent (RFC 3550 appendix A.3), summed over SSRCs. */
  expected: number;
  received: number;
  lost: number;
  late: number;
  duplicated: number;
  malformed: number;
  authFailures: number;
  /** Packets of other payload types (telephone-event, comfort noise, unexpected codecs). */
  otherPayload: number;
  ssrcChanges: number;
  reanchors: number;
  /** Packets from a source address other than the negotiated one: counted, never written (invariant 4). */
  foreignSource: number;
  /** Packets whose payload is longer than the codec allows for one packet: counted, never written. */
  oversized: number;
  /** Audio bytes not written because they would have run past the wall clock. */
  clippedBytes: number;
  /** Bytes of silence inserted for gaps. */
  silenceBytes: number;
  audioBytes: number;
  firstPacketAtMs: number | undefined;
  lastPacketAtMs: number | undefined;
}

/** A new, zeroed statistics record. */
export function emptyStats(): StreamStats {
  return {
    expected: 0, received: 0, lost: 0, late: 0, duplicated: 0, malformed: 0, authFailures: 0, otherPayload: 0,
    ssrcChanges: 0, reanchors: 0, foreignSource: 0, oversized: 0, clippedBytes: 0, silenceBytes: 0, audioBytes: 0, firstPacketAtMs: undefined, lastPacketAtMs: undefined,
  };
}
