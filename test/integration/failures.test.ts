/**
 * Failures reach the call (invariant 3), against the real CLI:
 * - a media worker that dies mid-call (a real uncaught exception, armed by the documented
 *   test-only `CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS`): every recording of the worker is sealed
 *   with `end-reason` naming the failure, each SRC gets BYE with `Reason: SIP;cause=503`, an alert
 *   mail goes out, a new worker starts and the next call records;
 * - free space below `recording.minFreeMb` on a real 24 MiB tmpfs: 503 with Warning to the SRC, an
 *   alert, `/healthz` and `/readyz` 503, running calls sealed (below `recording.stopFreeMb` ended by
 *   callseal), and once space is back calls record again;
 * - the database on its own small tmpfs, filled: `/healthz` 503 naming the database, INVITEs
 *   refused with 503, no spool folder left by the refused call.
 * The tmpfs tests need root (mount); they are skipped otherwise.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, writeSync, readFileSync, rmSync, statfsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startCallseal, ffprobe, type CallsealProcess } from '../helpers/callseal.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/servers.ts';
import { ALICE, BOB, listFiles, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc, RtpSender } from '../helpers/src.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { getHeader } from '../../src/sip/index.ts';
import { parseInfo } from '../../src/recording/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const STREAMS = [{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }] as const;

let mail: MailCatcher;
let cs: CallsealProcess | undefined;
const srcs: RawSrc[] = [];
const senders: RtpSender[] = [];
const mounts: string[] = [];

beforeAll(async () => {
  mail = await startMailCatcher();
});
afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  for (const s of srcs.splice(0)) s.close();
  await cs?.stop();
  cs = undefined;
  for (const m of mounts.splice(0)) spawnSync('umount', [m]);
});
afterAll(async () => {
  await mail.stop();
});

function tryMount(sizeMb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-failures-fs-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]).status !== 0) return undefined;
  mounts.push(dir);
  return dir;
}
const canMount = ((): boolean => {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-failures-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
  if (ok) spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

const smtp = (): Record<string, unknown> => ({ smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'callseal@example.test', to: ['ops@example.test'] } });
const count = (c: CallsealProcess, msg: string): number => c.logs.filter((l) => l['msg'] === msg).length;
const waitCount = (c: CallsealProcess, msg: string, n: number, timeoutMs = 20000): Promise<unknown> => c.waitForLog(() => count(c, msg) >= n, timeoutMs);

async function until(check: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens a recorded call and starts its two streams; resolves once the INVITE is answered. */
async function call(c: CallsealProcess, seconds: number): Promise<{ src: RawSrc; playing: Promise<unknown> }> {
  const src = await RawSrc.connect('UDP', c.sipPort);
  srcs.push(src);
  const { response, ports } = await src.invite(STREAMS, rsMetadata(ALICE, BOB));
  expect(response.status, getHeader(response, 'warning')).toBe(200);
  const a = new RtpSender(ports[0] ?? 0, 8);
  const b = new RtpSender(ports[1] ?? 0, 8);
  senders.push(a, b);
  return { src, playing: Promise.all([a.play(tone(440, seconds, linearToAlaw)), b.play(tone(1000, seconds, linearToAlaw))]) };
}

/** Writes `path` until its file system is full (the database may take the last pages meanwhile). */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (let chunk = 1024 * 1024; chunk >= 512;) {
      try {
        writeSync(fd, Buffer.alloc(chunk));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        chunk /= 2;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The Reason header of the BYE callseal sent to an SRC. */
function byeReason(src: RawSrc): string | undefined {
  const bye = src.received.find((r) => r.method === 'BYE');
  return bye ? getHeader(bye, 'reason') : undefined;
}

/** A recording's `_info.txt` fields by Call-ID. */
function recordingOf(home: string, callId: string): { info: Map<string, string[]>; wav: string } {
  const root = join(home, 'recordings');
  for (const f of listFiles(root).filter((x) => x.endsWith('_info.txt'))) {
    const info = parseInfo(readFileSync(join(root, f), 'utf8'));
    if (info.get('call-id')?.[0] === callId) return { info, wav: join(root, f.replace('_info.txt', '.wav')) };
  }
  throw new Error(`no recording of ${callId}`);
}

function verifyAll(home: string, recordings: number): void {
  const root = join(home, 'recordings');
  const verify = spawnSync(join(ROOT, 'bin/callseal'), ['verify', root, '--json'], { encoding: 'utf8' });
  expect(verify.status, verify.stdout).toBe(0);
  expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, recordings, findings: [] });
  const base = listFiles(root).find((f) => f.endsWith('_info.txt'))?.replace('_info.txt', '') ?? '';
  const sh = spawnSync(join(ROOT, 'tools/verify.sh'), [join(root, base)], { encoding: 'utf8' });
  expect(sh.status, sh.stdout + sh.stderr).toBe(0);
}

async function http(c: CallsealProcess, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${c.httpPort}${path}`);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

describe('a media worker dies in the middle of calls', () => {
  it('seals each recording with the failure as end-reason, sends BYE with Reason, alerts, restarts the worker, and the next call records', async () => {
    // Two calls of two streams each in the one worker: 200 packets/s, so the worker crashes about
    // 1.5 s into the calls, by a real uncaught exception (see docs/configuration.md).
    cs = await startCallseal({ env: { CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS: '300' }, config: { rtp: { workers: 1 }, alerts: smtp() } });
    const c = cs;
    const calls = await Promise.all([call(c, 4), call(c, 4)]);
    await waitCount(c, 'media worker restarted', 1);
    for (const { src } of calls) await until(() => src.received.some((r) => r.method === 'BYE'), 'BYE to the SRC');
    for (const { src } of calls) {
      expect(byeReason(src)).toMatch(/^SIP;cause=503;text="media-worker-failed: error: .*test-only crash after 300 packets/);
    }
    await Promise.all(calls.map((x) => x.playing));
    await waitCount(c, 'recording finished', 2);
    for (const { src } of calls) {
      const { info, wav } = recordingOf(c.home, src.callId);
      expect(info.get('end-reason')?.[0]).toMatch(/^media-worker-failed: error: .*test-only crash after 300 packets/);
      // What the dead worker had written is kept, its header repaired: about 1.5 s of the 4 s.
      const probe = ffprobe(wav);
      expect(probe.channels).toBe(2);
      expect(probe.durationSec).toBeGreaterThan(0.8);
      expect(probe.durationSec).toBeLessThan(3.5);
    }
    await until(() => mail.messages.some((m) => m.subject.includes('media worker failed')), 'the alert mail');
    expect(mail.messages.find((m) => m.subject.includes('media worker failed'))?.text).toContain(calls[0].src.callId);
    const health = await http(c, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', failing: [], parts: { media: { ok: true, running: 1, failures: 1 } } });

    // The next call records in the new worker, to its end.
    const next = await call(c, 1);
    await next.playing;
    expect((await next.src.bye()).status).toBe(200);
    await waitCount(c, 'recording finished', 3);
    const { info, wav } = recordingOf(c.home, next.src.callId);
    expect(info.get('end-reason')?.[0]).toBe('bye');
    expect(ffprobe(wav).durationSec).toBeGreaterThan(0.9);
    expect(listFiles(join(c.home, 'spool'))).toEqual([]);
    verifyAll(c.home, 3);
  });
});

describe.skipIf(!canMount)('free space below the disk floor (24 MiB tmpfs)', () => {
  it('refuses new sessions with 503 and Warning, alerts, ends running calls below the stop threshold, seals everything, and records again with space', async () => {
    const home = tryMount(24);
    if (home === undefined) throw new Error('mount failed');
    cs = await startCallseal({ home, config: { recording: { minFreeMb: 12, stopFreeMb: 4, storageCheckMs: 300 }, alerts: smtp() } });
    const c = cs;
    expect((await http(c, '/readyz')).status).toBe(200);
    const a = await call(c, 6);
    // The second call sends 3 s of audio and stays up (its dialog is recording) until callseal ends it.
    const b = await call(c, 3);
    // Leave about 8 MiB: below the floor, above the stop threshold.
    const filler = join(home, 'filler.bin');
    // The filler only grows: rewriting it would free its space for a moment, and a storage check
    // in that moment would take new sessions again.
    const fill = (leaveMb: number): void => {
      const fs = statfsSync(home);
      const more = fs.bavail * fs.bsize - leaveMb * 1024 * 1024;
      if (more > 0) appendFileSync(filler, Buffer.alloc(more));
    };
    fill(8);
    await c.waitForLog((l) => l['msg'] === 'new recording sessions are refused');
    const refused = await RawSrc.connect('UDP', c.sipPort);
    srcs.push(refused);
    const r = await refused.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(r.response.status).toBe(503);
    expect(getHeader(r.response, 'warning')).toMatch(/^399 callseal "free space for recordings \d+ MiB is below the floor of 12 MiB/);
    expect(getHeader(r.response, 'retry-after')).toBe('30');
    const ready = await http(c, '/readyz');
    expect(ready.status).toBe(503);
    expect(String((ready.body['reasons'] as string[])[0])).toMatch(/below the floor/);
    const health = await http(c, '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'failing', failing: ['storage'], parts: { storage: { ok: false, minFreeMb: 12 } } });
    await until(() => mail.messages.some((m) => m.subject.includes('new calls refused: storage')), 'the refusal alert');

    // A running call goes on and ends normally, sealed.
    await a.playing;
    expect((await a.src.bye()).status).toBe(200);
    await waitCount(c, 'recording finished', 1);
    expect(recordingOf(home, a.src.callId).info.get('end-reason')?.[0]).toBe('bye');

    // Below the stop threshold callseal ends the other call itself, before the disk is full.
    fill(2);
    await until(() => b.src.received.some((m) => m.method === 'BYE'), 'BYE for the running call');
    expect(byeReason(b.src)).toMatch(/^SIP;cause=503;text="disk-low: \d+ MiB free/);
    await waitCount(c, 'recording finished', 2);
    const ended = recordingOf(home, b.src.callId);
    expect(ended.info.get('end-reason')?.[0]).toMatch(/^disk-low: \d+ MiB free, below recording.stopFreeMb \(4 MiB\)$/);
    expect(ffprobe(ended.wav).durationSec).toBeGreaterThan(1);
    await until(() => mail.messages.some((m) => m.subject.includes('recordings ended: disk nearly full')), 'the stop alert');
    await b.playing;

    // Space back: calls are taken and recorded again.
    rmSync(filler);
    await c.waitForLog((l) => l['msg'] === 'new recording sessions are taken again');
    expect((await http(c, '/readyz')).status).toBe(200);
    const again = await call(c, 1);
    await again.playing;
    expect((await again.src.bye()).status).toBe(200);
    await waitCount(c, 'recording finished', 3);
    expect(recordingOf(home, again.src.callId).info.get('end-reason')?.[0]).toBe('bye');
    await until(() => mail.messages.some((m) => m.subject.includes('new calls taken again: storage')), 'the recovery alert');
    // Nothing earlier was lost or left unsealed.
    expect(listFiles(join(home, 'spool'))).toEqual([]);
    verifyAll(home, 3);
  });
});

describe.skipIf(!canMount)('the database cannot be written (its own tmpfs, filled)', () => {
  it('answers /healthz 503 naming the database, refuses calls with 503, leaves nothing half-written, and takes calls once it can write', async () => {
    const dbfs = tryMount(16);
    if (dbfs === undefined) throw new Error('mount failed');
    const home = mkdtempSync(join(tmpdir(), 'callseal-failures-db-'));
    // The database (and its WAL) lives on the small file system; SQLite follows the link.
    symlinkSync(join(dbfs, 'callseal.db'), join(home, 'callseal.db'));
    cs = await startCallseal({ home, config: { recording: { storageCheckMs: 300 }, alerts: smtp() } });
    const c = cs;
    expect(existsSync(join(dbfs, 'callseal.db'))).toBe(true);
    const first = await call(c, 1);
    await first.playing;
    expect((await first.src.bye()).status).toBe(200);
    await waitCount(c, 'recording finished', 1);

    const filler = join(dbfs, 'filler.bin');
    fillUp(filler);
    await c.waitForLog((l) => l['msg'] === 'new recording sessions are refused');
    const health = await http(c, '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'failing', failing: ['database'], parts: { database: { ok: false, writable: false } } });
    // SQLite's own error for the full file system (SQLITE_FULL), not a guess.
    expect(JSON.stringify(health.body['parts'])).toMatch(/database not writable: [^"]*full/i);
    expect((await http(c, '/readyz')).status).toBe(503);
    const refused = await RawSrc.connect('UDP', c.sipPort);
    srcs.push(refused);
    const r = await refused.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(r.response.status).toBe(503);
    expect(getHeader(r.response, 'warning')).toMatch(/^399 callseal "database not writable: /);
    await until(() => mail.messages.some((m) => m.subject.includes('new calls refused: database')), 'the alert');
    // Nothing half-written: no spool folder, no recording of the refused call.
    expect(listFiles(join(home, 'spool'))).toEqual([]);
    expect(() => recordingOf(home, refused.callId)).toThrow(/no recording/);

    rmSync(filler);
    await c.waitForLog((l) => l['msg'] === 'new recording sessions are taken again');
    expect((await http(c, '/healthz')).status).toBe(200);
    const again = await call(c, 1);
    await again.playing;
    expect((await again.src.bye()).status).toBe(200);
    await waitCount(c, 'recording finished', 2);
    verifyAll(home, 2);
  });
});
