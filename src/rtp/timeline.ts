/**
 * Places the packets of one recorded stream on the recording's wall-clock timeline (B7) and counts
 * what arrived (B9). Input: parsed RTP packets with their arrival time. Output: an ordered list of
 * writes (audio bytes or a run of codec silence) that, appended to a file, keep the stream aligned
 * with the wall clock from the start of the recording. Does no I/O: `push(packet, nowMs) -> writes`.
 *
 * Rules:
 * - Position of a packet = anchor position + (RTP timestamp - anchor timestamp). The anchor is set
 *   from the wall clock at the first packet, at every SSRC change, and whenever the timestamp
 *   position drifts from the wall clock by more than `maxDriftMs` (hold without timestamps, an SRC
 *   that restarts its clock). Re-anchoring never moves backwards over what is written.
 * - Packets wait in a small reorder window (`reorderMs`); a packet whose place was already
 *   written is late and counted, not written. Duplicates are counted and dropped.
 * - Gaps (loss, silence suppression, hold) become codec silence.
 */
import { seqDelta, tsDelta } from './packet.ts';

/** One append to the leg's audio file. */
export type TimelineWrite =
  | { readonly kind: 'audio'; readonly bytes: Buffer }
  | { readonly kind: 'silence'; readonly count: number };

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
    ssrcChanges: 0, reanchors: 0, silenceBytes: 0, audioBytes: 0, firstPacketAtMs: undefined, lastPacketAtMs: undefined,
  };
}

/** Options of {@link Timeline}. */
export interface TimelineOptions {
  /** Wall-clock time the recording (position 0) started. */
  readonly startMs: number;
  /** RTP clock rate of the codec, ticks per second. */
  readonly clockRateHz: number;
  /** File bytes per RTP tick (1 for G.711 and G.722). */
  readonly bytesPerTick: number;
  readonly reorderMs?: number;
  readonly maxDriftMs?: number;
}

interface Pending {
  readonly pos: number;
  readonly seq: number;
  readonly arrivalMs: number;
  readonly payload: Buffer;
}

interface SsrcState {
  readonly ssrc: number;
  anchorTs: number;
  anchorPos: number;
  lastTs: number;
  extTs: number;
  baseSeq: number;
  extHighestSeq: number;
  received: number;
  readonly seen: Int32Array;
}

const SEEN_WINDOW = 1024;

/** The timeline core for one stream. */
export class Timeline {
  readonly stats: StreamStats = emptyStats();
  readonly #opts: Required<TimelineOptions>;
  /** Ticks written so far. */
  #cursor = 0;
  #pending: Pending[] = [];
  #ssrc: SsrcState | undefined;
  readonly #closedSsrcs: { expected: number; received: number }[] = [];

  constructor(options: TimelineOptions) {
    this.#opts = { reorderMs: 60, maxDriftMs: 1000, ...options };
  }

  /** Ticks written so far (the file length in ticks). */
  get cursor(): number {
    return this.#cursor;
  }

  #wallPos(ms: number): number {
    return Math.max(0, Math.round(((ms - this.#opts.startMs) * this.#opts.clockRateHz) / 1000));
  }

  /** Adds one audio packet; returns the writes it releases. */
  push(packet: { readonly ssrc: number; readonly sequenceNumber: number; readonly timestamp: number; readonly payload: Buffer }, nowMs: number): TimelineWrite[] {
    const stats = this.stats;
    stats.firstPacketAtMs ??= nowMs;
    stats.lastPacketAtMs = nowMs;
    const writes: TimelineWrite[] = [];
    let st = this.#ssrc;
    if (st?.ssrc !== packet.ssrc) {
      if (st) {
        stats.ssrcChanges++;
        this.#retire(st);
        this.#release(Infinity, writes);
      }
      st = this.#newSsrc(packet, nowMs);
      this.#ssrc = st;
    }
    // Duplicates: the same extended sequence number seen within the window.
    const seqStep = seqDelta(packet.sequenceNumber, st.extHighestSeq & 0xffff);
    const extSeq = st.extHighestSeq + seqStep;
    const slot = ((extSeq % SEEN_WINDOW) + SEEN_WINDOW) % SEEN_WINDOW;
    if (st.seen[slot] === extSeq) {
      stats.duplicated++;
      return writes;
    }
    st.seen[slot] = extSeq;
    st.received++;
    stats.received++;
    if (extSeq > st.extHighestSeq) st.extHighestSeq = extSeq;
    if (extSeq < st.baseSeq) st.baseSeq = extSeq;
    this.#updateCounts();

    st.extTs += tsDelta(packet.timestamp, st.lastTs);
    st.lastTs = packet.timestamp;
    let pos = st.anchorPos + (st.extTs - st.anchorTs) * this.#opts.bytesPerTick;
    const wall = this.#wallPos(nowMs) * this.#opts.bytesPerTick;
    const drift = ((pos - wall) / this.#opts.bytesPerTick / this.#opts.clockRateHz) * 1000;
    if (Math.abs(drift) > this.#opts.maxDriftMs) {
      // Hold without timestamp advance, or a restarted clock: follow the wall clock again.
      stats.reanchors++;
      this.#release(Infinity, writes);
      st.anchorTs = st.extTs;
      st.anchorPos = Math.max(wall, this.#cursor);
      pos = st.anchorPos;
    }
    this.#insert({ pos, seq: extSeq, arrivalMs: nowMs, payload: packet.payload });
    this.#release(nowMs - this.#opts.reorderMs, writes);
    return writes;
  }

  #newSsrc(packet: { readonly ssrc: number; readonly sequenceNumber: number; readonly timestamp: number }, nowMs: number): SsrcState {
    const pos = Math.max(this.#wallPos(nowMs) * this.#opts.bytesPerTick, this.#cursor);
    return {
      ssrc: packet.ssrc, anchorTs: packet.timestamp, anchorPos: pos, lastTs: packet.timestamp, extTs: packet.timestamp,
      baseSeq: packet.sequenceNumber, extHighestSeq: packet.sequenceNumber, received: 0,
      seen: new Int32Array(SEEN_WINDOW).fill(-2147483648),
    };
  }

  #retire(st: SsrcState): void {
    this.#closedSsrcs.push({ expected: st.extHighestSeq - st.baseSeq + 1, received: st.received });
  }

  #updateCounts(): void {
    let expected = 0;
    let received = 0;
    for (const c of this.#closedSsrcs) {
      expected += c.expected;
      received += c.received;
    }
    if (this.#ssrc) {
      expected += this.#ssrc.extHighestSeq - this.#ssrc.baseSeq + 1;
      received += this.#ssrc.received;
    }
    this.stats.expected = expected;
    this.stats.lost = Math.max(0, expected - received);
  }

  #insert(p: Pending): void {
    const list = this.#pending;
    let i = list.length;
    while (i > 0 && (list[i - 1]?.pos ?? 0) > p.pos) i--;
    list.splice(i, 0, p);
  }

  /** Releases pending packets that arrived before `beforeMs` (and everything before them in order). */
  #release(beforeMs: number, writes: TimelineWrite[]): void {
    const list = this.#pending;
    let lastIndex = -1;
    for (let i = 0; i < list.length; i++) if ((list[i]?.arrivalMs ?? 0) <= beforeMs) lastIndex = i;
    if (lastIndex < 0) return;
    for (const p of list.splice(0, lastIndex + 1)) this.#write(p, writes);
  }

  #write(p: Pending, writes: TimelineWrite[]): void {
    let payload = p.payload;
    let pos = p.pos;
    if (pos < this.#cursor) {
      const overlap = this.#cursor - pos;
      if (overlap >= payload.length) {
        this.stats.late++;
        return;
      }
      payload = payload.subarray(overlap);
      pos = this.#cursor;
    }
    if (pos > this.#cursor) {
      const count = pos - this.#cursor;
      writes.push({ kind: 'silence', count });
      this.stats.silenceBytes += count;
      this.#cursor = pos;
    }
    writes.push({ kind: 'audio', bytes: payload });
    this.stats.audioBytes += payload.length;
    this.#cursor += payload.length;
  }

  /** Releases packets that waited longer than the reorder window; call from a periodic timer. */
  drain(nowMs: number): TimelineWrite[] {
    const writes: TimelineWrite[] = [];
    this.#release(nowMs - this.#opts.reorderMs, writes);
    return writes;
  }

  /** Releases everything and pads with silence up to the wall-clock time `endMs`. */
  finish(endMs: number): TimelineWrite[] {
    const writes: TimelineWrite[] = [];
    this.#release(Infinity, writes);
    const end = this.#wallPos(endMs) * this.#opts.bytesPerTick;
    if (end > this.#cursor) {
      writes.push({ kind: 'silence', count: end - this.#cursor });
      this.stats.silenceBytes += end - this.#cursor;
      this.#cursor = end;
    }
    return writes;
  }
}
