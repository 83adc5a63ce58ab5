/**
 * The timeline core with plain arrays: ordering, loss, duplicates, lateness, wrap-around, SSRC
 * changes and hold all keep the stream on the wall clock (B7) and are counted (B9).
 */
import { describe, expect, it } from 'vitest';
import { Timeline, type TimelineWrite } from './timeline.ts';
import { seqDelta, uint16Gt, parseRtp, buildRtp } from './packet.ts';
import { ParseError } from '../common/errors.ts';

const START = 1_000_000;

function pkt(seq: number, ts: number, ssrc = 1, fill = seq & 0xff): { ssrc: number; sequenceNumber: number; timestamp: number; payload: Buffer } {
  return { ssrc, sequenceNumber: seq & 0xffff, timestamp: ts >>> 0, payload: Buffer.alloc(160, fill) };
}

/** Applies writes to a byte array, like the WAV writer does. */
function render(writes: readonly TimelineWrite[], out: number[] = []): number[] {
  for (const w of writes) {
    if (w.kind === 'audio') out.push(...w.bytes);
    else if (w.kind === 'silence') for (let i = 0; i < w.count; i++) out.push(-1);
    else out.length = w.length;
  }
  return out;
}

function newTimeline(): Timeline {
  return new Timeline({ startMs: START, clockRateHz: 8000, bytesPerTick: 1, reorderMs: 60 });
}

describe('Timeline', () => {
  it('places the first packet at its wall-clock offset and keeps 20 ms packets contiguous', () => {
    const t = newTimeline();
    const out: number[] = [];
    for (let i = 0; i < 10; i++) render(t.push(pkt(100 + i, 5000 + 160 * i), START + 500 + 20 * i), out);
    render(t.finish(START + 500 + 200), out);
    expect(out.length).toBe(4000 + 1600);
    expect(out.slice(0, 4000).every((b) => b === -1)).toBe(true);
    expect(out[4000]).toBe(100);
    expect(t.stats).toMatchObject({ expected: 10, received: 10, lost: 0, late: 0, duplicated: 0 });
  });

  it('reorders within the window and counts nothing lost', () => {
    const t = newTimeline();
    const out: number[] = [];
    const order = [0, 2, 1, 3, 5, 4, 6];
    order.forEach((i, k) => render(t.push(pkt(i, 160 * i), START + 20 * k), out));
    render(t.finish(START + 20 * 7), out);
    expect(out.filter((_b, i) => i % 160 === 0)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(t.stats).toMatchObject({ received: 7, lost: 0, late: 0 });
  });

  it('counts a packet arriving after its place was written as late, and fills the gap with silence', () => {
    const t = newTimeline();
    const out: number[] = [];
    render(t.push(pkt(0, 0), START), out);
    render(t.push(pkt(2, 320), START + 40), out);
    render(t.push(pkt(3, 480), START + 300), out);
    render(t.push(pkt(1, 160), START + 320), out);
    render(t.finish(START + 640), out);
    expect(t.stats.late).toBe(1);
    expect(t.stats.lost).toBe(0);
    expect(out.slice(160, 320).every((b) => b === -1)).toBe(true);
  });

  it('counts duplicates and losses', () => {
    const t = newTimeline();
    render(t.push(pkt(10, 0), START));
    render(t.push(pkt(10, 0), START + 1));
    render(t.push(pkt(13, 480), START + 60));
    expect(t.stats).toMatchObject({ expected: 4, received: 2, lost: 2, duplicated: 1 });
  });

  it('handles sequence and timestamp wrap-around', () => {
    const t = newTimeline();
    const out: number[] = [];
    for (let i = 0; i < 6; i++) render(t.push(pkt(65533 + i, 0xffffff00 + 160 * i), START + 20 * i), out);
    render(t.finish(START + 120), out);
    expect(t.stats).toMatchObject({ expected: 6, received: 6, lost: 0 });
    expect(out.length).toBe(960);
    expect(out.every((b) => b !== -1)).toBe(true);
  });

  it('re-anchors to the wall clock after a hold without timestamp advance', () => {
    const t = newTimeline();
    const out: number[] = [];
    render(t.push(pkt(1, 1000), START), out);
    // 5 s of hold, then the SRC continues with the next timestamp.
    render(t.push(pkt(2, 1160), START + 5000), out);
    render(t.finish(START + 5020), out);
    expect(t.stats.reanchors).toBe(1);
    expect(out.length).toBe(40160);
    expect(out[40000]).toBe(2);
  });

  it('follows an SSRC change on the wall clock', () => {
    const t = newTimeline();
    const out: number[] = [];
    render(t.push(pkt(1, 1000, 1), START), out);
    render(t.push(pkt(900, 777777, 2), START + 1000), out);
    render(t.finish(START + 1020), out);
    expect(t.stats.ssrcChanges).toBe(1);
    expect(t.stats.expected).toBe(2);
    expect(out[8000]).toBe(900 & 0xff);
  });

  it('pads to the end time so both legs of a call have the same length', () => {
    const a = newTimeline();
    const b = newTimeline();
    render(a.push(pkt(1, 0), START + 100));
    render(a.finish(START + 3000));
    render(b.finish(START + 3000));
    expect(a.cursor).toBe(24000);
    expect(b.cursor).toBe(24000);
  });
});

/**
 * When the media worker processes packet `i` (sent at 20 ms * i) if it is stalled from `fromMs` to
 * `toMs`: the backlog is then read from the socket buffer `chunk` packets per event-loop turn, one
 * turn every `turnMs`, until the worker has caught up with the sender.
 */
function stalled(count: number, fromMs: number, toMs: number, turnMs: number, chunk = 32): number[] {
  const at: number[] = [];
  let turn = toMs;
  let inTurn = 0;
  for (let i = 0; i < count; i++) {
    const sentMs = 20 * i;
    if (sentMs < fromMs) {
      at.push(sentMs);
      continue;
    }
    if (turn < sentMs) {
      // Caught up: packets are read as they arrive again.
      turn = sentMs;
      inTurn = 0;
    }
    at.push(turn);
    if (++inTurn === chunk) {
      turn += turnMs;
      inTurn = 0;
    }
  }
  return at;
}

/**
 * Feeds packet i (timestamp 160 * i) at START + `atMs[i]`, with the worker's 100 ms drain tick in
 * between (none while it is stalled), and finishes at START + `endMs`.
 */
function feed(t: Timeline, atMs: readonly number[], endMs: number, stall: readonly [number, number] = [0, 0]): number[] {
  const out: number[] = [];
  let tickMs = 100;
  atMs.forEach((at, i) => {
    for (; tickMs <= at; tickMs += 100) if (tickMs < stall[0] || tickMs >= stall[1]) render(t.drain(START + tickMs), out);
    render(t.push(pkt(i, 160 * i), START + at), out);
  });
  render(t.finish(START + endMs), out);
  return out;
}

describe('Timeline under processing stalls and holds', () => {
  it.each([
    { stallMs: 1500, turnMs: 40, callMs: 4000 },
    { stallMs: 5000, turnMs: 40, callMs: 8000 },
    // A loaded worker: 640 ms of backlog per turn of 300 ms, so the catch-up takes 4 s.
    { stallMs: 5000, turnMs: 300, callMs: 12_000 },
  ])('keeps every packet of the backlog after a $stallMs ms stall at its timestamp position (turns of $turnMs ms)', ({ stallMs, turnMs, callMs }) => {
    const t = newTimeline();
    const atMs = stalled(callMs / 20, 1000, 1000 + stallMs, turnMs);
    const out = feed(t, atMs, callMs, [1000, 1000 + stallMs]);
    expect(t.stats).toMatchObject({ received: callMs / 20, lost: 0, late: 0, clippedBytes: 0, silenceBytes: 0, reanchors: 0, audioBytes: 8 * callMs });
    expect(out.length).toBe(8 * callMs);
    const misplaced = atMs.map((_at, i) => i).filter((i) => out.slice(160 * i, 160 * i + 160).some((b) => b !== (i & 0xff)));
    expect(misplaced).toEqual([]);
  });

  it('anchors a stream whose first packets were read from a backlog on the packet read closest to its time', () => {
    const t = newTimeline();
    // The SRC starts at 500 ms; the worker is stalled until 1100 ms, then reads the 30 queued packets at once.
    const atMs = Array.from({ length: 100 }, (_v, i) => Math.max(1100, 500 + 20 * i));
    const out = feed(t, atMs, 2500, [500, 1100]);
    expect(t.stats).toMatchObject({ received: 100, lost: 0, late: 0, clippedBytes: 0, reanchors: 0, audioBytes: 16_000, silenceBytes: 4000 });
    // Packet 30, read at its time, shows where packet 0 belongs: 500 ms, not the 1100 ms it was read at.
    expect(out.indexOf(0)).toBe(4000);
    expect(out.length).toBe(20_000);
  });

  it('inserts the 3 s of a real hold without timestamp advance, and audio after it follows the wall clock', () => {
    const t = newTimeline();
    // One second of audio, 3 s of hold, then the SRC resumes with the next timestamp, at real-time
    // pace with 0 to 15 ms of network jitter.
    const jitterMs = (i: number): number => (i * 7) % 16;
    const atMs = Array.from({ length: 150 }, (_v, i) => (i < 50 ? 20 * i : 3000 + 20 * i + jitterMs(i)));
    const out = feed(t, atMs, 6100);
    expect(t.stats).toMatchObject({ received: 150, lost: 0, late: 0, clippedBytes: 0, reanchors: 1 });
    // The silence is the hold to within the jitter of the first packet after it (14 ms here).
    const silence = t.stats.silenceBytes - 800;
    expect(Math.abs(silence - 24_000)).toBeLessThanOrEqual(8 * 15);
    expect(out.slice(8000, 8000 + silence).every((b) => b === -1)).toBe(true);
    for (let i = 50; i < 150; i++) {
      const first = out.indexOf(i & 0xff, 8000);
      // Each packet after the hold lies within the jitter of its arrival on the wall clock.
      expect(Math.abs(first - 8 * (atMs[i] ?? 0))).toBeLessThanOrEqual(8 * 15);
      expect(out.slice(first, first + 160)).toEqual(new Array<number>(160).fill(i & 0xff));
    }
    expect(out.length).toBe(8 * 6100);
  });

  it('re-anchors at once when timestamps go back 2 s behind what is written', () => {
    const t = newTimeline();
    // Three seconds on time, then the SRC restarts its clock 2 s earlier (timestamps behind the file).
    const out: number[] = [];
    for (let i = 0; i < 250; i++) render(t.push(pkt(i, 160 * i - (i >= 150 ? 16_000 : 0)), START + 20 * i), out);
    render(t.finish(START + 5000), out);
    expect(t.stats).toMatchObject({ reanchors: 1, late: 0, clippedBytes: 0, silenceBytes: 0, audioBytes: 250 * 160 });
    expect(out[24_000]).toBe(150);
    expect(out.length).toBe(40_000);
  });

  it('re-anchors a stream 500 ms ahead of the clock instead of clipping every packet', () => {
    const t = newTimeline();
    const out: number[] = [];
    // One second on time, then the timestamps jump 500 ms ahead (between maxAheadMs and maxDriftMs).
    for (let i = 0; i < 150; i++) render(t.push(pkt(i, 160 * i + (i >= 50 ? 4000 : 0)), START + 20 * i), out);
    render(t.finish(START + 3000), out);
    expect(t.stats).toMatchObject({ reanchors: 1, late: 0, clippedBytes: 0, silenceBytes: 0, audioBytes: 150 * 160 });
    expect(out[8000]).toBe(50);
    expect(out.length).toBe(24_000);
  });

  it.each([
    { jump: 0x7fffff00, reads: 'ahead' },
    { jump: 0x80000000, reads: 'behind' },
  ])('re-anchors at once when timestamps jump forward by $jump ticks (read as $reads)', ({ jump }) => {
    const t = newTimeline();
    const out: number[] = [];
    for (let i = 0; i < 100; i++) render(t.push(pkt(i, 160 * i + (i >= 50 ? jump : 0)), START + 20 * i), out);
    render(t.finish(START + 2000), out);
    expect(t.stats).toMatchObject({ reanchors: 1, late: 0, clippedBytes: 0, silenceBytes: 0, audioBytes: 100 * 160 });
    expect(out[8000]).toBe(50);
    expect(out.length).toBe(16_000);
  });
});

describe('RTP packets', () => {
  it('compares wrapping sequence numbers', () => {
    expect(uint16Gt(1, 65535)).toBe(true);
    expect(uint16Gt(65535, 1)).toBe(false);
    expect(seqDelta(0, 65535)).toBe(1);
  });

  it('parses header, CSRCs, extension and padding', () => {
    const base = buildRtp({ payloadType: 8, sequenceNumber: 7, timestamp: 99, ssrc: 3, payload: Buffer.from([1, 2, 3]) });
    const p = parseRtp(base);
    expect(p).toMatchObject({ payloadType: 8, sequenceNumber: 7, timestamp: 99, ssrc: 3, headerSize: 12 });
    const ext = Buffer.concat([base.subarray(0, 12), Buffer.from([0xbe, 0xde, 0, 1, 9, 9, 9, 9]), Buffer.from([5, 6, 0, 0, 3])]);
    ext[0] = 0x80 | 0x10 | 0x20;
    expect([...parseRtp(ext).payload]).toEqual([5, 6]);
  });

  it('rejects truncated and foreign packets at every length', () => {
    const full = buildRtp({ payloadType: 0, sequenceNumber: 1, timestamp: 1, ssrc: 1, payload: Buffer.alloc(4) });
    for (let n = 0; n < 12; n++) expect(() => parseRtp(full.subarray(0, n))).toThrow(ParseError);
    const v1 = Buffer.from(full);
    v1[0] = 0x40;
    expect(() => parseRtp(v1)).toThrow(/version/);
  });
});
