/**
 * Issue 4 (a full disk kills the media workers), against the running callseal: CALLSEAL_HOME is a
 * real 24 MiB tmpfs, filled until about 2 MiB are free, and 15 sipp calls run into the full disk.
 * Each call's recording must end visibly (BYE, an `end-reason` naming the full file system), no
 * media worker may die, and once space is freed every recording is finished and sealed without a
 * restart, with the audio written before the disk filled, and `callseal verify` accepts them all.
 * Needs root (mount); skipped otherwise.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startCallseal, ffprobe, freePort, freeUdpBlock, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, siprecScenario } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { parseInfo } from '../../src/recording/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'callseal-diskfull-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', home]).status === 0;
let cs: CallsealProcess | undefined;
afterAll(async () => {
  await cs?.stop();
  if (mounted) spawnSync('umount', [home]);
  rmSync(home, { recursive: true, force: true });
});

const CALLS = 15;
const count = (c: CallsealProcess, msg: string): number => c.logs.filter((l) => l['msg'] === msg).length;

describe.skipIf(!mounted)('issue 4: a full disk during 15 calls', () => {
  it('ends each recording with end-reason disk-full, keeps the workers alive, and seals all 15 once space is freed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-diskfull-work-'));
    // The disk floor would refuse these calls on a 24 MiB disk: this test is about a disk that fills anyway.
    cs = await startCallseal({ home, config: { recording: { minFreeMb: 0, stopFreeMb: 0 } } });
    const c = cs;
    // Leave about 2 MiB: 15 calls write 240 KB/s, so the disk fills a few seconds into the calls.
    const fs = statfsSync(home);
    const filler = join(home, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 2 * 1024 * 1024)));

    const pcap = join(dir, 'long.pcap');
    writeRtpPcap(pcap, [
      { dstPort: 6000, payloadType: 8, ssrc: 7, audio: tone(440, 15, linearToAlaw) },
      { dstPort: 6002, payloadType: 8, ssrc: 8, audio: tone(1000, 15, linearToAlaw) },
    ]);
    const scenarioFile = join(dir, 'calls.xml');
    writeFileSync(scenarioFile, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: 20000 }));
    const sipp = spawn('sipp', ['-sf', scenarioFile, '-m', String(CALLS), '-l', String(CALLS), '-r', String(CALLS), '-i', '127.0.0.1', '-p', String(await freePort(27000, 28999)), '-mi', '127.0.0.1', '-mp', String(await freeUdpBlock(29000, 32699, 100)), '-t', 'u1', '-nostdin', '-timeout', '60s', `127.0.0.1:${c.sipPort}`], { cwd: dir, stdio: 'ignore' });
    try {
      await c.waitForLog(() => count(c, 'recording started') >= CALLS, 30000);
      // Every recording ends by the write error (callseal sends BYE), long before the 15 s of audio are over.
      // (A worker dying, as before the fix, ends the wait too, and fails the next check.)
      await c.waitForLog(() => count(c, 'recording ended by a write error') >= CALLS || count(c, 'media worker exited; starting a new one') > 0, 30000);
      expect(c.logs.filter((l) => l['msg'] === 'media worker exited; starting a new one')).toEqual([]);
      // While the disk is full, nothing is sealed and the recordings wait in the spool.
      await c.waitForLog((l) => l['msg'] === 'file system full while finishing a recording; trying again', 20000);
      expect(count(c, 'recording finished')).toBe(0);

      rmSync(filler);
      await c.waitForLog(() => count(c, 'recording finished') >= CALLS, 60000);
    } finally {
      sipp.kill('SIGKILL');
    }
    expect(c.logs.filter((l) => l['msg'] === 'media worker exited; starting a new one')).toEqual([]);
    expect(c.child.exitCode).toBeNull();

    const root = join(home, 'recordings');
    const infos = listFiles(root).filter((f) => f.endsWith('_info.txt'));
    expect(infos).toHaveLength(CALLS);
    for (const f of infos) {
      const m = parseInfo(readFileSync(join(root, f), 'utf8'));
      const one = (k: string): string => m.get(k)?.[0] ?? '';
      expect(one('end-reason')).toMatch(/^disk-full: file system full \(ENOSPC\) writing leg-\d\.wav$/);
      expect(one('interrupted')).toBe('no');
      // What was written before the disk filled is kept: some seconds, never more than the session.
      const probe = ffprobe(join(root, f.replace('_info.txt', '.wav')));
      expect(probe.channels).toBe(2);
      expect(probe.durationSec).toBeGreaterThan(0.5);
      expect(probe.durationSec).toBeLessThanOrEqual(Number(one('duration-ms')) / 1000 + 0.01);
    }
    const verify = spawnSync(join(ROOT, 'bin/callseal'), ['verify', root, '--json'], { encoding: 'utf8' });
    expect(verify.status, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, recordings: CALLS, findings: [] });
    expect(listFiles(join(home, 'spool'))).toEqual([]);
  });
});
