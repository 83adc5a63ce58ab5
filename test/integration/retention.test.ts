/**
 * Retention, legal holds and exports (F6, H7) against real peers: a local folder target, OpenSSH's
 * sshd (SFTP) and Samba's smbd (SMB). Recordings sealed by the real Sealer with a retention of one
 * day are archived by the real outbox; the retention job runs on a fake clock two days later and
 * deletes them from the local disk and every target's disk. The deletion records are checked with
 * `openssl dgst -verify`, `callseal verify` and `verify.sh` report "deleted by retention" (and
 * "missing" for a recording removed by hand); a forged record is a finding. A hold by number and
 * one by recording stop deletion; the second is released by two admins (the first alone cannot).
 * Exports (API and CLI) are unzipped with `unzip`; every recording passes `verify.sh`, the manifest
 * `sha256sum -c` and its signature `openssl dgst -sha256 -verify`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { DatabaseSync } from 'node:sqlite';
import { silentLogger } from '../../src/common/log.ts';
import type { Clock } from '../../src/common/clock.ts';
import { openDatabase, RecordingRepository, type RecordingRow } from '../../src/store/index.ts';
import { KeyStore, Sealer, type SealedRecording } from '../../src/seal/index.ts';
import { Outbox, TargetRegistry, createRetention, type Destination, type RetentionJob } from '../../src/archive/index.ts';
import { SecretBox } from '../../src/common/secretbox.ts';
import { AuditLog } from '../../src/web/audit.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { Retention } from '../../src/common/retention.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';
import { login } from '../helpers/web.ts';
import { startSmbd, startSshd, type Smbd, type Sshd } from '../helpers/servers.ts';
import { listFiles } from '../helpers/sipp.ts';
import { writeTestRecording } from '../helpers/sealed.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DAY_MS = 86_400_000;
/** The caller of the recordings held and exported by number, in international form. */
const CLIENT = '+4930123456';

interface Run { code: number; out: string }
function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', env: { ...process.env, ...opts.env } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

let sshd: Sshd;
let smbd: Smbd;
let home: string;
let root: string;
let db: DatabaseSync;
let repo: RecordingRepository;
let keys: KeyStore;
let audit: AuditLog;
let job: RetentionJob;
let api: TestApi;
let port: number;
let targets: TargetRegistry;
let outbox: Outbox;
let cert: string;
const clock = { now: 0, nowMs(): number { return this.now; }, monoMs(): number { return this.now; } } satisfies Clock & { now: number };
const rec: SealedRecording[] = [];
const localTarget = mkdtempSync(join(tmpdir(), 'callseal-local-target-'));

const row = (i: number): RecordingRow => {
  const r = repo.row(rec[i]?.finished.facts.id ?? '');
  if (!r) throw new Error(`no row ${i}`);
  return r;
};
const base = (i: number): string => rec[i]?.finished.facts.baseName ?? '';
const localFiles = (i: number): string[] => readdirSync(rec[i]?.finished.dir ?? '').filter((f) => f.startsWith(base(i)));
const remote = (dir: string, i: number): string[] => (existsSync(dir) ? listFiles(dir).filter((f) => f.includes(base(i)) && !f.startsWith('chain/')) : []);
const targetRoots = (): Record<string, string> => ({ local1: localTarget, sftp1: join(sshd.data, 'archive'), smb1: join(smbd.share, 'recordings') });

function callsealVerify(folder: string, json: boolean): Run {
  return sh(join(ROOT, 'bin/callseal'), ['verify', folder, '--cert', cert, ...(json ? ['--json'] : [])]);
}

beforeAll(async () => {
  [sshd, smbd] = await Promise.all([startSshd(), startSmbd()]);
  home = mkdtempSync(join(tmpdir(), 'callseal-retention-'));
  root = join(home, 'recordings');
  db = openDatabase(join(home, 'callseal.db'));
  repo = new RecordingRepository(db);
  ({ store: keys } = await KeyStore.open({ home, instanceId: 'retention-test', chainExists: false }));
  repo.startEpoch(keys.epoch, keys.spkiSha256, Date.now());
  const log = silentLogger();
  targets = new TargetRegistry(db, new SecretBox(home));
  targets.save({ id: 'local1', name: 'Local folder', pathTemplate: 'calls/$Y/$M/$D', config: { kind: 'local', path: localTarget } });
  targets.save({ id: 'sftp1', name: 'SFTP', pathTemplate: 'calls/$Y/$M/$D', config: { kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'archive' } });
  targets.save({ id: 'smb1', name: 'SMB', pathTemplate: 'calls/$Y/$M/$D', config: { kind: 'smb', host: '127.0.0.1', port: smbd.port, share: 'share', username: 'tester', password: 'Secret123', folder: 'recordings' } });
  const destination = (id: string): Destination | undefined => { const t = targets.get(id); return t ? { kind: 'files', ...t } : undefined; };
  outbox = new Outbox({
    db, log, timeZone: 'UTC', retryBaseMs: 1000, retryMaxMs: 60_000, destination,
    recording: (id) => { const r = repo.get(id); return r ? { id, dir: join(root, r.dir), files: r.files, startMs: r.startMs } : undefined; },
  });
  audit = new AuditLog(db);
  const config = parseConfig({ archive: { legalHoldTwoPersonRelease: true } });
  const retention = createRetention({
    db, repo, outbox, keys, verifyKeys: () => [keys.publicKey], recordingsRoot: root, workRoot: join(home, 'cache'), destination, timeZone: 'UTC',
    numbers: config.numbers, archive: config.archive, log, clock, audit: (e) => { audit.append({ actor: 'retention', address: '-', ...e }); },
  });
  job = retention.job;

  // Seven recordings, one chain: 0 stays local (1 day), 1 is archived everywhere (1 day), 2 is
  // archived to SFTP and SMB and held by number (1 day), 3 stays local and is held by recording
  // (1 day), 4 is kept (removed by hand later), 5 is kept, 6 is kept for 30 days (the client's too).
  const plan: { retention: Retention; targets: string[]; caller?: string }[] = [
    { retention: { days: 1 }, targets: [], caller: CLIENT }, { retention: { days: 1 }, targets: ['local1', 'sftp1', 'smb1'] },
    { retention: { days: 1 }, targets: ['sftp1', 'smb1'], caller: '030123456' }, { retention: { days: 1 }, targets: [] },
    { retention: 'keep', targets: [] }, { retention: 'keep', targets: [] }, { retention: { days: 30 }, targets: [], caller: '004930123456' },
  ];
  const sealer = new Sealer({ keys, repo, log });
  for (const [i, p] of plan.entries()) {
    const f = writeTestRecording(root, i + 1, { relDir: '2026/11/18', idPrefix: 'k', instanceId: 'retention-test', channels: 'stereo' });
    const facts = { ...f.facts, retention: p.retention, targetIds: p.targets, ...(p.caller !== undefined ? { caller: { ...f.facts.caller, number: p.caller } } : {}) };
    rec.push(await sealer.seal({ ...f, facts }));
    outbox.enqueue(facts.id, p.targets);
  }
  writeFileSync(join(root, 'callseal-cert.pem'), keys.certificatePem);
  writeFileSync(join(root, 'callseal-cert-epoch1.pem'), keys.certificatePem);
  copyFileSync(join(ROOT, 'tools/verify.sh'), join(root, 'verify.sh'));
  cert = join(root, 'callseal-cert.pem');
  for (let i = 0; i < 10 && outbox.jobs().length > 0; i++) await outbox.runOnce(Date.now() + 3_600_000);

  api = await buildTestApi({
    retention: { holds: retention.holds, exporter: retention.exporter, removals: retention.removals },
    recordings: { repo, recordingsRoot: root, keys: () => [keys.publicKey], cacheRoot: join(home, 'cache'), certificateFile: (e) => join(root, `callseal-cert-epoch${e}.pem`) },
    outbox, audit, targets,
  }, { home, db });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const a = api.app.server.address();
  port = typeof a === 'object' && a ? a.port : 0;
  for (const [username, roles] of [['admin1', ['admin']], ['admin2', ['admin']], ['audit1', ['auditor']]] as const) {
    await api.accounts.create({ username, displayName: username, roles: [...roles], password: `${username}-password-1` });
  }
}, 120_000);

afterAll(async () => {
  await api.close();
  await job.close();
  await targets.close();
  db.close();
  await Promise.all([sshd.stop(), smbd.stop()]);
  for (const d of [home, localTarget]) rmSync(d, { recursive: true, force: true });
});

describe('retention (F6)', () => {
  it('fixes each retain-until at sealing, from the start of the call', () => {
    expect(row(0).retainUntilMs).toBe(row(0).startMs + DAY_MS);
    expect(row(4).retainUntilMs).toBeUndefined();
    expect(row(6).retainUntilMs).toBe(row(6).startMs + 30 * DAY_MS);
    // The archived recordings reached every target and left the local disk (F1).
    expect(localFiles(1)).toEqual([]);
    for (const dir of Object.values(targetRoots())) expect(remote(dir, 1).length).toBe(row(1).files.length);
  });

  it('sets holds by number and by recording; releasing needs two admins', async () => {
    const admin1 = await login(port, 'admin1', 'admin1-password-1');
    const admin2 = await login(port, 'admin2', 'admin2-password-1');
    const byNumber = await admin1.call('POST', '/api/holds', { number: '030 123456', from: '2026-11-18T00:00:00Z', reason: 'BaFin request 2026-17' });
    expect(byNumber.status, byNumber.text).toBe(201);
    expect(byNumber.json).toMatchObject({ number: CLIENT, state: 'active', createdBy: 'admin1' });
    const byRec = await admin1.call('POST', '/api/holds', { recordingId: row(3).id, reason: 'complaint 4711' });
    expect(byRec.status).toBe(201);
    expect((await admin1.call('POST', '/api/holds', { reason: 'nothing named' })).status).toBe(400);
    expect((await admin1.call('POST', '/api/holds', { number: 'abc', reason: 'x' })).status).toBe(400);

    clock.now = row(0).startMs + 2 * DAY_MS;
    // Recordings 0 and 2 are the client's (held by number), 3 is held by recording: only 1 goes.
    expect(await job.runOnce()).toMatchObject({ started: 1, deleted: 1, held: 3, failedRemovals: 0 });
    expect(row(1).deletedMs).toBe(clock.now);
    expect(existsSync(join(root, '2026/11/18', `${base(3)}_hash.txt`))).toBe(true);
    // The hold is on the recording's page, with its retain-until.
    const auditor = await login(port, 'audit1', 'audit1-password-1');
    const page = (await auditor.call('GET', `/api/recordings/${row(3).id}`)).json as { holds: { reason: string }[]; retainUntilMs: number; retention: unknown };
    expect(page).toMatchObject({ retainUntilMs: row(3).retainUntilMs, retention: { days: 1 } });
    expect(page.holds.map((h) => h.reason)).toEqual(['complaint 4711']);
    // An auditor may set a hold but not release one.
    expect((await auditor.call('POST', `/api/holds/${(byRec.json as { id: number }).id}/release`)).status).toBe(403);

    const id = (byRec.json as { id: number }).id;
    const asked = await admin1.call('POST', `/api/holds/${id}/release`);
    expect(asked.json).toMatchObject({ state: 'release-requested', releaseRequestedBy: 'admin1' });
    const alone = await admin1.call('POST', `/api/holds/${id}/release`);
    expect(alone.status).toBe(409);
    expect((await job.runOnce()).held).toBe(3);
    const released = await admin2.call('POST', `/api/holds/${id}/release`);
    expect(released.json).toMatchObject({ state: 'released', releasedBy: 'admin2', releaseRequestedBy: 'admin1' });
    expect((await admin2.call('POST', `/api/holds/${id}/release`)).status).toBe(409);
    const trail = audit.query({ object: `legal-hold:${id}` }).map((e) => `${e.action}:${e.actor}:${e.outcome}`);
    expect(trail).toEqual(expect.arrayContaining(['legal-hold:admin1:ok', 'legal-hold-release-requested:admin1:ok', 'legal-hold-release:admin1:denied', 'legal-hold-release:admin2:ok']));
    // Only now recording 3 goes.
    const after = await job.runOnce();
    expect(after).toMatchObject({ started: 1, deleted: 1, held: 2 });
    expect(localFiles(3)).toEqual([]);
    expect(row(3).deletedMs).toBe(clock.now);
  });

  it('deleted the recording archived everywhere from each target; a number hold released leaves the one still held by recording', async () => {
    const admin1 = await login(port, 'admin1', 'admin1-password-1');
    const admin2 = await login(port, 'admin2', 'admin2-password-1');
    const holds = ((await admin1.call('GET', '/api/holds')).json as { holds: { id: number; number: string | null; state: string }[] }).holds;
    const numberHold = holds.find((h) => h.number === CLIENT && h.state === 'active');
    expect(numberHold).toBeDefined();
    // The number hold moves to recording 2 only: a new hold on it, the number hold released.
    expect((await admin1.call('POST', '/api/holds', { recordingId: row(2).id, reason: 'BaFin request 2026-17, the one call' })).status).toBe(201);
    await admin1.call('POST', `/api/holds/${numberHold?.id ?? 0}/release`);
    await admin2.call('POST', `/api/holds/${numberHold?.id ?? 0}/release`);
    expect(await job.runOnce()).toMatchObject({ started: 1, deleted: 1, held: 1, failedRemovals: 0 });
    expect(localFiles(0)).toEqual([]);
    expect(row(0).deletedMs).toBe(clock.now);
    expect(row(1).deletedMs).toBeLessThan(clock.now + 1);
    for (const [id, dir] of Object.entries(targetRoots())) {
      expect(remote(dir, 1), id).toEqual([]);
      // The deletion record lies beside the copies, for a verifier run on the target's disk.
      expect(existsSync(join(dir, row(1).deletionRecord ?? 'x')), id).toBe(true);
      if (id !== 'local1') expect(remote(dir, 2).length, id).toBe(row(2).files.length);
    }
    const actions = audit.query({ object: `recording:${row(1).id}` }).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['retention-delete', 'retention-deleted']));
    // The kept recordings stay; the one with 30 days too.
    for (const i of [4, 5, 6]) expect(localFiles(i).length, String(i)).toBe(row(i).files.length);
    // A deleted recording cannot be fetched or played: 410.
    const auditor = await login(port, 'audit1', 'audit1-password-1');
    expect((await auditor.call('GET', `/api/recordings/${row(1).id}/audio`)).status).toBe(410);
  });

  it('retries a removal the target refuses, without losing the deletion', async () => {
    // Recording 2's hold goes; SMB is stopped, so only its SFTP copy can go at first.
    const admin1 = await login(port, 'admin1', 'admin1-password-1');
    const admin2 = await login(port, 'admin2', 'admin2-password-1');
    const h = ((await admin1.call('GET', '/api/holds')).json as { holds: { id: number; recordingId: string | null; state: string }[] }).holds.find((x) => x.recordingId === row(2).id && x.state === 'active');
    await admin1.call('POST', `/api/holds/${h?.id ?? 0}/release`);
    await admin2.call('POST', `/api/holds/${h?.id ?? 0}/release`);
    const smbDir = join(smbd.share, 'recordings');
    await smbd.stop();
    const first = await job.runOnce();
    expect(first).toMatchObject({ started: 1, deleted: 0, failedRemovals: 1 });
    expect(row(2).deletionStartedMs).toBe(clock.now);
    expect(row(2).deletedMs).toBeUndefined();
    expect(remote(join(sshd.data, 'archive'), 2)).toEqual([]);
    expect(remote(smbDir, 2).length).toBe(row(2).files.length);
    const backlog = (await admin1.call('GET', '/api/retention')).json as { removals: { targetId: string; failing: number }[] };
    expect(backlog.removals).toEqual([expect.objectContaining({ targetId: 'smb1', failing: 1 })]);
    await smbd.start();
    clock.now += 3_600_000;
    expect(await job.runOnce()).toMatchObject({ deleted: 1, failedRemovals: 0 });
    expect(remote(smbDir, 2)).toEqual([]);
    expect(row(2).deletedMs).toBe(clock.now);
  });

  it('signs deletion records that openssl verifies; callseal verify and verify.sh say "deleted by retention", and "missing" for a recording removed by hand', () => {
    const record = join(root, row(1).deletionRecord ?? 'x');
    const text = readFileSync(record, 'utf8');
    expect(text).toContain(`recording: ${base(1)}`);
    expect(text).toContain(`signature: ${row(1).signature}`);
    expect(text).toContain('reason: retention-expired');
    expect(text).toContain('retention: 1 day');
    const dir = mkdtempSync(join(tmpdir(), 'callseal-deletion-'));
    sh('sh', ['-c', `openssl x509 -in "${cert}" -noout -pubkey > pub.pem && openssl base64 -d -A -in "${record}.sig" -out sig.bin`], { cwd: dir });
    const v = sh('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.bin', record], { cwd: dir });
    expect(v.out).toContain('Verified OK');

    // Recording 4 removed by hand: missing, not deleted.
    for (const f of row(4).files) rmSync(join(root, row(4).dir, f));
    const r = callsealVerify(root, true);
    const report = JSON.parse(r.out) as { ok: boolean; deleted: { base: string; reason: string }[]; findings: { kind: string; message: string }[] };
    expect(report.deleted.map((d) => d.base).sort()).toEqual([base(0), base(1), base(2), base(3)].sort());
    expect(report.findings.map((f) => f.kind)).toEqual(['missing-link']);
    expect(report.findings[0]?.message).toContain(`1 recording(s) missing between ${base(3)} (#4) and ${base(5)} (#6)`);
    expect(r.code).toBe(1);
    const text2 = callsealVerify(root, false).out;
    expect(text2).toContain(`${base(1)} (epoch 1 #2): deleted by retention on ${new Date(row(1).deletionStartedMs ?? 0).toISOString().slice(0, 10)} (1 day)`);

    const deletedSh = sh('bash', [join(root, 'verify.sh'), join(root, row(1).dir, base(1))]);
    expect(deletedSh.code, deletedSh.out).toBe(3);
    expect(deletedSh.out).toMatch(/DELETED: .* was deleted by retention on \d{4}-\d{2}-\d{2} \(1 day\)/);
    const missingSh = sh('bash', [join(root, 'verify.sh'), join(root, row(4).dir, base(4))]);
    expect(missingSh.code).toBe(1);
    expect(missingSh.out).toContain('is missing: no');

    // On the SFTP target's disk: its copy of recording 1 is gone with its record beside the others.
    const sftp = JSON.parse(callsealVerify(join(sshd.data, 'archive'), true).out) as { deleted: { base: string }[]; findings: { kind: string }[] };
    expect(sftp.deleted.map((d) => d.base).sort()).toEqual([base(1), base(2)].sort());
    expect(sftp.findings.filter((f) => f.kind === 'bad-deletion-record')).toEqual([]);
  });

  it('reports a forged deletion record and counts its recording as missing', () => {
    const copy = mkdtempSync(join(tmpdir(), 'callseal-forged-'));
    cpSync(root, copy, { recursive: true });
    const record = join(copy, row(0).deletionRecord ?? 'x');
    writeFileSync(record, readFileSync(record, 'utf8').replace('retention: 1 day', 'retention: 2 days'));
    const report = JSON.parse(callsealVerify(copy, true).out) as { deleted: { base: string }[]; findings: { kind: string; message: string }[] };
    expect(report.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['bad-deletion-record', 'missing-link']));
    expect(report.findings.find((f) => f.kind === 'missing-link')?.message).toContain(`recordings 1..1 before ${base(1)} are missing`);
    expect(report.deleted.map((d) => d.base)).not.toContain(base(0));
    expect(sh('bash', [join(copy, 'verify.sh'), join(copy, row(0).dir, base(0))]).code).toBe(1);
  });
});

describe('export (H7)', () => {
  const checkKit = (zip: Buffer): { dir: string; manifest: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-export-'));
    writeFileSync(join(dir, 'export.zip'), zip);
    const unzip = sh('unzip', ['-q', 'export.zip', '-d', 'x'], { cwd: dir });
    expect(unzip.code, unzip.out).toBe(0);
    const x = join(dir, 'x');
    const sums = sh('sha256sum', ['-c', 'manifest.txt'], { cwd: x });
    expect(sums.code, sums.out).toBe(0);
    sh('sh', ['-c', 'openssl x509 -in callseal-cert.pem -noout -pubkey > pub.pem'], { cwd: x });
    const sig = sh('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'manifest.sig', 'manifest.txt'], { cwd: x });
    expect(sig.out).toContain('Verified OK');
    for (const h of listFiles(join(x, 'recordings')).filter((f) => f.endsWith('_hash.txt'))) {
      const v = sh('bash', ['verify.sh', '--fingerprint', keys.certificateFingerprint, join('recordings', h.replace(/_hash\.txt$/, ''))], { cwd: x });
      expect(v.code, v.out).toBe(0);
    }
    return { dir: x, manifest: readFileSync(join(x, 'manifest.txt'), 'utf8') };
  };

  it('exports every recording of a number through the API, with the deletion records of those retention deleted', async () => {
    const auditor = await login(port, 'audit1', 'audit1-password-1');
    expect((await auditor.call('GET', '/api/export')).status).toBe(400);
    const res = await auditor.call('GET', `/api/export?number=${encodeURIComponent('+49 30 123456')}`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const { dir, manifest } = checkKit(res.bytes);
    expect(manifest).toContain(`# recording 1: ${base(6)} chain 1:7`);
    expect(manifest).toContain(`# deleted by retention on `);
    expect(manifest).toContain(base(0));
    expect(manifest).toContain(base(2));
    expect(listFiles(join(dir, 'recordings')).filter((f) => f.endsWith('_hash.txt'))).toEqual([`2026/11/18/${base(6)}_hash.txt`]);
    expect(existsSync(join(dir, row(0).deletionRecord ?? 'x'))).toBe(true);
    expect(readFileSync(join(dir, 'README.txt'), 'utf8')).toContain('openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.txt');
    await until(() => audit.query({ action: 'export' }).length > 0);
    expect(audit.query({ action: 'export' })[0]).toMatchObject({ actor: 'audit1', details: { recordings: 1, deletedByRetention: 2 } });
  });

  it('exports a period from the command line, fetching a recording whose local copy is gone from a target', async () => {
    // Recording 5 is archived to SFTP now; its local copy goes (F1).
    const r5 = row(5);
    outbox.enqueue(r5.id, ['sftp1']);
    await outbox.runOnce(Date.now() + 3_600_000);
    expect(localFiles(5)).toEqual([]);
    const out = join(home, 'period.zip');
    const r = sh(join(ROOT, 'bin/callseal'), ['export', '--from', new Date(r5.startMs).toISOString(), '--to', new Date(row(6).startMs + 1).toISOString(), '-o', out], { env: { CALLSEAL_HOME: home } });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('2 recording(s), 1 fetched from storage targets');
    const { manifest } = checkKit(readFileSync(out));
    expect(manifest.split('\n').find((l) => l.startsWith(`# recording 1: ${base(5)} `))).toMatch(/ source archive:sftp1 verified$/);
    expect(audit.query({ action: 'export' })[0]).toMatchObject({ actor: expect.stringMatching(/^cli:/) as unknown, details: { recordings: 2, fromArchive: 1 } });
    expect(remote(join(sshd.data, 'archive'), 5).length).toBe(r5.files.length);
  });
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
