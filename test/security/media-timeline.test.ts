/**
 * Issue 2 (RTP from anyone is written into the recording), the timeline core with plain arrays:
 * whatever SSRCs, timestamps and payload sizes a sender uses, the wall clock bounds what is
 * written, oversized payloads are counted instead of written, and the state kept per packet does
 * not grow with the number of SSRCs seen (constant work per packet; figures in bench/timeline.ts).
 */
import { describe, expect, it } from 'vitest';
import { Timeline, MAX_PENDING, type TimelineWrite } from '../../src/rtp/index.ts';

const START = 5_000_000;
const CLOCK_HZ = 8000;

function newTimeline(): Timeline {
  return new Timeline({ startMs: START, clockRateHz: CLOCK_HZ, bytesPerTick: 1, reorderMs: 60 });
}

/** Bytes a list of writes appends to the file (negative when it cuts the file back). */
let fileBytes = 0;
function length(writes: readonly TimelineWrite[]): number {
  const before = fileBytes;
  for (const w of writes) {
    if (w.kind === 'audio') fileBytes += w.bytes.length;
    else if (w.kind === 'silence') fileBytes += w.count;
    else fileBytes = Math.min(fileBytes, w.length);
  }
  return fileBytes - before;
}

/** The file length in seconds after a call of `callMs` in which `send(i, nowMs)` runs every 20 ms. */
function call(t: Timeline, callMs: number, send: (i: number, nowMs: number) => number): number {
  fileBytes = 0;
  let bytes = 0;
  for (let i = 0; i * 20 < callMs; i++) bytes += send(i, START + 20 * i);
  bytes += length(t.finish(START + callMs));
  return bytes / CLOCK_HZ;
}

describe('issue 2: the wall clock bounds a leg whatever the packets say', () => {
  it('a 14 s call with a third party sending random SSRCs gives at most 14.2 s of file', () => {
    const t = newTimeline();
    const seconds = call(t, 14_000, (i, now) => {
      let n = length(t.push({ ssrc: 0x1111, sequenceNumber: i, timestamp: 160 * i, payload: Buffer.alloc(160, 0x55) }, now));
      // Ten packets per 20 ms, each with a fresh SSRC (the old core re-anchored each at the end of the file).
      for (let k = 0; k < 10; k++) {
        n += length(t.push({ ssrc: (i * 10 + k + 2) >>> 0, sequenceNumber: k, timestamp: 0, payload: Buffer.alloc(160, 0x11) }, now));
      }
      return n;
    });
    // Exactly the call: what ran ahead of the clock is cut at its end.
    expect(seconds).toBe(14);
    expect(t.stats.clippedBytes).toBeGreaterThan(0);
  });

  it('65,000-byte payloads are counted as oversized, never written as minutes of audio', () => {
    const t = newTimeline();
    const seconds = call(t, 14_000, (i, now) => length(t.push({ ssrc: 7, sequenceNumber: i, timestamp: 160 * i, payload: Buffer.alloc(65_000, 0x22) }, now)));
    expect(seconds).toBeCloseTo(14, 1);
    expect(t.stats.oversized).toBe(700);
    expect(t.stats.audioBytes).toBe(0);
  });

  it('timestamps jumping by 2^31 on every packet do not stretch the file', () => {
    const t = newTimeline();
    let seq = 0;
    const seconds = call(t, 14_000, (_i, now) => {
      let n = 0;
      // Five packets per 20 ms of one SSRC, each 2^31 ticks from the last (each one a re-anchor).
      for (let k = 0; k < 5; k++, seq++) n += length(t.push({ ssrc: 9, sequenceNumber: seq, timestamp: (seq * 0x80000000) >>> 0, payload: Buffer.alloc(160, 0x33) }, now));
      return n;
    });
    expect(seconds).toBe(14);
    expect(t.stats.reanchors).toBeGreaterThan(1000);
  });

  it('a forged backlog (five times real time after 5 s of nothing) never runs past the clock and ends with the call', () => {
    const t = newTimeline();
    let seq = 0;
    let ahead = 0;
    const seconds = call(t, 14_000, (i, now) => {
      let n = 0;
      // One second on time, 5 s of nothing, then five packets per 20 ms: a backlog that never ends.
      const burst = i < 50 ? 1 : i < 300 ? 0 : 5;
      for (let k = 0; k < burst; k++, seq++) {
        n += length(t.push({ ssrc: 4, sequenceNumber: seq, timestamp: 160 * seq, payload: Buffer.alloc(160, 0x44) }, now));
        ahead = Math.max(ahead, fileBytes - (CLOCK_HZ * (now + 200 - START)) / 1000);
      }
      return n;
    });
    expect(ahead).toBeLessThanOrEqual(0);
    expect(seconds).toBe(14);
    expect(t.stats.clippedBytes).toBeGreaterThan(0);
  });

  it('timestamps at half speed still re-anchor to the wall clock: the pace is real time, not catch-up', () => {
    const t = newTimeline();
    const seconds = call(t, 14_000, (i, now) => length(t.push({ ssrc: 5, sequenceNumber: i, timestamp: 80 * i, payload: Buffer.alloc(80, 0x66) }, now)));
    expect(seconds).toBe(14);
    // Half the media of the call: every 2 s the stream falls 1 s behind and moves to the wall clock.
    expect(t.stats.reanchors).toBeGreaterThanOrEqual(5);
    expect(t.stats).toMatchObject({ clippedBytes: 0, late: 0, audioBytes: 700 * 80 });
  });

  it('a normal 20 ms stream is unaffected: every byte written, nothing clipped', () => {
    const t = newTimeline();
    const seconds = call(t, 3000, (i, now) => length(t.push({ ssrc: 1, sequenceNumber: i, timestamp: 160 * i, payload: Buffer.alloc(160, 0x55) }, now + (i % 3) * 7)));
    expect(seconds).toBeCloseTo(3, 1);
    expect(t.stats).toMatchObject({ received: 150, lost: 0, late: 0, clippedBytes: 0, oversized: 0, audioBytes: 150 * 160 });
  });
});

describe('issue 2: constant work per packet whatever the number of SSRCs', () => {
  it('keeps one SSRC record and a bounded reorder window after 20,000 SSRCs', () => {
    const t = newTimeline();
    for (let i = 0; i < 20_000; i++) {
      t.push({ ssrc: i + 1, sequenceNumber: 1, timestamp: 0, payload: Buffer.alloc(160) }, START + i);
      expect(t.retainedSsrcStates).toBeLessThanOrEqual(1);
      expect(t.pendingPackets).toBeLessThanOrEqual(MAX_PENDING);
    }
    // The counts stay right without keeping the retired SSRCs: 20,000 sequences of one packet.
    expect(t.stats).toMatchObject({ expected: 20_000, received: 20_000, lost: 0, ssrcChanges: 19_999 });
  });

  it('holds at most MAX_PENDING packets when a flood arrives within one reorder window', () => {
    const t = newTimeline();
    for (let i = 0; i < 5000; i++) t.push({ ssrc: 3, sequenceNumber: i, timestamp: 160 * i, payload: Buffer.alloc(160) }, START);
    expect(t.pendingPackets).toBeLessThanOrEqual(MAX_PENDING);
  });
});
