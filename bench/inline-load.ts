/**
 * bench/inline-load: N concurrent relayed G.711 calls (in-line mode), both directions at 50
 * packets per second each, with a recording tap on each side. In one run, on the same machine:
 * - added latency per RTP packet: one-way time through the relay minus the time of a direct
 *   loopback send, both measured in the same sending process and loop (p50 and p99);
 * - callseal's CPU per relayed call, against the CPU per call of the SIPREC path (two recorded legs
 *   per call fed the same way, bench/siprec-load's media side) and of the bare dgram sink
 *   (bench/lib/sink.ts) receiving the same two streams per call.
 * Figures and ratios only; nothing asserts a timing.
 *
 * Usage: npm run bench -- inline-load [--calls 50] [--seconds 12]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpuSeconds } from './lib/proc.ts';
import { arg } from './lib/args.ts';
import { freeUdpBlock } from '../test/helpers/callseal.ts';

const ROOT = resolve(import.meta.dirname, '..');

interface Latency { relayed: number; direct: number; relayP50: number; relayP99: number; directP50: number; directP99: number }

/** Sends a message and waits for the first reply whose `op` is `op`. */
function ask<T>(child: ChildProcess, msg: object, op: string): Promise<T> {
  return new Promise((r) => {
    const on = (m: { op: string }): void => {
      if (m.op !== op) return;
      child.off('message', on);
      r(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((r) => { child.once('message', () => { r(); }); });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of `pid` over `windowMs`. */
async function cpuOver(pid: number, windowMs: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  await sleep(windowMs);
  return cpuSeconds(pid) - c0;
}

export async function inlineLoad(): Promise<Record<string, number>> {
  const calls = arg('calls', 50);
  const seconds = arg('seconds', 12);
  const windowMs = Math.max(2000, seconds * 1000 - 3000);
  const directPairs = Math.max(2, Math.round(calls / 5));
  const portMin = await freeUdpBlock(15000, 26999, 4 * calls + 40);
  const host = fork(join(ROOT, 'bench/lib/inline-host.ts'), [String(portMin), String(portMin + 4 * calls + 39)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const peer = fork(join(ROOT, 'bench/lib/inline-peer.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await Promise.all([ready(host), ready(peer)]);
  const hostPid = host.pid ?? 0;
  const { ports: peers } = await ask<{ ports: [number, number][] }>(peer, { op: 'sockets', pairs: calls, direct: directPairs }, 'sockets');

  // 1. Relayed calls with taps: latency against direct sends, CPU.
  const { ports: relayPorts } = await ask<{ ports: [number, number][] }>(host, { op: 'relays', peers }, 'relays');
  peer.send({ op: 'relay', targets: relayPorts });
  await sleep(1500);
  await ask<Latency>(peer, { op: 'latency' }, 'latency');
  const p0 = (await ask<{ total: number }>(peer, { op: 'total' }, 'total')).total;
  const relayCpu = await cpuOver(hostPid, windowMs);
  const relayPackets = (await ask<{ total: number }>(peer, { op: 'total' }, 'total')).total - p0;
  const lat = await ask<Latency>(peer, { op: 'latency' }, 'latency');
  peer.send({ op: 'quiet' });
  await sleep(300);
  const relayClosed = await ask<{ forwarded: number; audioBytes: number }>(host, { op: 'close' }, 'closed');

  // 2. The SIPREC path: two recorded legs per call, one stream into each.
  const { ports: legPorts } = await ask<{ ports: number[] }>(host, { op: 'legs', calls }, 'legs');
  peer.send({ op: 'oneway', targets: legPorts });
  await sleep(1500);
  const siprecCpu = await cpuOver(hostPid, windowMs);
  peer.send({ op: 'quiet' });
  await sleep(300);
  await ask(host, { op: 'close' }, 'closed');
  host.send({ op: 'stop' });

  // 3. The bare sink: the same two streams per call into plain dgram sockets.
  const sinkMin = await freeUdpBlock(15000, 26999, 4 * calls + 4);
  const sink = fork(join(ROOT, 'bench/lib/sink.ts'), [String(sinkMin), String(2 * calls)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await ready(sink);
  peer.send({ op: 'oneway', targets: Array.from({ length: 2 * calls }, (_, i) => sinkMin + 2 * i) });
  await sleep(1500);
  const sinkCpu = await cpuOver(sink.pid ?? 0, windowMs);
  sink.send({ op: 'stop' });
  peer.send({ op: 'stop' });

  const perCall = (cpu: number): number => (100 * cpu) / (windowMs / 1000) / calls;
  const result = {
    calls, windowMs, relayPacketsSent: relayPackets, relayForwarded: relayClosed.forwarded,
    relayedSamples: lat.relayed, directSamples: lat.direct,
    relayP50Ms: round(lat.relayP50, 3), relayP99Ms: round(lat.relayP99, 3), directP50Ms: round(lat.directP50, 3), directP99Ms: round(lat.directP99, 3),
    addedP50Ms: round(lat.relayP50 - lat.directP50, 3), addedP99Ms: round(lat.relayP99 - lat.directP99, 3),
    relayCpuPctPerCall: round(perCall(relayCpu), 3), siprecCpuPctPerCall: round(perCall(siprecCpu), 3), sinkCpuPctPerCall: round(perCall(sinkCpu), 3),
    relayUsPerPacketIn: round((relayCpu * 1e6) / Math.max(1, relayPackets), 2),
    ratioRelayToSiprec: round(relayCpu / Math.max(1e-9, siprecCpu), 2), ratioRelayToSink: round(relayCpu / Math.max(1e-9, sinkCpu), 2),
  };
  console.log('\ninline-load');
  console.log(`  relayed calls                ${calls} (both directions at 50 pps, a recording tap per side), ${directPairs} direct pairs beside them`);
  console.log(`  packets sent / forwarded     ${relayPackets} in ${windowMs} ms / ${relayClosed.forwarded} over the whole relay phase`);
  console.log(`  one-way time, relayed        p50 ${result.relayP50Ms} ms, p99 ${result.relayP99Ms} ms (${lat.relayed} packets)`);
  console.log(`  one-way time, direct         p50 ${result.directP50Ms} ms, p99 ${result.directP99Ms} ms (${lat.direct} packets)`);
  console.log(`  added by the relay           p50 ${result.addedP50Ms} ms, p99 ${result.addedP99Ms} ms`);
  console.log(`  CPU per call (% of a core)   relay+taps ${result.relayCpuPctPerCall}, SIPREC (2 legs) ${result.siprecCpuPctPerCall}, bare sink (2 streams) ${result.sinkCpuPctPerCall}`);
  console.log(`  relay CPU per packet in      ${result.relayUsPerPacketIn} µs (forwarding, SRTP off, two taps writing)`);
  console.log(`  ratios                       relay / SIPREC ${result.ratioRelayToSiprec}, relay / sink ${result.ratioRelayToSink}`);
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/inline-load.json'), JSON.stringify(result, null, 2));
  return result;
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
