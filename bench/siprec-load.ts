/**
 * bench/siprec-load: N concurrent two-stream G.711 SIPREC calls. sipp drives the signalling; a
 * lighter Node sender (bench/lib/sender.ts) sends the media, 50 packets per second per stream.
 * Prints concurrent calls, packets sent, packets found in the WAV files (counted by reading the
 * files, not by asking callseal), loss, callseal CPU and RSS per call, and in the same run the CPU
 * of a bare Node dgram sink receiving the same traffic on the same number of ports.
 *
 * Targets (issue 2): zero loss at 1,000 concurrent calls on a 2-core machine with the load
 * generator beside it; callseal CPU per packet at most 1.5x the bare sink's.
 *
 * Usage: npm run bench -- siprec-load [--calls 1000] [--seconds 20] [--rate 100]
 */
import { fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cpuSeconds, memoryMiB, threadCpuSeconds } from './lib/proc.ts';
import { freePort, onLines } from '../test/helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, siprecScenario } from '../test/helpers/sipp.ts';
import { arg } from './lib/args.ts';

const ROOT = resolve(import.meta.dirname, '..');


/** Counts the 20 ms packets of non-silence per channel of a stereo A-law WAV written by callseal. */
function packetsInWav(path: string): number {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, 0);
  closeSync(fd);
  let audio = 0;
  for (let i = 94; i < size; i++) if (buf[i] === 0x55) audio++;
  return audio / 160;
}

/** Sends an OPTIONS every 50 ms for `durationMs` and returns the round-trip times in ms. */
async function measureOptions(sipPort: number, durationMs: number): Promise<number[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => { sock.bind(0, '127.0.0.1', () => { r(); }); });
  const sent = new Map<string, number>();
  const rtts: number[] = [];
  sock.on('message', (d) => {
    const branch = /branch=(z9hG4bK[0-9a-z]+)/.exec(d.toString())?.[1];
    const t0 = branch ? sent.get(branch) : undefined;
    if (branch && t0 !== undefined) {
      rtts.push(performance.now() - t0);
      sent.delete(branch);
    }
  });
  const port = sock.address().port;
  const end = performance.now() + durationMs;
  for (let i = 0; performance.now() < end; i++) {
    const branch = `z9hG4bKbench${i.toString(36)}`;
    sent.set(branch, performance.now());
    sock.send(`OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}\r\nFrom: <sip:bench@127.0.0.1>;tag=b${i}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: bench-${i}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`, sipPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  // Pings never answered count as the whole window (a stall), not as missing data.
  for (let k = 0; k < sent.size; k++) rtts.push(durationMs);
  return rtts;
}

export async function siprecLoad(): Promise<Record<string, number>> {
  const calls = arg('calls', 1000);
  const seconds = arg('seconds', 20);
  const rate = arg('rate', 100);
  const mediaMs = seconds * 1000 - 2000;
  const home = mkdtempSync(join(tmpdir(), 'callseal-bench-'));
  const sipPort = await freePort();
  const httpPort = await freePort();
  const rtpMin = 20000;
  const rtpMax = rtpMin + 4 * calls + 400;
  // One SBC opening `rate` sessions per second is the deployment measured: its admission allows it (issue 3's defaults are 20/s).
  writeFileSync(join(home, 'config.json'), JSON.stringify({ sip: { host: '127.0.0.1', maxNewSessionsPerSecondPerSource: Math.max(20, rate * 2), maxNewSessionBurstPerSource: Math.max(40, rate * 2) }, rtp: { host: '127.0.0.1' }, recording: { mediaTimeoutSec: 300 } }));
  const cs = spawn(join(ROOT, 'bin/callseal'), ['start'], {
    env: { ...process.env, ...(process.env['BENCH_PROFILE'] ? { NODE_OPTIONS: '--cpu-prof --cpu-prof-dir=/tmp/prof' } : {}), CALLSEAL_HOME: home, CALLSEAL_CONFIG: join(home, 'config.json'), CALLSEAL_SIP_PORT: String(sipPort), CALLSEAL_HTTP_PORT: String(httpPort), CALLSEAL_RTP_PORTS: `${rtpMin}-${rtpMax}`, CALLSEAL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const sender = fork(join(ROOT, 'bench/lib/sender.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let sent = 0;
  let totalWaiter: ((n: number) => void) | undefined;
  sender.on('message', (m: { op: string; sent?: number; total?: number }) => {
    if (m.op === 'done') sent += m.sent ?? 0;
    if (m.op === 'total') totalWaiter?.(m.total ?? 0);
  });
  const senderTotal = (): Promise<number> => new Promise((r) => { totalWaiter = r; sender.send({ op: 'total' }); });
  /** CPU seconds per packet of `pid` over a steady window where every stream is sending. */
  const steady = async (pid: number, windowMs: number): Promise<{ cpu: number; packets: number }> => {
    const c0 = cpuSeconds(pid);
    const p0 = await senderTotal();
    await new Promise((r) => setTimeout(r, windowMs));
    return { cpu: cpuSeconds(pid) - c0, packets: (await senderTotal()) - p0 };
  };
  const windowMs = Math.max(1000, Math.min(8000, mediaMs - 6000));

  let started = 0;
  let finished = 0;
  let listening = false;
  const csPid = cs.pid ?? 0;
  onLines(cs.stdout, (line) => {
    if (line.includes('"callseal listening"')) listening = true;
    else if (line.includes('"recording started"')) {
      const base = Number(/"basePort":(\d+)/.exec(line)?.[1]);
      started++;
      sender.send({ op: 'add', ports: [base, base + 2], durationMs: mediaMs });
    } else if (line.includes('"recording finished"')) finished++;
  });
  while (!listening) await new Promise((r) => setTimeout(r, 50));
  const idleRss = memoryMiB(csPid).rss;

  const dir = mkdtempSync(join(tmpdir(), 'callseal-bench-sipp-'));
  const scenario = siprecScenario({ metadata: rsMetadata(ALICE, BOB), holdMs: seconds * 1000 });
  writeFileSync(join(dir, 'load.xml'), scenario);
  const cpu0 = cpuSeconds(csPid);
  const t0 = performance.now();
  const sipp = spawn('sipp', ['-sf', join(dir, 'load.xml'), '-m', String(calls), '-l', String(calls), '-r', String(rate), '-i', '127.0.0.1', '-p', String(await freePort(30000, 34000)), '-mi', '127.0.0.1', '-mp', '50000', '-t', 'u1', '-nostdin', '-timeout', `${seconds * 3 + 60}s`, '-trace_err', '-error_file', join(dir, 'errors.log'), `127.0.0.1:${sipPort}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let sippOut = '';
  sipp.stdout.on('data', (d: Buffer) => { sippOut = (sippOut + d.toString()).slice(-20000); });

  let maxLive = 0;
  let rssAtPeak = 0;
  const poll = setInterval(() => {
    void fetch(`http://127.0.0.1:${httpPort}/healthz`).then(async (r) => {
      const h = await r.json() as { live: number };
      if (h.live >= maxLive) {
        maxLive = h.live;
        rssAtPeak = memoryMiB(csPid).rss;
      }
    }).catch(() => undefined);
  }, 1000);
  const sippState = { exited: false };
  const sippDone = new Promise<number | null>((r) => { sipp.on('close', (code) => { sippState.exited = true; r(code); }); });
  // Wait for every call, but not past the ramp by much: a call sipp gave up on never starts.
  const rampMs = (calls / rate) * 1000;
  while (started < calls && !sippState.exited && performance.now() - t0 < rampMs + 10_000) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2000));
  // SIP must never stall behind media: OPTIONS round trips measured during the media phase.
  const optionsRtt = measureOptions(sipPort, windowMs);
  const steadyCallseal = await steady(csPid, windowMs);
  const rtts = (await optionsRtt).sort((x, y) => x - y);
  const sippCode = await sippDone;
  const wall = (performance.now() - t0) / 1000;
  while (finished < started) await new Promise((r) => setTimeout(r, 100));
  clearInterval(poll);
  const finalHealth = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(async (r) => await r.json() as { siprec: { refused: number; sessions: number } });
  const cpu = cpuSeconds(csPid) - cpu0;
  const threads = [...threadCpuSeconds(csPid)].filter(([, c]) => c > 0.05).sort((a, b) => b[1] - a[1]);
  const peak = memoryMiB(csPid).peak;
  await new Promise((r) => setTimeout(r, 500));
  cs.kill('SIGTERM');
  await new Promise((r) => { cs.on('exit', r); });

  let written = 0;
  const wavs = listFiles(join(home, 'recordings')).filter((f) => f.endsWith('.wav'));
  for (const w of wavs) written += packetsInWav(join(home, 'recordings', w));
  const infoLost = listFiles(join(home, 'recordings')).filter((f) => f.endsWith('_info.txt'))
    .reduce((n, f) => n + [...readFileSync(join(home, 'recordings', f), 'utf8').matchAll(/lost=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
  // sipp prints the cumulative average INVITE-to-200 time as hh:mm:ss:mmm... in its last screen.
  const inviteRtt = /Response Time 1\s*\|\s*[\d:]+\s*\|\s*([\d:]+)/.exec(sippOut)?.[1] ?? 'n/a';

  // The bare sink: same number of ports, same traffic pattern, same duration.
  const sink = fork(join(ROOT, 'bench/lib/sink.ts'), [String(rtpMin), String(2 * calls)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((r) => { sink.on('message', (m: { op: string }) => { if (m.op === 'ready') r(); }); });
  const sinkPid = sink.pid ?? 0;
  const sinkCpu0 = cpuSeconds(sinkPid);
  const sentBefore = sent;
  for (let i = 0; i < calls; i++) {
    sender.send({ op: 'add', ports: [rtpMin + 4 * i, rtpMin + 4 * i + 2], durationMs: mediaMs });
    if (i % Math.max(1, Math.round(rate / 10)) === 0) await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const steadySink = await steady(sinkPid, windowMs);
  while (sent - sentBefore < 0.99 * 2 * calls * (mediaMs / 20) && performance.now() - t0 < wall * 1000 * 3 + 60000) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1000));
  const sinkCpu = cpuSeconds(sinkPid) - sinkCpu0;
  const sinkReceived = await new Promise<number>((r) => {
    sink.on('message', (m: { op: string; received?: number }) => { if (m.op === 'count') r(m.received ?? 0); });
    sink.send({ op: 'count' });
  });
  sink.send({ op: 'stop' });
  sender.send({ op: 'stop' });

  const callsealSent = sentBefore;
  const lossPct = callsealSent > 0 ? (100 * (callsealSent - written)) / callsealSent : NaN;
  const usPerPacket = (cpu * 1e6) / Math.max(1, written);
  const sinkUsPerPacket = (sinkCpu * 1e6) / Math.max(1, sinkReceived);
  const result = {
    calls, concurrentPeak: maxLive, recordings: wavs.length, sippExit: sippCode ?? -1, packetsSent: callsealSent,
    packetsInWav: written, lossPct: Number(lossPct.toFixed(3)), lostPerCallseal: infoLost,
    callsealCpuPct: Number(((100 * cpu) / wall).toFixed(1)), callsealUsPerPacket: Number(usPerPacket.toFixed(2)),
    rssIdleMiB: Number(idleRss.toFixed(1)), rssAtPeakMiB: Number(rssAtPeak.toFixed(1)), rssPeakMiB: Number(peak.toFixed(1)),
    rssPerCallKiB: Number((((rssAtPeak - idleRss) * 1024) / Math.max(1, maxLive)).toFixed(1)),
    sinkPackets: sinkReceived, sinkUsPerPacket: Number(sinkUsPerPacket.toFixed(2)),
    cpuRatioToSink: Number((usPerPacket / sinkUsPerPacket).toFixed(2)), 
    steadyCallsealUsPerPacket: Number(((steadyCallseal.cpu * 1e6) / Math.max(1, steadyCallseal.packets)).toFixed(2)),
    steadySinkUsPerPacket: Number(((steadySink.cpu * 1e6) / Math.max(1, steadySink.packets)).toFixed(2)),
    steadyRatio: 0,
    steadyWindowMs: windowMs,
    optionsCount: rtts.length,
    optionsP50Ms: Number((rtts[Math.floor(rtts.length * 0.5)] ?? NaN).toFixed(2)),
    optionsP99Ms: Number((rtts[Math.floor(rtts.length * 0.99)] ?? NaN).toFixed(2)),
    optionsMaxMs: Number((rtts[rtts.length - 1] ?? NaN).toFixed(2)),
  };
  result.steadyRatio = Number((result.steadyCallsealUsPerPacket / result.steadySinkUsPerPacket).toFixed(2));
  console.log('\nsiprec-load');
  console.log(`  concurrent calls (peak)      ${result.concurrentPeak} of ${calls} (recordings written: ${result.recordings}, sessions ${finalHealth.siprec.sessions}, refused ${finalHealth.siprec.refused}, sipp exit ${result.sippExit})`);
  console.log(`  packets sent                 ${result.packetsSent}`);
  console.log(`  packets found in the WAVs    ${result.packetsInWav}  (loss ${result.lossPct} %; callseal's own lost count ${infoLost})`);
  console.log(`  callseal CPU                 ${result.callsealCpuPct} % of one core over ${wall.toFixed(1)} s, ${result.callsealUsPerPacket} µs per packet`);
  console.log(`  bare dgram sink CPU          ${result.sinkUsPerPacket} µs per packet (${sinkReceived} packets)`);
  console.log(`  ratio callseal / sink        ${result.cpuRatioToSink} whole run (call set-up, merge, fsync included)`);
  console.log(`  steady media phase           callseal ${result.steadyCallsealUsPerPacket} µs/packet, sink ${result.steadySinkUsPerPacket} µs/packet over ${windowMs} ms: ratio ${result.steadyRatio} (target ≤ 1.5)`);
  console.log(`  RSS idle / at peak / max     ${result.rssIdleMiB} / ${result.rssAtPeakMiB} / ${result.rssPeakMiB} MiB; ${result.rssPerCallKiB} KiB per call`);
  console.log(`  threads (CPU s, whole run)   ${threads.map(([n, c]) => `${n}=${c.toFixed(2)}`).join(' ')}`);
  console.log(`  SIP OPTIONS during media     ${result.optionsCount} pings: p50 ${result.optionsP50Ms} ms, p99 ${result.optionsP99Ms} ms, max ${result.optionsMaxMs} ms`);
  console.log(`  INVITE to 200 OK (sipp avg)  ${inviteRtt} (sipp's screen format)`);
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/siprec-load.json'), JSON.stringify(result, null, 2));
  return result;
}
