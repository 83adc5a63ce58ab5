/**
 * tools/verify.sh, given by auditors arguments they type: an option without its value at the end
 * must be a usage error, not a busy loop (`shift 2` fails with one argument left and shifts
 * nothing). And a sealed recording copied into folders with hostile names (spaces, a newline, a
 * leading `-`) verifies as it does elsewhere.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { silentLogger } from '../../src/common/log.ts';
import type { Config } from '../../src/config/index.ts';
import { openSealing } from '../../src/seal/index.ts';
import { Sealer } from '../../src/seal/index.ts';
import { WavWriter } from '../../src/media/index.ts';
import { emptyStats } from '../../src/rtp/index.ts';
import type { FinishedRecording } from '../../src/recording/index.ts';

const VERIFY_SH = resolve(import.meta.dirname, '../../tools/verify.sh');

function verifySh(args: readonly string[], cwd?: string): { status: number | null; out: string } {
  const r = spawnSync('bash', [VERIFY_SH, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let dir: string;
let base: string;
let certPem: string;
beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'callseal-review-sh-'));
  const sealing = await openSealing({ home, seal: { keyBits: 2048 } } as unknown as Config, 'review-sh', silentLogger());
  const sealer = new Sealer({ keys: sealing.keys, repo: sealing.repo, log: silentLogger() });
  dir = join(home, 'recordings', '2026/11/23');
  base = '20261123-100001-000_+49301_+49891_t0001';
  mkdirSync(dir, { recursive: true });
  const w = new WavWriter(join(dir, `${base}.wav`), { formatTag: 6, channels: 1, sampleRateHz: 8000, bitsPerSample: 8, byteRate: 8000, blockAlign: 1 });
  w.write(Buffer.alloc(800, 1));
  w.close();
  const finished: FinishedRecording = {
    dir, relDir: '2026/11/23', files: [`${base}.wav`], infoFile: `${base}_info.txt`,
    facts: {
      id: 't1', baseName: base, callId: 'call-1', siprecSessionId: undefined, startMs: 1795000001000, endMs: 1795000001500,
      endReason: 'bye', interrupted: false, lastPacketAtMs: undefined, caller: { number: '+49301', name: 'A', aor: '' },
      callee: { number: '+49891', name: 'B', aor: '' }, participants: [], direction: 'unknown', setting: 'all',
      channels: 'mono', codec: 'G.711 A-law (pcm_alaw)', streams: [{ role: 'mixed', label: '1', codec: 'PCMA', stats: emptyStats() }],
      audioFiles: [`${base}.wav`], metadataFiles: [], dtmf: [], recorder: 'callseal test', instanceId: 'review-sh', timeZone: 'UTC',
    },
  };
  await sealer.seal(finished);
  certPem = sealing.keys.certificatePem;
  sealing.close();
}, 120_000);

describe('tools/verify.sh arguments', () => {
  it('an option without its value is a usage error, not a hang', () => {
    for (const args of [['somebase', '--fingerprint'], ['somebase', '--cert']]) {
      const r = verifySh(args);
      expect(r.status, `verify.sh ${args.join(' ')}`).toBe(2);
    }
  });

  it('verifies a recording in folders named with spaces, a newline and a leading dash', () => {
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    for (const name of ['with space', 'new\nline', '-dash']) {
      const root = mkdtempSync(join(tmpdir(), 'callseal-review-sh-copy-'));
      const target = join(root, name);
      cpSync(dir, target, { recursive: true });
      writeFileSync(join(root, 'callseal-cert.pem'), certPem);
      const r = verifySh([join(target, base)], root);
      expect(r.out, JSON.stringify(name)).toContain('OK:');
      const rel = verifySh([`${name}/${base}`], root);
      expect(rel.out, JSON.stringify(name)).toContain('OK:');
    }
  });
});
