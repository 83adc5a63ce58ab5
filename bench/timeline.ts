/**
 * bench/timeline: cost per packet of the RTP timeline core with 1, 100, 1,000 and 10,000 SSRCs
 * seen (issue 2: the old core walked every retired SSRC on every packet, so its cost grew with
 * the number of SSRCs a sender invented). Pure CPU, no I/O; prints figures, asserts nothing.
 *
 * Usage: npm run bench -- timeline [--packets 200000]
 */
import { Timeline } from '../src/rtp/index.ts';
import { arg } from './lib/args.ts';

/** Nanoseconds per packet when a stream of `packets` packets cycles through `ssrcs` SSRCs in turn. */
function nsPerPacket(packets: number, ssrcs: number): number {
  const t = new Timeline({ startMs: 0, clockRateHz: 8000, bytesPerTick: 1, reorderMs: 60 });
  const payload = Buffer.alloc(160, 0x55);
  const perSsrc = Math.max(1, Math.floor(packets / ssrcs));
  const start = process.hrtime.bigint();
  for (let i = 0; i < packets; i++) {
    // Each SSRC sends a run of packets, then the next one takes over (as a hostile sender would).
    const ssrc = Math.floor(i / perSsrc) + 1;
    t.push({ ssrc, sequenceNumber: i & 0xffff, timestamp: (160 * i) >>> 0, payload }, 20 * i);
  }
  return Number(process.hrtime.bigint() - start) / packets;
}

/** Runs the benchmark and prints one line per SSRC count. */
export function timelineBench(): { ssrcs: number; nsPerPacket: number }[] {
  const packets = arg('packets', 200_000);
  nsPerPacket(20_000, 1);
  const rows = [1, 100, 1000, 10_000].map((ssrcs) => ({ ssrcs, nsPerPacket: nsPerPacket(packets, ssrcs) }));
  console.log('timeline');
  const base = rows[0]?.nsPerPacket ?? 1;
  for (const r of rows) console.log(`  ${String(r.ssrcs).padStart(6)} SSRCs   ${r.nsPerPacket.toFixed(0).padStart(7)} ns/packet   ${(r.nsPerPacket / base).toFixed(2)}x`);
  return rows;
}
