/**
 * The S3 target against a real Ceph radosgw (single node, memstore, started here), judged with the
 * aws CLI against the same server: copies go through the outbox and are verified; a COMPLIANCE
 * version can neither be deleted nor have its retention shortened; GOVERNANCE needs the bypass;
 * a legal hold blocks deletion until released; a hold set after the upload reaches the stored
 * copies and its release clears it (a target down meanwhile catches up on the next run); a short retention runs out and the version can
 * then be deleted; `test` names what is wrong (no Object Lock, keys, endpoint, bucket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoldSync, LegalHolds, S3Target, Outbox, TargetError, type S3TargetConfig } from '../../src/archive/index.ts';
import { HoldRepository, openDatabase, RecordingRepository } from '../../src/store/index.ts';
import { DEFAULT_CONTEXT } from '../../src/policy/index.ts';
import { silentLogger } from '../../src/common/log.ts';
import { awsCli, awsCliError, startRgw, type Rgw } from '../helpers/rgw.ts';
import { freePort } from '../helpers/callseal.ts';

let rgw: Rgw;
let dir: string;
const targets: S3Target[] = [];

function target(over: Partial<S3TargetConfig> = {}, options?: ConstructorParameters<typeof S3Target>[1]): S3Target {
  const t = new S3Target({
    kind: 's3', endpoint: rgw.endpoint, region: 'us-east-1', bucket: 'locked', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey,
    pathStyle: true, prefix: '', lockMode: 'COMPLIANCE', ...over,
  }, options);
  targets.push(t);
  return t;
}

function file(name: string, bytes: number): string {
  const p = join(dir, name);
  writeFileSync(p, randomBytes(bytes));
  return p;
}

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

interface Versions { Versions?: { Key: string; VersionId: string }[]; DeleteMarkers?: { Key: string }[] }

beforeAll(async () => {
  rgw = await startRgw();
  dir = mkdtempSync(join(tmpdir(), 'callseal-s3-'));
  await awsCli(rgw, ['s3api', 'create-bucket', '--bucket', 'locked', '--object-lock-enabled-for-bucket']);
  await awsCli(rgw, ['s3api', 'create-bucket', '--bucket', 'plain']);
}, 120_000);
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await rgw.stop();
});

// Each test runs the aws CLI several times (a Python start each, seconds on a loaded machine).
describe('S3 target with Object Lock against Ceph radosgw', { timeout: 120_000 }, () => {
  it('copies a recording through the outbox, verified, locked in COMPLIANCE until the retention ends', async () => {
    const db = openDatabase(join(dir, 'outbox.db'));
    const recDir = join(dir, 'rec1');
    mkdirSync(recDir);
    const files = ['20261123-120000-000_+4930_+4989_a.wav', '20261123-120000-000_+4930_+4989_a_info.txt'];
    for (const f of files) writeFileSync(join(recDir, f), randomBytes(f.endsWith('.wav') ? 960_094 : 400));
    const hashes = files.map((f) => sha256(join(recDir, f)));
    const s3 = target({ prefix: 'archive' });
    const startMs = Date.UTC(2026, 10, 23, 12);
    const retainUntilMs = Date.now() + 24 * 3600_000;
    const outbox = new Outbox({
      db, log: silentLogger(), timeZone: 'UTC', retryBaseMs: 1000, retryMaxMs: 60_000,
      destination: () => ({ kind: 'files', target: s3, pathTemplate: 'calls/$Y/$M/$D' }),
      recording: (id) => (id === 'r1' ? { id, dir: recDir, files, startMs } : undefined),
    });
    outbox.enqueue('r1', ['s3'], { retainUntilMs });
    await outbox.runOnce();
    expect(outbox.jobs('r1')).toMatchObject([{ state: 'done', lastError: null }]);
    expect(outbox.localDeleted('r1')).toBe(true);
    expect(existsSync(join(recDir, files[0] ?? ''))).toBe(false);
    outbox.close();
    db.close();

    // The aws CLI sees what callseal stored: the same bytes, locked in COMPLIANCE until the retention ends.
    for (const [i, f] of files.entries()) {
      const key = `archive/calls/2026/11/23/${f}`;
      const down = join(dir, `down-${i}`);
      await awsCli(rgw, ['s3api', 'get-object', '--bucket', 'locked', '--key', key, down]);
      expect(sha256(down)).toBe(hashes[i]);
      const head = await awsCli(rgw, ['s3api', 'head-object', '--bucket', 'locked', '--key', key]) as { ObjectLockMode?: string; ObjectLockRetainUntilDate?: string };
      expect(head.ObjectLockMode).toBe('COMPLIANCE');
      expect(Math.abs(Date.parse(head.ObjectLockRetainUntilDate ?? '') - retainUntilMs)).toBeLessThan(1000);
      const ret = await awsCli(rgw, ['s3api', 'get-object-retention', '--bucket', 'locked', '--key', key]) as { Retention: { Mode: string; RetainUntilDate: string } };
      expect(ret.Retention.Mode).toBe('COMPLIANCE');
    }
  });

  it('refuses to delete a COMPLIANCE version or shorten its retention, even with bypass; a delete without version only adds a marker', async () => {
    const s3 = target({ prefix: 'compliance' });
    const local = file('c.wav', 5000);
    await s3.put(local, 'x/c.wav', { retainUntilMs: Date.now() + 24 * 3600_000 });
    const lock = await s3.describeLock('x/c.wav');
    expect(lock).toMatchObject({ mode: 'COMPLIANCE', legalHold: false, worm: true });
    const versionId = lock?.versionId ?? '';
    await expect(s3.remove('x/c.wav')).rejects.toMatchObject({ stage: 'locked' });
    await expect(s3.remove('x/c.wav', { bypassGovernance: true })).rejects.toThrow(TargetError);
    await expect(s3.setRetention('x/c.wav', Date.now() + 3600_000)).rejects.toMatchObject({ stage: 'locked' });
    // The same refusals from the outside.
    expect(await awsCliError(rgw, ['s3api', 'delete-object', '--bucket', 'locked', '--key', 'compliance/x/c.wav', `--version-id=${versionId}`])).toMatch(/AccessDenied/);
    expect(await awsCliError(rgw, ['s3api', 'delete-object', '--bucket', 'locked', '--key', 'compliance/x/c.wav', `--version-id=${versionId}`, '--bypass-governance-retention'])).toMatch(/AccessDenied/);
    expect(await awsCliError(rgw, ['s3api', 'put-object-retention', '--bucket', 'locked', '--key', 'compliance/x/c.wav', `--version-id=${versionId}`,
      '--retention', `Mode=GOVERNANCE,RetainUntilDate=${new Date(Date.now() + 48 * 3600_000).toISOString()}`])).toMatch(/AccessDenied/);
    // Extending is allowed.
    const longer = Date.now() + 48 * 3600_000;
    await s3.setRetention('x/c.wav', longer);
    expect(Math.abs((await s3.describeLock('x/c.wav'))?.retainUntilMs ?? 0) - longer).toBeLessThan(1000);
    // A plain delete hides the key behind a delete marker; the locked version stays readable.
    await awsCli(rgw, ['s3api', 'delete-object', '--bucket', 'locked', '--key', 'compliance/x/c.wav']);
    expect(await s3.stat('x/c.wav')).toBeUndefined();
    const back = join(dir, 'c.back');
    await awsCli(rgw, ['s3api', 'get-object', '--bucket', 'locked', '--key', 'compliance/x/c.wav', `--version-id=${versionId}`, back]);
    expect(sha256(back)).toBe(sha256(local));
  });

  it('GOVERNANCE: a delete needs the bypass', async () => {
    const s3 = target({ prefix: 'governance', lockMode: 'GOVERNANCE' });
    await s3.put(file('g.wav', 3000), 'g.wav', { retainUntilMs: Date.now() + 24 * 3600_000 });
    expect(await awsCli(rgw, ['s3api', 'head-object', '--bucket', 'locked', '--key', 'governance/g.wav'])).toMatchObject({ ObjectLockMode: 'GOVERNANCE' });
    await expect(s3.remove('g.wav')).rejects.toMatchObject({ stage: 'locked' });
    await s3.remove('g.wav', { bypassGovernance: true });
    const v = await awsCli(rgw, ['s3api', 'list-object-versions', '--bucket', 'locked', '--prefix', 'governance/']) as Versions | undefined;
    expect(v?.Versions ?? []).toEqual([]);
    expect(v?.DeleteMarkers ?? []).toEqual([]);
  });

  it('a legal hold set after the upload holds the stored copies; its release (no other hold left) clears it; a target down catches up', async () => {
    const db = openDatabase(join(dir, 'holds.db'));
    const repo = new RecordingRepository(db);
    repo.startEpoch(1, 'k', 0);
    const files = ['20261124-090000-000_+4930555111_+4989_h.wav', '20261124-090000-000_+4930555111_+4989_h_info.txt'];
    const recDir = join(dir, 'rec-hold');
    mkdirSync(recDir);
    for (const f of files) writeFileSync(join(recDir, f), randomBytes(2000));
    const startMs = Date.UTC(2026, 10, 24, 9);
    repo.insertSealed({
      id: 'h1', baseName: 'b', dir: 'rec-hold', callId: 'c', startMs, endMs: startMs + 1000, callerNumber: '+4930555111', callerName: '', calleeNumber: '+4989',
      calleeName: '', direction: 'in', setting: 's', channels: 'stereo', codec: 'PCMA', interrupted: false, files, hashFileSha256: '', signature: 'sig', chainEpoch: 1,
      chainSeq: 1, previous: 'genesis', sealedAtMs: startMs,
    });
    const s3 = target({ prefix: 'late-hold' });
    // An endpoint nobody listens on: the target is down.
    const down = target({ prefix: 'late-hold', endpoint: `http://127.0.0.1:${await freePort()}` });
    let current: S3Target = s3;
    const destination = (): { kind: 'files'; target: S3Target; pathTemplate: string } => ({ kind: 'files', target: current, pathTemplate: 'calls/$Y/$M/$D' });
    const outbox = new Outbox({
      db, log: silentLogger(), timeZone: 'UTC', retryBaseMs: 1000, retryMaxMs: 60_000, destination,
      recording: (id) => (id === 'h1' ? { id, dir: recDir, files, startMs } : undefined),
    });
    outbox.enqueue('h1', ['s3'], { retainUntilMs: Date.now() + 3600_000 });
    await outbox.runOnce();
    expect(outbox.jobs('h1')).toMatchObject([{ state: 'done' }]);
    const holds = new LegalHolds({ repo: new HoldRepository(db), numbers: DEFAULT_CONTEXT, twoPersonRelease: false, recordingExists: (id) => repo.has(id) });
    const errors: string[] = [];
    const sync = new HoldSync({ repo, holds, outbox, destination, timeZone: 'UTC', log: silentLogger(), noteError: (m) => { errors.push(m); } });
    const status = async (f: string): Promise<unknown> => awsCli(rgw, ['s3api', 'get-object-legal-hold', '--bucket', 'locked', '--key', `late-hold/calls/2026/11/24/${f}`]);
    const statuses = async (): Promise<unknown[]> => Promise.all(files.map(status));
    const on = files.map(() => ({ LegalHold: { Status: 'ON' } }));
    const off = files.map(() => ({ LegalHold: { Status: 'OFF' } }));

    // Uploaded without a hold: the object has none.
    const head = await awsCli(rgw, ['s3api', 'head-object', '--bucket', 'locked', '--key', `late-hold/calls/2026/11/24/${files[0] ?? ''}`]) as { ObjectLockLegalHoldStatus?: string };
    expect(head.ObjectLockLegalHoldStatus ?? 'OFF').toBe('OFF');
    const byNumber = holds.add({ number: '030 555-111', reason: 'court order' }, 'admin', Date.now());
    expect(await sync.apply(byNumber)).toEqual({ applied: 2, failed: 0 });
    expect(await statuses()).toEqual(on);
    // A second hold (the recording) keeps the copies held when the first is released.
    const byRecording = holds.add({ recordingId: 'h1', reason: 'audit' }, 'admin', Date.now());
    await sync.apply(byRecording);
    holds.release(byNumber.id, 'admin', Date.now());
    await sync.apply(byNumber);
    expect(await statuses()).toEqual(on);
    // The last one released while the target is down: reported, and the next periodic run clears it.
    current = down;
    holds.release(byRecording.id, 'admin', Date.now());
    expect(await sync.apply(byRecording)).toEqual({ applied: 0, failed: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/legal hold off for recording h1 on target s3/);
    expect(await statuses()).toEqual(on);
    current = s3;
    expect(await sync.reapply(Date.now())).toEqual({ applied: 2, failed: 0 });
    expect(await statuses()).toEqual(off);
    outbox.close();
    db.close();
  });

  it('a legal hold blocks deletion until it is released', async () => {
    const s3 = target({ prefix: 'hold' });
    await s3.put(file('h.wav', 3000), 'h.wav', { legalHold: true });
    expect(await awsCli(rgw, ['s3api', 'get-object-legal-hold', '--bucket', 'locked', '--key', 'hold/h.wav'])).toEqual({ LegalHold: { Status: 'ON' } });
    await expect(s3.remove('h.wav')).rejects.toMatchObject({ stage: 'locked' });
    await s3.setLegalHold('h.wav', false);
    expect(await awsCli(rgw, ['s3api', 'get-object-legal-hold', '--bucket', 'locked', '--key', 'hold/h.wav'])).toEqual({ LegalHold: { Status: 'OFF' } });
    await s3.remove('h.wav');
    expect(await s3.describeLock('h.wav')).toBeUndefined();
  });

  it('a short COMPLIANCE retention runs out, then the version can be deleted', async () => {
    const s3 = target({ prefix: 'short' });
    const until = Date.now() + 3000;
    await s3.put(file('s.wav', 2000), 's.wav', { retainUntilMs: until });
    await expect(s3.remove('s.wav')).rejects.toMatchObject({ stage: 'locked' });
    await new Promise((r) => setTimeout(r, until - Date.now() + 1500));
    await s3.remove('s.wav');
    const v = await awsCli(rgw, ['s3api', 'list-object-versions', '--bucket', 'locked', '--prefix', 'short/']) as Versions | undefined;
    expect(v?.Versions ?? []).toEqual([]);
  });

  it('uploads a large file in parts, each with Content-MD5, verified by reading back', async () => {
    const s3 = target({ prefix: 'multipart' }, { multipartThresholdBytes: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 });
    const local = file('big.wav', 12 * 1024 * 1024 + 123);
    await s3.put(local, 'big.wav', { retainUntilMs: Date.now() + 3600_000 });
    expect(await s3.stat('big.wav')).toEqual({ size: 12 * 1024 * 1024 + 123 });
    expect(await s3.sha256('big.wav')).toBe(sha256(local));
    const head = await awsCli(rgw, ['s3api', 'head-object', '--bucket', 'locked', '--key', 'multipart/big.wav']) as { ETag: string; ObjectLockMode: string };
    // A multipart object's ETag ends in the number of parts.
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const upl = await awsCli(rgw, ['s3api', 'list-multipart-uploads', '--bucket', 'locked']) as { Uploads?: unknown[] } | undefined;
    expect(upl?.Uploads ?? []).toEqual([]);
  });

  it('lists the names under a folder and refuses paths that leave the prefix', async () => {
    const s3 = target({ prefix: 'listing', lockMode: 'none', bucket: 'plain' });
    await s3.put(file('l1', 10), '2026/11/a.wav');
    await s3.put(file('l2', 10), '2026/11/b.wav');
    await s3.put(file('l3', 10), '2026/11/23/c.wav');
    expect((await s3.list('2026/11')).sort()).toEqual(['23', 'a.wav', 'b.wav']);
    await expect(s3.put(file('l4', 10), '../escape.wav')).rejects.toMatchObject({ stage: 'path' });
    await expect(s3.put(file('l5', 10), 'x.wav', { legalHold: true })).rejects.toMatchObject({ stage: 'config' });
  });

  it('test() passes on a locked bucket and reports a bucket without Object Lock, wrong keys, a wrong endpoint and a missing bucket', async () => {
    expect(await target().test()).toMatchObject({ ok: true });
    expect(await target({ lockMode: 'GOVERNANCE' }).test()).toMatchObject({ ok: true });
    expect(await target({ bucket: 'plain', lockMode: 'none' }).test()).toMatchObject({ ok: true });
    const noLock = await target({ bucket: 'plain', lockMode: 'COMPLIANCE' }).test();
    expect(noLock).toMatchObject({ ok: false, stage: 'config' });
    expect(noLock.message).toMatch(/Object Lock/);
    expect(await target({ secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret00' }).test()).toMatchObject({ ok: false, stage: 'auth' });
    expect(await target({ accessKeyId: 'NOSUCHKEY00000000000' }).test()).toMatchObject({ ok: false, stage: 'auth' });
    expect(await target({ endpoint: `http://127.0.0.1:${await freePort()}` }).test()).toMatchObject({ ok: false, stage: 'connect' });
    expect(await target({ bucket: 'no-such-bucket' }).test()).toMatchObject({ ok: false, stage: 'path' });
    expect(await target({ bucket: 'no-such-bucket', lockMode: 'none' }).test()).toMatchObject({ ok: false, stage: 'path' });
    // No test object is left behind.
    const left = await awsCli(rgw, ['s3api', 'list-object-versions', '--bucket', 'locked', '--prefix', '.callseal-test-']) as Versions | undefined;
    expect(left?.Versions ?? []).toEqual([]);
  });
});
