/**
 * Media sender for benchmarks (a child process with an IPC channel): sends one 20 ms G.711
 * packet every 20 ms to each active destination port. Payload bytes are 0x55, never the A-law
 * silence code, so the WAV files can be checked by counting bytes.
 */
import dgram from 'node:dgram';

interface Stream {
  readonly port: number;
  readonly ssrc: number;
  seq: number;
  ts: number;
  sent: number;
  readonly endAt: number;
}

const socks = [dgram.createSocket('udp4'), dgram.createSocket('udp4'), dgram.createSocket('udp4'), dgram.createSocket('udp4')];
const streams = new Map<number, Stream>();
const packet = Buffer.alloc(12 + 160, 0x55);
packet[0] = 0x80;
packet[1] = 8;
let total = 0;

process.on('message', (msg: { op: 'add'; ports: number[]; durationMs: number } | { op: 'stop' } | { op: 'total' }) => {
  if (msg.op === 'total') {
    process.send?.({ op: 'total', total });
    return;
  }
  if (msg.op === 'stop') {
    process.send?.({ op: 'stopped', total });
    setTimeout(() => { process.exit(0); }, 100);
    return;
  }
  const now = performance.now();
  for (const port of msg.ports) streams.set(port, { port, ssrc: (Math.random() * 2 ** 32) >>> 0, seq: 1, ts: 0, sent: 0, endAt: now + msg.durationMs });
});

let tick = 0;
const started = performance.now();
function loop(): void {
  tick++;
  const now = performance.now();
  for (const s of streams.values()) {
    if (now >= s.endAt) {
      streams.delete(s.port);
      process.send?.({ op: 'done', port: s.port, sent: s.sent });
      continue;
    }
    const p = Buffer.from(packet);
    p.writeUInt16BE(s.seq & 0xffff, 2);
    p.writeUInt32BE(s.ts >>> 0, 4);
    p.writeUInt32BE(s.ssrc, 8);
    // One socket per stream for its whole life: callseal latches a stream's source port (rtp.sourceCheck).
    (socks[(s.port >> 1) % socks.length] ?? socks[0])?.send(p, s.port, '127.0.0.1');
    s.seq++;
    s.ts += 160;
    s.sent++;
    total++;
  }
  // Schedule against the start time so the mean rate stays 50 packets per second per stream.
  setTimeout(loop, Math.max(0, started + (tick + 1) * 20 - performance.now()));
}
loop();
