/**
 * Crash recovery (invariant 1): 20 concurrent sipp calls, callseal killed with SIGKILL mid-call,
 * restarted on the same home: 20 sealed recordings marked interrupted, audio kept up to the kill,
 * and a chain that `callseal verify` (and verify.sh, sha256sum) accept end to end.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startCallseal, ffprobe, freePort, freeUdpBlock, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, siprecScenario } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { parseInfo } from '../../src/recording/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let cs: CallsealProcess | undefined;
afterAll(async () => {
  await cs?.stop();
});

describe('kill -9 during 20 calls', () => {
  it('recovers, seals 20 interrupted recordings, and the chain verifies end to end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-crash-'));
    cs = await startCallseal();
    const home = cs.home;
    const pcap = join(dir, 'long.pcap');
    writeRtpPcap(pcap, [
      { dstPort: 6000, payloadType: 8, ssrc: 7, audio: tone(440, 20, linearToAlaw) },
      { dstPort: 6002, payloadType: 8, ssrc: 8, audio: tone(1000, 20, linearToAlaw) },
    ]);
    const scenarioFile = join(dir, 'calls.xml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(scenarioFile, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: 30000 }));
    const sipp = spawn('sipp', ['-sf', scenarioFile, '-m', '20', '-l', '20', '-r', '20', '-i', '127.0.0.1', '-p', String(await freePort(27000, 28999)), '-mi', '127.0.0.1', '-mp', String(await freeUdpBlock(29000, 32699, 100)), '-t', 'u1', '-nostdin', '-timeout', '60s', `127.0.0.1:${cs.sipPort}`], { cwd: dir, stdio: 'ignore' });
    try {
      const c = cs;
      await c.waitForLog(() => c.logs.filter((l) => l['msg'] === 'recording started').length >= 20, 30000);
      await new Promise((r) => setTimeout(r, 3000));
      const killedAtMs = Date.now();
      await c.stop('SIGKILL');
      sipp.kill('SIGKILL');
      expect(listFiles(join(home, 'spool')).filter((f) => f.endsWith('state.json'))).toHaveLength(20);

      cs = await startCallseal({ home });
      const listening = cs.logs.find((l) => l['msg'] === 'callseal listening');
      expect(listening?.['recovered']).toBe(20);
      expect(listFiles(join(home, 'spool'))).toEqual([]);

      const root = join(home, 'recordings');
      const infos = listFiles(root).filter((f) => f.endsWith('_info.txt'));
      expect(infos).toHaveLength(20);
      const seqs: number[] = [];
      for (const f of infos) {
        const m = parseInfo(readFileSync(join(root, f), 'utf8'));
        const one = (k: string): string => m.get(k)?.[0] ?? '';
        expect(one('interrupted')).toBe('yes');
        expect(one('last-packet')).not.toBe('');
        seqs.push(Number(one('chain-sequence')));
        // Audio up to the kill is kept: at most the 100 ms flush interval and the 60 ms reorder window are lost.
        const wav = join(root, f.replace('_info.txt', '.wav'));
        const probe = ffprobe(wav);
        expect(probe.channels).toBe(2);
        const expectedSec = (killedAtMs - Number(one('start-ms'))) / 1000;
        expect(probe.durationSec).toBeGreaterThan(expectedSec - 0.4);
        expect(probe.durationSec).toBeLessThan(expectedSec + 0.2);
      }
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

      const verify = spawnSync(join(ROOT, 'bin/callseal'), ['verify', root, '--json'], { encoding: 'utf8' });
      const report = JSON.parse(verify.stdout) as { ok: boolean; recordings: number; interrupted: string[]; findings: unknown[] };
      expect(verify.status, verify.stdout).toBe(0);
      expect(report).toMatchObject({ ok: true, recordings: 20, findings: [] });
      expect(report.interrupted).toHaveLength(20);
      const one = infos[0]?.replace('_info.txt', '') ?? '';
      expect(spawnSync(join(ROOT, 'tools/verify.sh'), [join(root, one)], { encoding: 'utf8' }).status).toBe(0);
    } finally {
      sipp.kill('SIGKILL');
    }
  });
});
