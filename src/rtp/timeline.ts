/**
 * Places the packets of one recorded stream on the recording's wall-clock timeline (B7) and counts
 * what arrived (B9). Input: parsed RTP packets with their arrival time. Output: an ordered list of
 * writes (audio bytes or a run of codec silence) that, appended to a file, keep the stream aligned
 * with the wall clock from the start of the recording. Does no I/O: `push(packet, nowMs) -> writes`.
 *
 * Rules:
 * - Position of a packet = anchor position + (RTP timestamp - anchor timestamp). The anchor is set
 *   from the wall clock at the first packet and at every SSRC change; until a packet of the SSRC is
 *   written, one placed after its own arrival moves it earlier (the first was read from a backlog).
 *   Re-anchoring never moves backwards over what is written.
 * - Drift = timestamp position minus wall-clock position at processing. Re-anchor to the wall clock
 *   at once when it exceeds `maxDriftMs` ahead, when a packet ahead would be clipped where the wall
 *   clock or the end of the file leaves room (else a stream 200 ms to 1 s ahead loses every packet),
 *   or when timestamps went back behind the file by more than the reorder window.
 * - Behind by more than `maxDriftMs` but not behind the file: a pause (hold without timestamp
 *   advance) or a worker stall whose backlog is now read. Packets stay placed by timestamp (behind
 *   the clock, so safe); from the first packet behind, the media seen and the least lateness seen
 *   (delays only add lateness) tell them apart: catch-up while the least lateness shrank by more
 *   than `CATCH_UP_SHARE` of the media, real time otherwise. First verdict after `PACE_SPAN_MS` of
 *   media, with the packets held until then; real time moves them forward by the least lateness
 *   (the pause becomes silence). After catch-up, judged on every packet until the drift is within
 *   `maxDriftMs` or real time re-anchors. No verdict from the clock alone (after a stall the drain
 *   tick runs before the backlog is read). The rule leans to catch-up: taken for real time, a
 *   backlog is lost to the wall-clock bound; a pause taken for catch-up only places audio early.
 * - Packets wait in a small reorder window (`reorderMs`); a packet whose place was already
 *   written is late and counted, not written. Duplicates are counted and dropped.
 * - Gaps (loss, silence suppression, hold) become codec silence.
 * - The wall clock bounds the timeline (invariant 4): nothing is written past the wall-clock
 *   position of a packet's arrival plus `maxAheadMs`, whatever its SSRC, timestamp or size says,
 *   and `finish` cuts what ran ahead past the end. Audio beyond either bound is counted in
 *   `clippedBytes`, not kept; a payload longer than `maxPacketMs` of audio for the codec is
 *   counted as `oversized` and not written at all. So a sender that changes SSRC on every packet,
 *   jumps its timestamps or sends 65,000-byte payloads cannot make a file longer than its call.
 * - Work per packet is constant: per-SSRC counts are kept as running sums, one sequence window is
 *   reused, and at most `MAX_PENDING` packets wait in the reorder window.
 */
import { seqDelta, tsDelta } from './packet.ts';
import { emptyStats, type StreamStats } from './stats.ts';

export { emptyStats, type StreamStats } from './stats.ts';

/** One append to the leg's audio file. */
export type TimelineWrite =
  | { readonly kind: 'audio'; readonly bytes: Buffer }
  | { readonly kind: 'silence'; readonly count: number }
  /** Cut the file back to `length` bytes: audio that ran ahead past the end of the call. */
  | { readonly kind: 'truncate'; readonly length: number };

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
  /**
   * How far ahead of the wall clock a packet's audio may end: one packet time plus network jitter
   * (the first packet, which anchors the stream, may itself have been delayed).
   */
  readonly maxAheadMs?: number;
  /** Longest packet time accepted; a longer payload is counted as oversized (RFC 3551 section 4.2). */
  readonly maxPacketMs?: number;
}

interface Pending {
  /** Moves when the anchor is corrected: a pause found (see {@link Behind}), a delayed first packet. */
  pos: number;
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
  /** The file length when this SSRC began: while it is unchanged, nothing of the SSRC is written. */
  readonly startCursor: number;
}

/** A stream whose timestamp position fell more than `maxDriftMs` behind the wall clock. */
interface Behind {
  /** Extended timestamp, position, arrival and lateness (wall-clock minus timestamp position) of the first packet behind. */
  readonly ts: number;
  readonly pos: number;
  readonly atMs: number;
  readonly firstLate: number;
  /** The least lateness seen since: the packet processed closest to its time. */
  minLate: number;
  /** Media seen since the first packet, in ticks (highest timestamp minus `ts`). */
  mediaTicks: number;
  /** Until the first verdict, packets from `pos` on stay in the reorder window. */
  holding: boolean;
}

/** Media after which the pace of a stream behind the wall clock is first judged. */
export const PACE_SPAN_MS = 200;
/** Catch-up: the least lateness shrank by more than this share of the media (1.11x real time). */
export const CATCH_UP_SHARE = 0.1;

const SEEN_WINDOW = 1024;
const SEEN_EMPTY = -2147483648;
/** Packets held in the reorder window at most; beyond it the oldest is released at once. */
export const MAX_PENDING = 64;

/** The timeline core for one stream. */
export class Timeline {
  readonly stats: StreamStats = emptyStats();
  readonly #opts: Required<TimelineOptions>;
  /** Ticks written so far. */
  #cursor = 0;
  #pending: Pending[] = [];
  #ssrc: SsrcState | undefined;
  /** Sums over the SSRCs seen before the current one (running, so per-packet work stays constant). */
  #closedExpected = 0;
  #closedReceived = 0;
  /** Extended sequence numbers seen recently, of the current SSRC only. */
  readonly #seen = new Int32Array(SEEN_WINDOW).fill(SEEN_EMPTY);
  readonly #maxPayloadBytes: number;
  /** How far behind what is written a packet is late rather than a clock gone back: the reorder window. */
  readonly #lateBytes: number;
  #behind: Behind | undefined;

  constructor(options: TimelineOptions) {
    this.#opts = { reorderMs: 60, maxDriftMs: 1000, maxAheadMs: 200, maxPacketMs: 200, ...options };
    this.#maxPayloadBytes = Math.ceil((this.#opts.maxPacketMs * this.#opts.clockRateHz * this.#opts.bytesPerTick) / 1000);
    this.#lateBytes = Math.ceil((this.#opts.reorderMs * this.#opts.clockRateHz * this.#opts.bytesPerTick) / 1000);
  }

  /** Per-SSRC records kept: one at most, however many SSRCs were seen (constant work per packet). */
  get retainedSsrcStates(): number {
    return this.#ssrc ? 1 : 0;
  }

  /** Packets waiting in the reorder window (at most {@link MAX_PENDING}). */
  get pendingPackets(): number {
    return this.#pending.length;
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
        this.#judge();
        this.#behind = undefined;
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
    if (this.#seen[slot] === extSeq) {
      stats.duplicated++;
      return writes;
    }
    this.#seen[slot] = extSeq;
    st.received++;
    stats.received++;
    if (extSeq > st.extHighestSeq) st.extHighestSeq = extSeq;
    if (extSeq < st.baseSeq) st.baseSeq = extSeq;
    this.#updateCounts(st);

    st.extTs += tsDelta(packet.timestamp, st.lastTs);
    st.lastTs = packet.timestamp;
    let pos = st.anchorPos + (st.extTs - st.anchorTs) * this.#opts.bytesPerTick;
    const wall = this.#wallPos(nowMs) * this.#opts.bytesPerTick;
    if (pos > wall && this.#cursor === st.startCursor) pos -= this.#anchorEarlier(st, pos - wall);
    const drift = ((pos - wall) / this.#opts.bytesPerTick / this.#opts.clockRateHz) * 1000;
    const bytes = Math.min(packet.payload.length, this.#maxPayloadBytes);
    const clipped = pos + bytes > this.#wallPos(nowMs + this.#opts.maxAheadMs) * this.#opts.bytesPerTick && Math.max(wall, this.#cursor) < pos;
    if (drift > this.#opts.maxDriftMs || clipped || (drift < -this.#opts.maxDriftMs && pos < this.#cursor - this.#lateBytes)) {
      // Timestamps ahead of the wall clock (or far enough to be clipped where there is room) or gone
      // back over the file: a restarted clock.
      pos = this.#reanchor(st, wall, writes);
    } else if (drift < -this.#opts.maxDriftMs) {
      pos = this.#fellBehind(st, pos, wall, nowMs, writes);
    } else {
      // Within the drift again: a backlog has been read.
      this.#behind = undefined;
    }
    if (packet.payload.length > this.#maxPayloadBytes) {
      // More audio than one packet can carry for this codec: not minutes of audio, a count.
      stats.oversized++;
      this.#release(nowMs - this.#opts.reorderMs, writes);
      return writes;
    }
    this.#insert({ pos, seq: extSeq, arrivalMs: nowMs, payload: packet.payload }, writes);
    this.#release(nowMs - this.#opts.reorderMs, writes);
    return writes;
  }

  /**
   * A packet placed after its own arrival shows that the one that anchored the SSRC was delayed
   * (read from a backlog as the stream began): while nothing of the SSRC is written, its packets
   * move earlier by up to `by`, never over the file. Returns how far they moved.
   */
  #anchorEarlier(st: SsrcState, by: number): number {
    const back = Math.min(by, (this.#pending[0]?.pos ?? st.anchorPos) - this.#cursor);
    if (back <= 0) return 0;
    for (const p of this.#pending) p.pos -= back;
    st.anchorPos -= back;
    return back;
  }

  /** Anchors the stream at `target` (or the end of the file) from this packet on; returns its position. */
  #reanchor(st: SsrcState, target: number, writes: TimelineWrite[]): number {
    this.stats.reanchors++;
    this.#behind = undefined;
    this.#release(Infinity, writes);
    st.anchorTs = st.extTs;
    st.anchorPos = Math.max(target, this.#cursor);
    return st.anchorPos;
  }

  /** A packet more than `maxDriftMs` behind the wall clock and not behind the file: returns its position. */
  #fellBehind(st: SsrcState, pos: number, wall: number, nowMs: number, writes: TimelineWrite[]): number {
    const b = this.#behind;
    if (!b) {
      // Only a packet that extends the file starts a measurement; one whose place is written is late.
      if (pos >= this.#cursor) this.#behind = { ts: st.extTs, pos, atMs: nowMs, firstLate: wall - pos, minLate: wall - pos, mediaTicks: 0, holding: true };
      return pos;
    }
    b.mediaTicks = Math.max(b.mediaTicks, st.extTs - b.ts);
    b.minLate = Math.min(b.minLate, wall - pos);
    if (b.holding) {
      if (b.mediaTicks * 1000 < PACE_SPAN_MS * this.#opts.clockRateHz) return pos;
      const shift = this.#judge();
      return pos >= b.pos ? pos + shift : pos;
    }
    // After a first verdict of catch-up, judged again on every packet from the same first packet;
    // real time re-anchors here, no later than the packet that came closest to its time allows.
    return this.#realTime(b) ? this.#reanchor(st, pos + b.minLate, writes) : pos;
  }

  /** True unless the lateness of `b` has shrunk by more than {@link CATCH_UP_SHARE} of its media. */
  #realTime(b: Behind): boolean {
    return b.firstLate - b.minLate <= CATCH_UP_SHARE * b.mediaTicks * this.#opts.bytesPerTick;
  }

  /**
   * The first verdict on a stream behind the wall clock. Real time: the held packets move forward
   * by the least lateness seen, so none lies past its arrival and the pause becomes silence.
   * Returns how far they moved (0 for catch-up).
   */
  #judge(): number {
    const b = this.#behind;
    const st = this.#ssrc;
    if (!b?.holding || !st) return 0;
    if (!this.#realTime(b)) {
      b.holding = false;
      return 0;
    }
    this.#behind = undefined;
    this.stats.reanchors++;
    const shift = b.minLate;
    for (const p of this.#pending) if (p.pos >= b.pos) p.pos += shift;
    st.anchorPos += shift;
    return shift;
  }

  #newSsrc(packet: { readonly ssrc: number; readonly sequenceNumber: number; readonly timestamp: number }, nowMs: number): SsrcState {
    const pos = Math.max(this.#wallPos(nowMs) * this.#opts.bytesPerTick, this.#cursor);
    this.#seen.fill(SEEN_EMPTY);
    return {
      ssrc: packet.ssrc, anchorTs: packet.timestamp, anchorPos: pos, lastTs: packet.timestamp, extTs: packet.timestamp,
      baseSeq: packet.sequenceNumber, extHighestSeq: packet.sequenceNumber, received: 0, startCursor: this.#cursor,
    };
  }

  #retire(st: SsrcState): void {
    this.#closedExpected += st.extHighestSeq - st.baseSeq + 1;
    this.#closedReceived += st.received;
  }

  #updateCounts(st: SsrcState): void {
    const expected = this.#closedExpected + st.extHighestSeq - st.baseSeq + 1;
    this.stats.expected = expected;
    this.stats.lost = Math.max(0, expected - (this.#closedReceived + st.received));
  }

  #insert(p: Pending, writes: TimelineWrite[]): void {
    const list = this.#pending;
    if (list.length >= MAX_PENDING) {
      // A flood within the reorder window: release the oldest now, so the list stays short.
      const oldest = list.shift();
      if (oldest) this.#write(oldest, writes);
    }
    let i = list.length;
    while (i > 0 && (list[i - 1]?.pos ?? 0) > p.pos) i--;
    list.splice(i, 0, p);
  }

  /**
   * Releases pending packets that arrived before `beforeMs` (and everything before them in order),
   * except those waiting for the first verdict on a stream behind the wall clock.
   */
  #release(beforeMs: number, writes: TimelineWrite[]): void {
    const list = this.#pending;
    const heldFrom = this.#behind?.holding ? this.#behind.pos : Infinity;
    let lastIndex = -1;
    for (let i = 0; i < list.length && (list[i]?.pos ?? 0) < heldFrom; i++) if ((list[i]?.arrivalMs ?? 0) <= beforeMs) lastIndex = i;
    if (lastIndex < 0) return;
    for (const p of list.splice(0, lastIndex + 1)) this.#write(p, writes);
  }

  #write(p: Pending, writes: TimelineWrite[]): void {
    let payload = p.payload;
    let pos = p.pos;
    // Invariant 4: the wall clock at arrival (plus the jitter allowance) bounds what is written.
    const limit = this.#wallPos(p.arrivalMs + this.#opts.maxAheadMs) * this.#opts.bytesPerTick;
    if (pos + payload.length > limit) {
      const keep = Math.max(0, limit - pos);
      this.stats.clippedBytes += payload.length - keep;
      if (keep === 0) return;
      payload = payload.subarray(0, keep);
    }
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
    const b = this.#behind;
    // No verdict from the clock alone: after a stall this tick runs before the backlog is read.
    // Packets held for a whole maxDriftMs without enough media are written where their timestamps say.
    if (b?.holding && nowMs - b.atMs >= this.#opts.maxDriftMs) b.holding = false;
    this.#release(nowMs - this.#opts.reorderMs, writes);
    return writes;
  }

  /**
   * Releases everything and pads with silence up to the wall-clock time `endMs`; audio that ran
   * ahead of the clock past `endMs` (at most `maxAheadMs`) is cut, so no file is longer than its call.
   */
  finish(endMs: number): TimelineWrite[] {
    const writes: TimelineWrite[] = [];
    this.#judge();
    this.#behind = undefined;
    this.#release(Infinity, writes);
    const end = this.#wallPos(endMs) * this.#opts.bytesPerTick;
    if (end < this.#cursor) {
      writes.push({ kind: 'truncate', length: end });
      this.stats.clippedBytes += this.#cursor - end;
      this.#cursor = end;
    }
    if (end > this.#cursor) {
      writes.push({ kind: 'silence', count: end - this.#cursor });
      this.stats.silenceBytes += end - this.#cursor;
      this.#cursor = end;
    }
    return writes;
  }
}
