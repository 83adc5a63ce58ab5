/**
 * The phones of bench/inline-load (a child process with an IPC channel): a pair of UDP sockets per
 * relayed call, one per side, each sending a 20 ms A-law packet every 20 ms to the relay's port
 * facing it and receiving what the relay forwards from the other side. Every payload starts with
 * its send time (a float64 of milliseconds), so the one-way time of each packet is measured in this
 * process, against the same clock. Direct pairs send to each other without a relay, in the same
 * loop, so the relay's added latency is the difference of the two under the same load.
 * `oneway` sends one stream per target port and receives nothing (SIPREC legs, the bare sink).
 */
import dgram from 'node:dgram';

type Msg =
  | { op: 'sockets'; pairs: number; direct: number }
  | { op: 'relay'; targets: [number, number][] }
  | { op: 'oneway'; targets: number[] }
  | { op: 'quiet' }
  | { op: 'latency' }
  | { op: 'total' }
  | { op: 'stop' };

interface Stream {
  readonly socket: dgram.Socket;
  readonly port: number;
  readonly ssrc: number;
  seq: number;
}

const pairs: [dgram.Socket, dgram.Socket][] = [];
const direct: [dgram.Socket, dgram.Socket][] = [];
let streams: Stream[] = [];
let directStreams: Stream[] = [];
/** One-way times in ms, relayed and direct, since the last `latency` request. */
let relayed: number[] = [];
let straight: number[] = [];
/** Packets sent on the measured streams (not the direct pairs). */
let total = 0;

const now = (): number => performance.timeOrigin + performance.now();

async function socket(onPacket: (d: Buffer) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1024 * 1024 });
  s.on('message', onPacket);
  await new Promise<void>((r) => { s.bind(0, '127.0.0.1', () => { r(); }); });
  return s;
}

function onRelayed(d: Buffer): void {
  if (d.length >= 20) relayed.push(now() - d.readDoubleBE(12));
}

function onDirect(d: Buffer): void {
  if (d.length >= 20) straight.push(now() - d.readDoubleBE(12));
}

function stream(socket: dgram.Socket, port: number): Stream {
  return { socket, port, ssrc: (Math.random() * 2 ** 32) >>> 0, seq: 1 };
}

const packet = Buffer.alloc(12 + 160, 0x55);
packet[0] = 0x80;
packet[1] = 8;

function sendOne(s: Stream): void {
  const p = Buffer.from(packet);
  p.writeUInt16BE(s.seq & 0xffff, 2);
  p.writeUInt32BE((s.seq * 160) >>> 0, 4);
  p.writeUInt32BE(s.ssrc, 8);
  p.writeDoubleBE(now(), 12);
  s.socket.send(p, s.port, '127.0.0.1');
  s.seq++;
}

let tick = 0;
const started = performance.now();
function loop(): void {
  tick++;
  // Relayed and direct streams interleaved, so both see the same event-loop delays.
  const n = Math.max(streams.length, directStreams.length);
  for (let i = 0; i < n; i++) {
    const s = streams[i];
    if (s) {
      sendOne(s);
      total++;
    }
    const d = directStreams[i];
    if (d) sendOne(d);
  }
  setTimeout(loop, Math.max(0, started + (tick + 1) * 20 - performance.now()));
}
loop();

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}

process.on('message', (m: Msg) => {
  void (async () => {
    switch (m.op) {
      case 'sockets': {
        for (let i = 0; i < m.pairs; i++) pairs.push([await socket(onRelayed), await socket(onRelayed)]);
        for (let i = 0; i < m.direct; i++) direct.push([await socket(onDirect), await socket(onDirect)]);
        process.send?.({ op: 'sockets', ports: pairs.map(([a, b]) => [a.address().port, b.address().port]) });
        break;
      }
      case 'relay':
        streams = m.targets.flatMap(([aPort, bPort], i) => {
          const pair = pairs[i];
          return pair ? [stream(pair[0], aPort), stream(pair[1], bPort)] : [];
        });
        directStreams = direct.flatMap(([a, b]) => [stream(a, b.address().port), stream(b, a.address().port)]);
        break;
      case 'oneway':
        directStreams = [];
        streams = m.targets.map((port, i) => stream(pairs[Math.floor(i / 2)]?.[i % 2] ?? pairs[0]?.[0] ?? dgram.createSocket('udp4'), port));
        break;
      case 'quiet':
        streams = [];
        directStreams = [];
        break;
      case 'latency': {
        const r = relayed.sort((x, y) => x - y);
        const d = straight.sort((x, y) => x - y);
        process.send?.({
          op: 'latency', relayed: r.length, direct: d.length,
          relayP50: percentile(r, 0.5), relayP99: percentile(r, 0.99), directP50: percentile(d, 0.5), directP99: percentile(d, 0.99),
        });
        relayed = [];
        straight = [];
        break;
      }
      case 'total':
        process.send?.({ op: 'total', total });
        break;
      case 'stop':
        for (const [a, b] of [...pairs, ...direct]) {
          a.close();
          b.close();
        }
        process.exit(0);
    }
  })();
});
process.send?.({ op: 'ready' });
