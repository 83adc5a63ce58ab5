/**
 * `callseal verify` must not accept a recording whose signature file is there but empty. Somebody
 * who can write the recordings tree (no key) edits a recording or appends a forged one after the
 * newest, writes a correct hash file and leaves `<base>_hash.SHA256withRSA.sig` empty (a missing
 * signature file is reported; an empty one must be too). Also a recording left in the tree with no
 * hash file at all is not "every file holds". Pinned with --fingerprint, so nothing from
 * the tree is trusted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { silentLogger } from '../../src/common/log.ts';
import type { Config } from '../../src/config/index.ts';
import { openSealing } from '../../src/seal/index.ts';
import { Sealer, type SealedRecording } from '../../src/seal/index.ts';
import { writeTestRecording } from '../helpers/sealed.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CALLSEAL = join(ROOT, 'bin/callseal');

interface Report { ok: boolean; findings: { kind: string; recording: string; message: string }[] }
function verify(root: string, fingerprint: string): Report {
  const nowhere = mkdtempSync(join(tmpdir(), 'callseal-nohome-'));
  const r = spawnSync(CALLSEAL, ['verify', root, '--json', '--fingerprint', fingerprint], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: nowhere } });
  return JSON.parse(r.stdout) as Report;
}

async function sealInto(home: string, count: number): Promise<SealedRecording[]> {
  const config = { home, seal: { keyBits: 2048 } } as unknown as Config;
  const sealing = await openSealing(config, 'review-empty-sig', silentLogger());
  const root = join(home, 'recordings');
  const sealer = new Sealer({ keys: sealing.keys, repo: sealing.repo, log: silentLogger() });
  const out: SealedRecording[] = [];
  for (let n = 1; n <= count; n++) {
    const finished = writeTestRecording(root, n, { relDir: '2026/11/23', idPrefix: 't', instanceId: 'review-empty-sig' });
    out.push(await sealer.seal(finished));
  }
  writeFileSync(join(root, 'callseal-cert.pem'), sealing.keys.certificatePem);
  sealing.close();
  return out;
}

/** Rewrites the hash file of `base` (a path without suffix) to match the files as they are now. */
function rehash(base: string): void {
  const dir = join(base, '..');
  const hashFile = `${base}_hash.txt`;
  const lines = readFileSync(hashFile, 'utf8').trim().split('\n').map((l) => {
    const name = l.slice(66);
    return `${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}  ${name}\n`;
  });
  writeFileSync(hashFile, lines.join(''));
}

let home: string;
let sealed: SealedRecording[];
let fingerprint: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'callseal-review-'));
  sealed = await sealInto(home, 3);
  fingerprint = new X509Certificate(readFileSync(join(home, 'recordings', 'callseal-cert.pem'), 'utf8')).fingerprint256;
}, 120_000);

function copyTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'callseal-review-attack-'));
  cpSync(join(home, 'recordings'), root, { recursive: true });
  return root;
}

describe('callseal verify with an empty signature file', () => {
  it('the untouched tree verifies', () => {
    expect(verify(copyTree(), fingerprint)).toMatchObject({ ok: true, findings: [] });
  });

  it('reports the newest recording edited, re-hashed and left with an empty signature file', () => {
    const root = copyTree();
    const last = sealed[2];
    if (!last) throw new Error('no recording');
    const base = join(root, last.finished.relDir, last.finished.facts.baseName);
    const wav = readFileSync(`${base}.wav`);
    wav.fill(0x55, 44);
    writeFileSync(`${base}.wav`, wav);
    writeFileSync(`${base}_info.txt`, readFileSync(`${base}_info.txt`, 'utf8').replace(/^caller-name: .*$/m, 'caller-name: Forged'));
    rehash(base);
    writeFileSync(`${base}_hash.SHA256withRSA.sig`, '');
    const report = verify(root, fingerprint);
    expect(report.ok).toBe(false);
    expect(report.findings.length).toBeGreaterThan(0);
  });

  it('reports a forged recording appended after the newest one with an empty signature file', () => {
    const root = copyTree();
    const last = sealed[2];
    if (!last) throw new Error('no recording');
    const dir = join(root, last.finished.relDir);
    const oldBase = last.finished.facts.baseName;
    const newBase = '20261123-100099-000_+4930999_+4989999_t0099';
    const lastSig = readFileSync(join(dir, `${oldBase}_hash.SHA256withRSA.sig`), 'utf8').trim();
    writeFileSync(join(dir, `${newBase}.wav`), readFileSync(join(dir, `${oldBase}.wav`)));
    const info = readFileSync(join(dir, `${oldBase}_info.txt`), 'utf8').split(oldBase).join(newBase)
      .replace(/^chain-sequence: .*$/m, 'chain-sequence: 4')
      .replace(/^previous-recording: .*$/m, `previous-recording: ${oldBase}`)
      .replace(/^previous-signature: .*$/m, `previous-signature: ${lastSig}`)
      .replace(/^sealed-at-ms: (\d+)$/m, (_m, ms: string) => `sealed-at-ms: ${String(Number(ms) + 1000)}`)
      .replace(/^caller-name: .*$/m, 'caller-name: Forged');
    writeFileSync(join(dir, `${newBase}_info.txt`), info);
    writeFileSync(join(dir, `${newBase}_hash.txt`), readFileSync(join(dir, `${oldBase}_hash.txt`), 'utf8').split(oldBase).join(newBase));
    rehash(join(dir, newBase));
    writeFileSync(join(dir, `${newBase}_hash.SHA256withRSA.sig`), '\n');
    const report = verify(root, fingerprint);
    expect(report.ok).toBe(false);
    expect(report.findings.length).toBeGreaterThan(0);
  });

  it('reports a recording (audio and metadata) placed in the tree without any hash or signature file', () => {
    const root = copyTree();
    const last = sealed[2];
    if (!last) throw new Error('no recording');
    const dir = join(root, last.finished.relDir);
    const oldBase = last.finished.facts.baseName;
    const newBase = '20261123-110000-000_+4930999_+4989999_t0098';
    writeFileSync(join(dir, `${newBase}.wav`), readFileSync(join(dir, `${oldBase}.wav`)));
    writeFileSync(join(dir, `${newBase}_info.txt`), readFileSync(join(dir, `${oldBase}_info.txt`), 'utf8').split(oldBase).join(newBase));
    const report = verify(root, fingerprint);
    expect(report.ok).toBe(false);
    expect(report.findings.length).toBeGreaterThan(0);
  });
});
