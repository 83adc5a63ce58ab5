/**
 * Issue 6: `callseal verify` must not trust a certificate merely because it lies in the tree
 * (invariant 7, E7). Each attack of the issue, judged by `callseal verify`, `tools/verify.sh`,
 * `sha256sum -c` and `openssl`:
 *   (a) a foreign key re-signs the newest recording and its certificate is dropped into the tree;
 *   (b) recordings 9-17 are re-chained and re-signed with a foreign key;
 *   (c) both certificate files are replaced and everything is re-signed (only a pin can tell);
 *   (d) after `keys reset`, all of epoch 1 is deleted (with and without the rollover record);
 * plus the rollover record itself (openssl verifies it) and a reset whose old key is lost.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { silentLogger } from '../../src/common/log.ts';
import type { Config } from '../../src/config/index.ts';
import { openSealing } from '../../src/seal/index.ts';
import { Checkpointer, KeyStore, Sealer, type SealedRecording } from '../../src/seal/index.ts';
import { openDatabase, RecordingRepository } from '../../src/store/index.ts';
import { writeTestRecording } from '../helpers/sealed.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CALLSEAL = join(ROOT, 'bin/callseal');
const VERIFY_SH = join(ROOT, 'tools/verify.sh');

interface Run { code: number; out: string; stdout: string }
function run(cmd: string, args: readonly string[], env: Record<string, string> = {}, cwd?: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

interface Report { ok: boolean; findings: { kind: string; recording: string; file?: string; message: string }[]; trust?: { pinned: boolean; keys: { epoch: number; certificateSha256: string; source: string }[] } }
/** `callseal verify --json` of a tree; CALLSEAL_HOME points at an empty folder, so nothing but the tree and the pins counts. */
function verify(root: string, ...extra: string[]): { code: number; report: Report; text: string } {
  const nowhere = mkdtempSync(join(tmpdir(), 'callseal-nohome-'));
  const r = run(CALLSEAL, ['verify', root, '--json', ...extra], { CALLSEAL_HOME: nowhere });
  const text = run(CALLSEAL, ['verify', root, ...extra], { CALLSEAL_HOME: nowhere });
  return { code: r.code, report: JSON.parse(r.stdout) as Report, text: text.out };
}

const fpOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** Seals `count` recordings into `home` (opening the key store as callseal start does). */
async function sealInto(home: string, count: number, first: number): Promise<SealedRecording[]> {
  const config = { home, seal: { keyBits: 2048 } } as unknown as Config;
  const sealing = await openSealing(config, 'seal-trust', silentLogger());
  const root = join(home, 'recordings');
  const sealer = new Sealer({ keys: sealing.keys, repo: sealing.repo, log: silentLogger() });
  const out: SealedRecording[] = [];
  for (let n = first; n < first + count; n++) {
    const finished = writeTestRecording(root, n, { relDir: `2026/11/${String(1 + (n % 2)).padStart(2, '0')}`, idPrefix: 't', instanceId: 'seal-trust' });
    out.push(await sealer.seal(finished));
  }
  // What callseal start leaves beside the recordings.
  writeFileSync(join(root, 'callseal-cert.pem'), sealing.keys.certificatePem);
  writeFileSync(join(root, `callseal-cert-epoch${sealing.keys.epoch}.pem`), sealing.keys.certificatePem);
  sealing.close();
  return out;
}

/** A foreign key and its self-signed certificate, made by openssl. */
function foreignKey(dir: string, cn = 'callseal seal-trust'): { key: KeyObject; pem: string } {
  mkdirSync(dir, { recursive: true });
  const r = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'f.key'), '-out', join(dir, 'f.pem'), '-days', '30', '-subj', `/CN=${cn}`]);
  if (r.code !== 0) throw new Error(r.out);
  return { key: createPrivateKey(readFileSync(join(dir, 'f.key'))), pem: readFileSync(join(dir, 'f.pem'), 'utf8') };
}

const spkiHex = (k: KeyObject): string => createHash('sha256').update(createPublicKey(k).export({ type: 'spki', format: 'der' })).digest('hex');

/**
 * What a forger does to one recording: edits its metadata (and, to re-chain, its link), writes a
 * correct hash file and signs it with the foreign key. Returns the new signature.
 */
function forge(base: string, key: KeyObject, certPem: string, link?: { previousSignature: string }): string {
  const info = `${base}_info.txt`;
  let text = readFileSync(info, 'utf8').replace(/^caller-name: .*$/m, 'caller-name: Forged');
  text = text.replace(/^public-key-sha256: .*$/m, `public-key-sha256: ${spkiHex(key)}`)
    .replace(/^certificate-sha256: .*$/m, `certificate-sha256: ${fpOf(certPem).replace(/:/g, '').toLowerCase()}`);
  if (link) text = text.replace(/^previous-signature: .*$/m, `previous-signature: ${link.previousSignature}`);
  writeFileSync(info, text);
  const hashFile = `${base}_hash.txt`;
  const dir = join(base, '..');
  const lines = readFileSync(hashFile, 'utf8').trim().split('\n').map((l) => {
    const name = l.slice(66);
    return `${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}  ${name}\n`;
  });
  writeFileSync(hashFile, lines.join(''));
  const sig = sign('sha256', readFileSync(hashFile), key).toString('base64');
  writeFileSync(`${base}_hash.SHA256withRSA.sig`, `${sig}\n`);
  return sig;
}

/** openssl's own judgement of a forged recording: the hash file holds and the signature verifies with the foreign certificate. */
function opensslAccepts(base: string, certFile: string): boolean {
  const dir = join(base, '..');
  const name = base.slice(dir.length + 1);
  if (run('sha256sum', ['-c', `${name}_hash.txt`], {}, dir).code !== 0) return false;
  const tmp = mkdtempSync(join(tmpdir(), 'callseal-ossl-'));
  writeFileSync(join(tmp, 'sig.bin'), Buffer.from(readFileSync(`${base}_hash.SHA256withRSA.sig`, 'utf8'), 'base64'));
  if (run('bash', ['-c', `openssl x509 -in '${certFile}' -noout -pubkey > '${tmp}/pub.pem'`]).code !== 0) return false;
  return run('openssl', ['dgst', '-sha256', '-verify', join(tmp, 'pub.pem'), '-signature', join(tmp, 'sig.bin'), `${base}_hash.txt`]).out.includes('Verified OK');
}

let one: { home: string; sealed: SealedRecording[]; realCert: string };
beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'callseal-trust-'));
  const sealed = await sealInto(home, 17, 1);
  one = { home, sealed, realCert: readFileSync(join(home, 'recordings', 'callseal-cert.pem'), 'utf8') };
}, 120_000);

/** A copy of the one-epoch tree; `at` maps a recording to its base path in the copy. */
function copyTree(): { root: string; at: (s: SealedRecording) => string; bySeq: (n: number) => SealedRecording } {
  const root = mkdtempSync(join(tmpdir(), 'callseal-attack-'));
  cpSync(join(one.home, 'recordings'), root, { recursive: true });
  const src = join(one.home, 'recordings');
  return {
    root,
    at: (s) => join(s.finished.dir, s.finished.facts.baseName).replace(src, root),
    bySeq: (n) => {
      const s = one.sealed.find((x) => x.chain.sequence === n);
      if (!s) throw new Error(`no #${n}`);
      return s;
    },
  };
}

describe('issue 6: certificates inside the tree are not a trust anchor', () => {
  it('the untouched tree passes, naming the fingerprint it trusted and that it was not pinned', () => {
    const c = copyTree();
    const v = verify(c.root);
    expect(v.code, v.text).toBe(0);
    expect(v.text).toContain(fpOf(one.realCert));
    expect(v.text).toMatch(/not pinned/i);
    const pinned = verify(c.root, '--fingerprint', fpOf(one.realCert));
    expect(pinned.code, pinned.text).toBe(0);
    expect(pinned.text).toMatch(/pinned \(--fingerprint\)/);
    expect(pinned.report.trust?.pinned).toBe(true);
  });

  it('(a) a foreign key re-signs the newest recording and its certificate is dropped into the tree', () => {
    const c = copyTree();
    const f = foreignKey(join(c.root, '..', `${c.root.split('/').pop() ?? 'x'}-f`));
    const newest = c.at(c.bySeq(17));
    forge(newest, f.key, f.pem);
    writeFileSync(join(c.root, 'callseal-cert-epoch1-renewed.pem'), f.pem);
    // Outside tools accept the forgery with the dropped certificate: only the trust decision can tell.
    expect(opensslAccepts(newest, join(c.root, 'callseal-cert-epoch1-renewed.pem'))).toBe(true);
    const v = verify(c.root);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'bad-signature', recording: expect.stringContaining(c.bySeq(17).finished.facts.baseName) as string }),
      expect.objectContaining({ kind: 'unlinked-certificate', file: 'callseal-cert-epoch1-renewed.pem' }),
    ]));
    // verify.sh trusts callseal-cert.pem beside the recording, never the dropped one.
    expect(run(VERIFY_SH, [newest]).code).not.toBe(0);
  });

  it('(b) recordings 9-17 re-chained and re-signed with a foreign key', () => {
    const c = copyTree();
    const f = foreignKey(join(c.root, '..', `${c.root.split('/').pop() ?? 'x'}-f`));
    let prev = c.bySeq(8).signature;
    for (let n = 9; n <= 17; n++) prev = forge(c.at(c.bySeq(n)), f.key, f.pem, { previousSignature: prev });
    writeFileSync(join(c.root, 'callseal-cert-2.pem'), f.pem);
    expect(opensslAccepts(c.at(c.bySeq(12)), join(c.root, 'callseal-cert-2.pem'))).toBe(true);
    const v = verify(c.root);
    expect(v.code, v.text).toBe(1);
    const bad = v.report.findings.filter((x) => x.kind === 'bad-signature').map((x) => x.recording);
    for (let n = 9; n <= 17; n++) expect(bad.some((r) => r.endsWith(c.bySeq(n).finished.facts.baseName))).toBe(true);
    expect(bad).toHaveLength(9);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'unlinked-certificate', file: 'callseal-cert-2.pem' })]));
  });

  it('(c) both certificate files replaced and everything re-signed: unpinned it says "not pinned" with the foreign fingerprint; pinned it fails', () => {
    const c = copyTree();
    const f = foreignKey(join(c.root, '..', `${c.root.split('/').pop() ?? 'x'}-f`));
    let prev = `public-key-sha256:${spkiHex(f.key)}`;
    for (let n = 1; n <= 17; n++) prev = forge(c.at(c.bySeq(n)), f.key, f.pem, { previousSignature: prev });
    writeFileSync(join(c.root, 'callseal-cert.pem'), f.pem);
    writeFileSync(join(c.root, 'callseal-cert-epoch1.pem'), f.pem);
    const realFile = join(c.root, '..', `${c.root.split('/').pop() ?? 'x'}-real.pem`);
    writeFileSync(realFile, one.realCert);

    const unpinned = verify(c.root);
    expect(unpinned.text).toContain(`trusted key, epoch 1: certificate SHA-256 ${fpOf(f.pem)}`);
    expect(unpinned.text).toMatch(/NOT PINNED/);
    expect(unpinned.report.trust?.pinned).toBe(false);

    const byFingerprint = verify(c.root, '--fingerprint', fpOf(one.realCert));
    expect(byFingerprint.code, byFingerprint.text).toBe(1);
    expect(byFingerprint.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'untrusted-key' })]));
    const lowerNoColons = verify(c.root, '--fingerprint', fpOf(one.realCert).replace(/:/g, '').toLowerCase());
    expect(lowerNoColons.code).toBe(1);
    const byCert = verify(c.root, '--cert', realFile);
    expect(byCert.code, byCert.text).toBe(1);

    const base = c.at(c.bySeq(5));
    const shUnpinned = run(VERIFY_SH, [base]);
    expect(shUnpinned.code).toBe(0);
    expect(shUnpinned.out).toContain(fpOf(f.pem));
    expect(shUnpinned.out).toMatch(/NOT PINNED/);
    const shPinned = run(VERIFY_SH, ['--fingerprint', fpOf(one.realCert), base]);
    expect(shPinned.code, shPinned.out).not.toBe(0);
    expect(shPinned.out).toContain('does not match the pinned fingerprint');
    expect(run(VERIFY_SH, ['--cert', realFile, base]).code).not.toBe(0);
  });
});

describe('issue 6: key rollover (keys reset)', () => {
  let two: { home: string; e1: SealedRecording[]; e2: SealedRecording[]; cert1: string; cert2: string };
  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-rollover-'));
    const e1 = await sealInto(home, 5, 1);
    const cert1 = readFileSync(join(home, 'recordings', 'callseal-cert.pem'), 'utf8');
    const reset = run(CALLSEAL, ['keys', 'reset', '--yes'], { CALLSEAL_HOME: home });
    expect(reset.code, reset.out).toBe(0);
    const e2 = await sealInto(home, 4, 6);
    two = { home, e1, e2, cert1, cert2: readFileSync(join(home, 'recordings', 'callseal-cert.pem'), 'utf8') };
  }, 120_000);

  const copyTwo = (): string => {
    const root = mkdtempSync(join(tmpdir(), 'callseal-two-'));
    cpSync(join(two.home, 'recordings'), root, { recursive: true });
    return root;
  };

  it('reset writes a rollover record, signed by the old key (openssl verifies it), naming the new key and the old head', () => {
    const chain = join(two.home, 'recordings', 'chain');
    const record = readFileSync(join(chain, 'rollover-epoch2.txt'), 'utf8');
    const head = two.e1[two.e1.length - 1];
    expect(record).toContain(`previous-head-sequence: 5`);
    expect(record).toContain(`previous-head-recording: ${head?.finished.facts.baseName ?? '?'}`);
    expect(record).toContain(`previous-head-signature: ${head?.signature ?? '?'}`);
    expect(record).toContain(`public-key-sha256: ${createHash('sha256').update(createPublicKey(two.cert2).export({ type: 'spki', format: 'der' })).digest('hex')}`);
    const tmp = mkdtempSync(join(tmpdir(), 'callseal-roll-'));
    writeFileSync(join(tmp, 'sig.bin'), Buffer.from(readFileSync(join(chain, 'rollover-epoch2.txt.old-key.sig'), 'utf8'), 'base64'));
    writeFileSync(join(tmp, 'c1.pem'), two.cert1);
    expect(run('bash', ['-c', `openssl x509 -in ${tmp}/c1.pem -noout -pubkey > ${tmp}/pub.pem`]).code).toBe(0);
    expect(run('openssl', ['dgst', '-sha256', '-verify', join(tmp, 'pub.pem'), '-signature', join(tmp, 'sig.bin'), join(chain, 'rollover-epoch2.txt')]).out).toContain('Verified OK');
  });

  it('both epochs verify through the rollover, pinned by the first key or by the current one', () => {
    const root = copyTwo();
    const v = verify(root);
    expect(v.code, v.text).toBe(0);
    expect(v.report.trust?.keys.map((k) => [k.epoch, k.source])).toEqual([[1, 'tree'], [2, 'rollover']]);
    expect(verify(root, '--fingerprint', fpOf(two.cert1)).code).toBe(0);
    const byCurrent = verify(root, '--fingerprint', fpOf(two.cert2));
    expect(byCurrent.code, byCurrent.text).toBe(0);
    expect(byCurrent.text).toContain(fpOf(two.cert2));
  });

  it('(d) deleting all of epoch 1 is a finding: the rollover names its head', () => {
    const root = copyTwo();
    for (const s of two.e1) {
      const dir = join(root, s.finished.relDir);
      for (const n of readdirSync(dir).filter((x) => x.startsWith(s.finished.facts.baseName))) rmSync(join(dir, n));
    }
    rmSync(join(root, 'callseal-cert-epoch1.pem'));
    const v = verify(root);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missing-tail', message: expect.stringContaining('epoch 1') as string })]));
  });

  it('(d) deleting all of epoch 1 and the rollover record: an installation whose first epoch is 2 without a rollover chain fails', () => {
    const root = copyTwo();
    for (const s of two.e1) {
      const dir = join(root, s.finished.relDir);
      for (const n of readdirSync(dir).filter((x) => x.startsWith(s.finished.facts.baseName))) rmSync(join(dir, n));
    }
    rmSync(join(root, 'callseal-cert-epoch1.pem'));
    rmSync(join(root, 'chain'), { recursive: true });
    const v = verify(root);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'key-chain', message: expect.stringContaining('epoch 2') as string })]));
    // Pinning the epoch-2 key does not make epoch 1 appear: the break stays a finding.
    expect(verify(root, '--fingerprint', fpOf(two.cert2)).code).toBe(1);
  });

  it('a rollover record removed while epoch 1 is kept is a break in the key chain', () => {
    const root = copyTwo();
    rmSync(join(root, 'chain'), { recursive: true });
    const v = verify(root);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'key-chain' })]));
  });

  it('the old key lost at reset: the rollover is unsigned, a break only pinning the new key bridges', async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-lost-'));
    await sealInto(home, 3, 1);
    // The key file is damaged: the old key cannot sign.
    const keyFile = join(home, 'keys', 'private-key.p8.pem');
    writeFileSync(keyFile, readFileSync(keyFile, 'utf8').replace(/[A-Za-z]{20}/, 'AAAAAAAAAAAAAAAAAAAA'));
    const reset = run(CALLSEAL, ['keys', 'reset', '--yes'], { CALLSEAL_HOME: home });
    expect(reset.code, reset.out).toBe(0);
    expect(reset.out).toMatch(/not signed by the old key/);
    await sealInto(home, 2, 4);
    const root = join(home, 'recordings');
    expect(existsSync(join(root, 'chain', 'rollover-epoch2.txt'))).toBe(true);
    expect(existsSync(join(root, 'chain', 'rollover-epoch2.txt.old-key.sig'))).toBe(false);
    const v = verify(root);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'key-chain', message: expect.stringContaining('not signed by the epoch-1 key') as string })]));
    const cert2 = readFileSync(join(root, 'callseal-cert.pem'), 'utf8');
    const bridged = verify(root, '--fingerprint', fpOf(cert2));
    expect(bridged.code, bridged.text).toBe(0);
  });
});

describe('issue 6: keys reset with the whole key store lost', () => {
  it('continues with the next epoch (not epoch 1 again) and writes an unsigned rollover record', async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-gone-'));
    await sealInto(home, 2, 1);
    rmSync(join(home, 'keys'), { recursive: true });
    const reset = run(CALLSEAL, ['keys', 'reset', '--yes'], { CALLSEAL_HOME: home });
    expect(reset.code, reset.out).toBe(0);
    expect(reset.out).toContain('new key for chain epoch 2');
    const record = readFileSync(join(home, 'recordings', 'chain', 'rollover-epoch2.txt'), 'utf8');
    expect(record).toMatch(/^old-key: unavailable \(/m);
    expect(record).toContain('previous-head-sequence: 2');
  });
});

describe('signed checkpoints in the tree (E8)', () => {
  it('catch the newest recordings deleted from a copy alone; a checkpoint signed by a foreign key is a finding', async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-cp-'));
    await sealInto(home, 4, 1);
    const root = join(home, 'recordings');
    const db = openDatabase(join(home, 'callseal.db'));
    const repo = new RecordingRepository(db);
    const { store: keys } = await KeyStore.open({ home, instanceId: 'seal-trust', chainExists: true });
    new Checkpointer({ recordingsRoot: root, keys, chainHead: () => repo.currentHead(), auditHead: () => undefined, log: silentLogger() }).write('test', true);
    db.close();
    const intact = verify(root);
    expect(intact.code, intact.text).toBe(0);
    expect(intact.text).toContain('signed checkpoints: 1');
    // The newest recording gone: the tree alone shows it now, no --head needed.
    const cut = mkdtempSync(join(tmpdir(), 'callseal-cut-'));
    cpSync(root, cut, { recursive: true });
    for (const dirName of ['2026/11/01', '2026/11/02']) for (const n of readdirSync(join(cut, dirName)).filter((x) => x.includes('_t0004_') || x.endsWith('_t0004.wav'))) rmSync(join(cut, dirName, n));
    const v = verify(cut);
    expect(v.code, v.text).toBe(1);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missing-tail' })]));
    // A forger's checkpoint (another key) is reported, never followed.
    const forged = mkdtempSync(join(tmpdir(), 'callseal-forged-'));
    cpSync(root, forged, { recursive: true });
    const other = mkdtempSync(join(tmpdir(), 'callseal-other-'));
    const { store: foreign } = await KeyStore.open({ home: other, instanceId: 'forger', chainExists: false });
    new Checkpointer({ recordingsRoot: forged, keys: foreign, chainHead: () => ({ epoch: 1, seq: 2, base: 'x', signature: 'y' }), auditHead: () => undefined, log: silentLogger(), now: () => 1 }).write('forged', true);
    const f = verify(forged);
    expect(f.code, f.text).toBe(1);
    expect(f.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'bad-checkpoint' })]));
  });
});
