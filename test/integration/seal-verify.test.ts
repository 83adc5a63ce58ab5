/**
 * Sealing judged by outside tools: a chain of 50 sealed recordings passes `sha256sum -c`,
 * `openssl dgst -sha256 -verify`, `tools/verify.sh` and `callseal verify`; then each kind of
 * tampering (a flipped audio byte, an edited metadata file, a recording deleted from the middle,
 * two recordings swapped, a signature from another key) is caught by both verifiers, naming the file.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { silentLogger } from '../../src/common/log.ts';
import { openDatabase, RecordingRepository } from '../../src/store/index.ts';
import { KeyStore, Sealer, type SealedRecording } from '../../src/seal/index.ts';
import { writeTestRecording } from '../helpers/sealed.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const VERIFY_SH = join(ROOT, 'tools/verify.sh');

interface Run { code: number; out: string }
function sh(cmd: string, args: readonly string[], cwd?: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A home with a key store and `count` sealed recordings made by the real Sealer. */
async function sealedArchive(count: number): Promise<{ home: string; root: string; sealed: SealedRecording[]; cert: string }> {
  const home = mkdtempSync(join(tmpdir(), 'callseal-seal-'));
  const root = join(home, 'recordings');
  const db = openDatabase(join(home, 'callseal.db'));
  const repo = new RecordingRepository(db);
  const { store: keys } = await KeyStore.open({ home, instanceId: 'seal-test', chainExists: false });
  repo.startEpoch(keys.epoch, keys.spkiSha256, Date.now());
  const sealer = new Sealer({ keys, repo, log: silentLogger() });
  const sealed: SealedRecording[] = [];
  const jobs: Promise<SealedRecording>[] = [];
  for (let i = 0; i < count; i++) {
    const finished = writeTestRecording(root, i, { relDir: `2026/11/${String(1 + (i % 3)).padStart(2, '0')}`, idPrefix: 'r', instanceId: 'seal-test', channels: 'stereo' });
    // All handed to the sealer at once: the chain must still come out linear.
    jobs.push(sealer.seal(finished));
  }
  sealed.push(...await Promise.all(jobs));
  db.close();
  const cert = join(root, 'callseal-cert.pem');
  writeFileSync(cert, keys.certificatePem);
  return { home, root, sealed, cert };
}

function callsealVerify(folder: string, cert: string): { code: number; report: { ok: boolean; recordings: number; findings: { kind: string; recording: string; file?: string; message: string }[]; epochs: { count: number }[] } } {
  const r = spawnSync(join(ROOT, 'bin/callseal'), ['verify', folder, '--cert', cert, '--json'], { encoding: 'utf8' });
  return { code: r.status ?? -1, report: JSON.parse(r.stdout) as ReturnType<typeof callsealVerify>['report'] };
}

const pathOf = (s: SealedRecording, suffix: string): string => join(s.finished.dir, `${s.finished.facts.baseName}${suffix}`);
const baseOf = (s: SealedRecording): string => join(s.finished.dir, s.finished.facts.baseName);

let archive: Awaited<ReturnType<typeof sealedArchive>>;
beforeAll(async () => {
  archive = await sealedArchive(50);
}, 120_000);

/** A fresh copy of the archive for one tampering test. */
function copy(): { root: string; cert: string; at: (s: SealedRecording) => string } {
  const dst = mkdtempSync(join(tmpdir(), 'callseal-tamper-'));
  cpSync(archive.root, dst, { recursive: true });
  return { root: dst, cert: join(dst, 'callseal-cert.pem'), at: (s) => baseOf(s).replace(archive.root, dst) };
}

describe('a sealed chain of 50 recordings', () => {
  it('sealed one linear chain: sequence 1..50, each naming its predecessor', () => {
    const seqs = archive.sealed.map((s) => s.chain.sequence).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const bySeq = new Map(archive.sealed.map((s) => [s.chain.sequence, s]));
    expect(bySeq.get(1)?.chain.previousRecording).toBe('genesis');
    for (let i = 2; i <= 50; i++) expect(bySeq.get(i)?.chain.previousSignature).toBe(bySeq.get(i - 1)?.signature);
  });

  it('passes sha256sum -c, shasum -a 256 -c and openssl dgst -verify in the recording folder', () => {
    const s = archive.sealed[7];
    if (!s) throw new Error('no recording');
    const hashFile = `${s.finished.facts.baseName}_hash.txt`;
    expect(sh('sha256sum', ['-c', hashFile], s.finished.dir)).toMatchObject({ code: 0 });
    const shasum = sh('bash', ['-c', `command -v shasum >/dev/null && shasum -a 256 -c ${hashFile} || sha256sum -c ${hashFile}`], s.finished.dir);
    expect(shasum.code).toBe(0);
    const tmp = mkdtempSync(join(tmpdir(), 'sig-'));
    writeFileSync(join(tmp, 'sig.bin'), Buffer.from(readFileSync(pathOf(s, '_hash.SHA256withRSA.sig'), 'utf8'), 'base64'));
    expect(sh('bash', ['-c', `openssl x509 -in ${archive.cert} -noout -pubkey > ${tmp}/pub.pem`]).code).toBe(0);
    const v = sh('openssl', ['dgst', '-sha256', '-verify', join(tmp, 'pub.pem'), '-signature', join(tmp, 'sig.bin'), pathOf(s, '_hash.txt')]);
    expect(v.out).toContain('Verified OK');
  });

  it('passes verify.sh for every recording and callseal verify for the whole tree', () => {
    for (const s of archive.sealed.slice(0, 5)) expect(sh(VERIFY_SH, ['--cert', archive.cert, baseOf(s)]).code).toBe(0);
    const r = sh(VERIFY_SH, [baseOf(archive.sealed[9] ?? archive.sealed[0] ?? ({} as SealedRecording))]);
    expect(r.out).toContain('OK:');
    const v = callsealVerify(archive.root, archive.cert);
    expect(v.code).toBe(0);
    expect(v.report).toMatchObject({ ok: true, recordings: 50, findings: [] });
  });

  it('catches one flipped byte of audio (both verifiers name the file)', () => {
    const c = copy();
    const s = archive.sealed[20];
    if (!s) throw new Error('no recording');
    const wav = `${c.at(s)}.wav`;
    const bytes = readFileSync(wav);
    bytes[5000] = (bytes[5000] ?? 0) ^ 0x01;
    writeFileSync(wav, bytes);
    const sh1 = sh(VERIFY_SH, ['--cert', c.cert, c.at(s)]);
    expect(sh1.code).not.toBe(0);
    expect(sh1.out).toContain(`${s.finished.facts.baseName}.wav: FAILED`);
    const v = callsealVerify(c.root, c.cert);
    expect(v.code).toBe(1);
    expect(v.report.findings).toEqual([expect.objectContaining({ kind: 'altered-file', file: `${s.finished.facts.baseName}.wav` })]);
  });

  it('catches an edited metadata file', () => {
    const c = copy();
    const s = archive.sealed[33];
    if (!s) throw new Error('no recording');
    const info = `${c.at(s)}_info.txt`;
    writeFileSync(info, readFileSync(info, 'utf8').replace(/caller-number: \S+/, 'caller-number: +4900000'));
    const sh1 = sh(VERIFY_SH, ['--cert', c.cert, c.at(s)]);
    expect(sh1.code).not.toBe(0);
    expect(sh1.out).toContain(`${s.finished.facts.baseName}_info.txt: FAILED`);
    const v = callsealVerify(c.root, c.cert);
    expect(v.report.findings).toEqual([expect.objectContaining({ kind: 'altered-file', file: `${s.finished.facts.baseName}_info.txt` })]);
  });

  it('catches a recording deleted from the middle of the chain', () => {
    const c = copy();
    const victim = archive.sealed.find((s) => s.chain.sequence === 25);
    const next = archive.sealed.find((s) => s.chain.sequence === 26);
    if (!victim || !next) throw new Error('no recording');
    const dir = join(c.at(victim), '..');
    for (const f of readdirSync(dir).filter((n) => n.startsWith(victim.finished.facts.baseName))) rmSync(join(dir, f));
    expect(sh(VERIFY_SH, ['--cert', c.cert, c.at(victim)]).code).not.toBe(0);
    const v = callsealVerify(c.root, c.cert);
    expect(v.code).toBe(1);
    expect(v.report.findings).toHaveLength(1);
    expect(v.report.findings[0]).toMatchObject({ kind: 'missing-link' });
    expect(v.report.findings[0]?.recording).toContain(next.finished.facts.baseName);
    expect(v.report.findings[0]?.message).toContain(victim.finished.facts.baseName);
  });

  it('catches two recordings swapped (each one\'s files under the other\'s names)', () => {
    const c = copy();
    // Two recordings of the same folder, so the swap is a rename.
    const pair = archive.sealed.filter((s) => s.finished.dir === archive.sealed[0]?.finished.dir).slice(3, 5);
    const [x, y] = pair;
    if (!x || !y) throw new Error('no pair');
    const suffixes = ['.wav', '_info.txt', '_hash.txt', '_hash.SHA256withRSA.sig'];
    for (const sfx of suffixes) renameSync(`${c.at(x)}${sfx}`, `${c.at(x)}${sfx}.tmp`);
    for (const sfx of suffixes) renameSync(`${c.at(y)}${sfx}`, `${c.at(x)}${sfx}`);
    for (const sfx of suffixes) renameSync(`${c.at(x)}${sfx}.tmp`, `${c.at(y)}${sfx}`);
    const sx = sh(VERIFY_SH, ['--cert', c.cert, c.at(x)]);
    const sy = sh(VERIFY_SH, ['--cert', c.cert, c.at(y)]);
    expect(sx.code).not.toBe(0);
    expect(sy.code).not.toBe(0);
    const v = callsealVerify(c.root, c.cert);
    expect(v.code).toBe(1);
    const named = v.report.findings.map((f) => f.recording);
    expect(named.some((n) => n.endsWith(x.finished.facts.baseName))).toBe(true);
    expect(named.some((n) => n.endsWith(y.finished.facts.baseName))).toBe(true);
  });

  it('catches a signature replaced by one from another key', () => {
    const c = copy();
    const s = archive.sealed[40];
    if (!s) throw new Error('no recording');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const hash = readFileSync(`${c.at(s)}_hash.txt`);
    writeFileSync(`${c.at(s)}_hash.SHA256withRSA.sig`, `${sign('sha256', hash, privateKey).toString('base64')}\n`);
    const sh1 = sh(VERIFY_SH, ['--cert', c.cert, c.at(s)]);
    expect(sh1.code).not.toBe(0);
    expect(sh1.out).toContain('Verification failure');
    const v = callsealVerify(c.root, c.cert);
    expect(v.report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'bad-signature', file: `${s.finished.facts.baseName}_hash.SHA256withRSA.sig` })]));
    // The successor's link names the original signature, so the chain points at it too.
    for (const f of v.report.findings.filter((x) => x.kind !== 'bad-signature')) expect(f.kind).toBe('replaced-link');
  });

  it('catches the newest recordings deleted from the end, given the chain head (from the database)', () => {
    const c = copy();
    const last = archive.sealed.find((s) => s.chain.sequence === 50);
    if (!last) throw new Error('no recording');
    const dir = join(c.at(last), '..');
    for (const f of readdirSync(dir).filter((n) => n.startsWith(last.finished.facts.baseName))) rmSync(join(dir, f));
    // Without a head the tail cannot be missed: the chain still looks complete.
    expect(callsealVerify(c.root, c.cert).code).toBe(0);
    const withHead = spawnSync(join(ROOT, 'bin/callseal'), ['verify', c.root, '--cert', c.cert, '--json', '--head', '1:50'], { encoding: 'utf8' });
    expect(withHead.status).toBe(1);
    expect(withHead.stdout).toContain('missing-tail');
    // The installation's own head, read from its database.
    const fromDb = spawnSync(join(ROOT, 'bin/callseal'), ['verify', c.root, '--cert', c.cert, '--head-from-db'], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: archive.home } });
    expect(fromDb.status).toBe(1);
    expect(fromDb.stdout).toContain(last.finished.facts.baseName);
    const intact = spawnSync(join(ROOT, 'bin/callseal'), ['verify', archive.root, '--cert', archive.cert, '--head-from-db'], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: archive.home } });
    expect(intact.status, intact.stdout).toBe(0);
  });

  it('prints a readable text report and fails without a certificate', () => {
    const r = spawnSync(join(ROOT, 'bin/callseal'), ['verify', archive.root, '--cert', archive.cert], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('recordings: 50, intact and signed: 50');
    expect(r.stdout).toContain('chain epoch 1: #1..#50');
    const empty = mkdtempSync(join(tmpdir(), 'nocert-'));
    const other = spawnSync(join(ROOT, 'bin/callseal'), ['verify', empty], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: empty } });
    expect(other.status).not.toBe(0);
  });
});
