/**
 * Starts the real callseal CLI as a child process on free loopback ports, waits for it to listen,
 * and stops it (SIGTERM, or SIGKILL for crash tests).
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';

const ROOT = resolve(import.meta.dirname, '../..');

/** A running callseal child process. */
export interface CallsealProcess {
  readonly home: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly rtpPorts: [number, number];
  readonly child: ChildProcess;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

async function udpTcpFree(port: number): Promise<boolean> {
  const udp = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((res) => {
    udp.once('error', () => { res(false); });
    udp.bind(port, '127.0.0.1', () => { res(true); });
  });
  udp.close();
  if (!ok) return false;
  const srv = net.createServer();
  const ok2 = await new Promise<boolean>((res) => {
    srv.once('error', () => { res(false); });
    srv.listen(port, '127.0.0.1', () => { res(true); });
  });
  await new Promise<void>((r) => { srv.close(() => { r(); }); });
  return ok2;
}

/*
 * Test ports stay below Linux's ephemeral range (32768-60999), so no socket the OS numbers itself
 * (a client connection, a dgram bound to 0) can take them between choosing and binding:
 * 10000-14999 servers and listeners, 15000-26999 callseal RTP blocks, 27000-28999 sipp's SIP,
 * 29000-32699 sipp's media.
 */

/** A port free on UDP and TCP at 127.0.0.1. */
export async function freePort(min = 10000, max = 14999): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = min + Math.floor(Math.random() * (max - min));
    if (await udpTcpFree(p)) return p;
  }
  throw new Error('no free port');
}

/** The first port of `count` consecutive UDP ports, all free, starting at a multiple of `step`. */
export async function freeUdpBlock(min: number, max: number, count: number, step = 2): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = min + step * Math.floor((Math.random() * (max - min - count)) / step);
    let free = true;
    // Checking every port of a large block is slow; the first, every tenth and the last are enough.
    for (let p = base; p < base + count && free; p += count > 20 ? 10 : 1) free = await udpFree(p);
    if (free && await udpFree(base + count - 1)) return base;
  }
  throw new Error('no free UDP block');
}

async function udpFree(port: number): Promise<boolean> {
  const udp = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((res) => {
    udp.once('error', () => { res(false); });
    udp.bind(port, '127.0.0.1', () => { res(true); });
  });
  if (ok) udp.close();
  return ok;
}

/** Calls `fn` for every complete line a stream yields. */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}

/** Starts callseal with a fresh CALLSEAL_HOME (or the one given) and optional config. */
export async function startCallseal(options: { home?: string; config?: Record<string, unknown>; env?: Record<string, string>; rtpPorts?: [number, number] } = {}): Promise<CallsealProcess> {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'callseal-test-'));
  const sipPort = await freePort();
  const httpPort = await freePort();
  const rtpBase = options.rtpPorts?.[0] ?? await freeUdpBlock(15000, 26999, 200, 200);
  const rtpPorts: [number, number] = options.rtpPorts ?? [rtpBase, rtpBase + 199];
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    CALLSEAL_HOME: home, CALLSEAL_SIP_PORT: String(sipPort), CALLSEAL_HTTP_PORT: String(httpPort),
    CALLSEAL_RTP_PORTS: `${rtpPorts[0]}-${rtpPorts[1]}`, CALLSEAL_LOG_LEVEL: 'debug', ...options.env,
  };
  const config = { sip: { host: '127.0.0.1', ...(options.config?.['sip'] as object | undefined) }, rtp: { host: '127.0.0.1', ...(options.config?.['rtp'] as object | undefined) }, ...Object.fromEntries(Object.entries(options.config ?? {}).filter(([k]) => k !== 'sip' && k !== 'rtp')) };
  const configFile = join(home, 'test-config.json');
  writeFileSync(configFile, JSON.stringify(config));
  env['CALLSEAL_CONFIG'] = configFile;
  const child = spawn(join(ROOT, 'bin/callseal'), ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  onLines(child.stdout, (line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      for (const w of [...waiters]) if (w.match(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    } catch {
      logs.push({ raw: line });
    }
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((res) => { child.on('exit', (code) => { res(code); }); });
  const waitForLog = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 15000): Promise<Record<string, unknown>> => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((res, rej) => {
      const t = setTimeout(() => { rej(new Error(`log line not seen in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}; last logs: ${JSON.stringify(logs.slice(-5))}`)); }, timeoutMs);
      waiters.push({ match, resolve: (l) => { clearTimeout(t); res(l); } });
    });
  };
  // Start-up creates an RSA key and derives its passphrase with scrypt: on a loaded 2-core machine
  // that alone can take longer than a log line is normally awaited.
  try {
    await Promise.race([
      waitForLog((l) => l['msg'] === 'callseal listening', 50_000),
      exited.then((code) => { throw new Error(`callseal exited with ${String(code)} before listening: ${stderr}`); }),
    ]);
  } catch (err) {
    // A process that never came up is not left behind for later tests to trip over.
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    home, sipPort, httpPort, rtpPorts, child, logs, waitForLog,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs a command and returns stdout (throws on failure). */
export function run(cmd: string, args: readonly string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** ffprobe's view of an audio file. */
export function ffprobe(path: string): { codec: string; channels: number; sampleRate: number; durationSec: number } {
  const out = JSON.parse(run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path])) as {
    streams: { codec_name: string; channels: number; sample_rate: string; duration?: string }[]; format: { duration: string };
  };
  const s = out.streams[0];
  if (!s) throw new Error(`ffprobe found no stream in ${path}`);
  return { codec: s.codec_name, channels: s.channels, sampleRate: Number(s.sample_rate), durationSec: Number(s.duration ?? out.format.duration) };
}
