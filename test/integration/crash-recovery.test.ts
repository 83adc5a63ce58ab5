/**
 * Crash recovery (invariant 1): 20 concurrent sipp calls, callseal killed with SIGKILL mid-call,
 * restarted on the same home: 20 sealed recordings marked interrupted, audio kept up to the kill,
 * and a chain that `callseal verify` (and verify.sh, sha256sum) accept end to end. Issue 5: the
 * recovered recording's `last-packet` and duration are those of its audio, not the restart time.
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
import { RawSrc, RtpSender } from '../helpers/src.ts';

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

describe('issue 5: kill -9 during a call of known length', () => {
  it('takes last-packet and the duration from the audio, not from the restart time', async () => {
    await cs?.stop();
    cs = await startCallseal();
    const home = cs.home;
    const src = await RawSrc.connect('UDP', cs.sipPort);
    let lastSentMs = 0;
    let restartMs = 0;
    try {
      const { response, ports } = await src.invite([
        { label: '1', payloadType: 8, codec: 'PCMA' },
        { label: '2', payloadType: 8, codec: 'PCMA' },
      ], rsMetadata(ALICE, BOB));
      expect(response.status).toBe(200);
      const a = new RtpSender(ports[0] ?? 0, 8);
      const b = new RtpSender(ports[1] ?? 0, 8);
      // 4 s of audio, then the call stays up silent (no RTP) for 3 s before the kill.
      await Promise.all([a.play(tone(440, 4, linearToAlaw)), b.play(tone(1000, 4, linearToAlaw))]);
      lastSentMs = Date.now();
      a.close();
      b.close();
      await new Promise((r) => setTimeout(r, 3000));
      await cs.stop('SIGKILL');
      // The restart comes 4 s later: the old code read this time back as the last packet.
      await new Promise((r) => setTimeout(r, 4000));
      restartMs = Date.now();
      cs = await startCallseal({ home });
      expect(cs.logs.find((l) => l['msg'] === 'callseal listening')?.['recovered']).toBe(1);
    } finally {
      src.close();
    }
    const root = join(home, 'recordings');
    const info = listFiles(root).find((f) => f.endsWith('_info.txt')) ?? '';
    const m = parseInfo(readFileSync(join(root, info), 'utf8'));
    const one = (k: string): string => m.get(k)?.[0] ?? '';
    expect(one('interrupted')).toBe('yes');
    const startMs = Number(one('start-ms'));
    const lastPacketMs = Date.parse(one('last-packet'));
    const durationSec = Number(one('duration-ms')) / 1000;
    const audioSec = ffprobe(join(root, info.replace('_info.txt', '.wav'))).durationSec;
    // The last packet is when the audio stopped (within 1 s), long before the restart.
    expect(Math.abs(lastPacketMs - lastSentMs)).toBeLessThan(1000);
    expect(lastPacketMs).toBeLessThan(restartMs - 5000);
    expect(Math.abs(durationSec - audioSec)).toBeLessThan(1);
    expect(Math.abs(durationSec - (lastSentMs - startMs) / 1000)).toBeLessThan(1);
    expect(one('stats-caller')).toMatch(/expected=200 received=200 lost=0 /);
  });
});
