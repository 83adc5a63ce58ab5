/**
 * Issue 7: whoever holds the database file could drop the audit triggers, delete entries and
 * recompute the SHA-256 chain, and `/api/audit` (AuditLog.verify) reported no break. The head is now
 * anchored outside the database in signed checkpoints in the recordings tree; a rewrite contradicts
 * the last anchor. openssl verifies the checkpoint's signature; `callseal verify --head-from-db`
 * reports the rewrite too.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { silentLogger } from '../../src/common/log.ts';
import { openDatabase, RecordingRepository } from '../../src/store/index.ts';
import { Checkpointer, KeyStore, auditAnchors, readCheckpoints } from '../../src/seal/index.ts';
import { AuditLog } from '../../src/web/audit.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** What an attacker with the database file does: no triggers, 51 entries gone, the chain recomputed. */
function rewrite(file: string): void {
  const db = new DatabaseSync(file);
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete');
  db.exec('DELETE FROM audit WHERE seq BETWEEN 10 AND 60');
  let prev = '0'.repeat(64);
  const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all() as { seq: number; at_ms: number; actor: string; address: string; action: string; object: string; details: string; outcome: string }[];
  for (const r of rows) {
    const h = createHash('sha256').update(JSON.stringify([prev, r.at_ms, r.actor, r.address, r.action, r.object, r.details, r.outcome])).digest('hex');
    db.prepare('UPDATE audit SET prev_sha256 = ?, sha256 = ? WHERE seq = ?').run(prev, h, r.seq);
    prev = h;
  }
  db.close();
}

describe('issue 7: the audit trail is anchored outside the database', () => {
  it('a rewritten chain (triggers dropped, 51 entries deleted, hashes recomputed) breaks against the signed checkpoint', async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-audit-'));
    const root = join(home, 'recordings');
    const dbFile = join(home, 'callseal.db');
    const db = openDatabase(dbFile);
    const repo = new RecordingRepository(db);
    const { store: keys } = await KeyStore.open({ home, instanceId: 'audit-anchor', chainExists: false });
    repo.startEpoch(keys.epoch, keys.spkiSha256, Date.now());
    const audit = new AuditLog(db, { anchors: () => auditAnchors(root, [keys.publicKey]) });
    for (let i = 0; i < 80; i++) audit.append({ actor: 'alice', address: '10.0.0.1', action: 'play', object: `recording:r${i}` }, 1_000 + i);
    const cp = new Checkpointer({ recordingsRoot: root, keys, chainHead: () => repo.currentHead(), auditHead: () => audit.head(), log: silentLogger() });
    const written = cp.write('test', true);
    expect(written).toBeDefined();
    // Nothing moved: no second checkpoint.
    expect(cp.write('periodic')).toBeUndefined();
    expect(audit.verify()).toMatchObject({ entries: 80, brokenAt: undefined, anchoredAt: 80 });

    // openssl checks the checkpoint with the certificate, like a recording.
    const [c] = readCheckpoints(root);
    expect(c?.checkpoint).toMatchObject({ auditHeadSequence: 80, auditHeadSha256: audit.head()?.sha256 });
    const tmp = mkdtempSync(join(tmpdir(), 'callseal-cp-'));
    writeFileSync(join(tmp, 'cert.pem'), keys.certificatePem);
    writeFileSync(join(tmp, 'sig.bin'), Buffer.from(c?.signature ?? '', 'base64'));
    spawnSync('bash', ['-c', `openssl x509 -in ${tmp}/cert.pem -noout -pubkey > ${tmp}/pub.pem`]);
    const ossl = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(tmp, 'pub.pem'), '-signature', join(tmp, 'sig.bin'), written ?? ''], { encoding: 'utf8' });
    expect(ossl.stdout).toContain('Verified OK');

    const before = spawnSync(join(ROOT, 'bin/callseal'), ['verify', root, '--head-from-db', '--json'], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: home } });
    expect(before.stdout).not.toContain('audit-rewritten');
    db.close();

    rewrite(dbFile);
    const again = openDatabase(dbFile);
    // The database alone no longer tells (what the old code reported).
    expect(new AuditLog(again).verify()).toEqual({ entries: 29, brokenAt: undefined });
    // Against the signed anchor, it breaks at the anchored head.
    const anchored = new AuditLog(again, { anchors: () => auditAnchors(root, [keys.publicKey]) }).verify();
    expect(anchored.brokenAt).toBe(80);
    expect(anchored.anchorMismatch).toMatchObject({ seq: 80, expected: c?.checkpoint?.auditHeadSha256 });
    again.close();

    const after = spawnSync(join(ROOT, 'bin/callseal'), ['verify', root, '--head-from-db', '--json'], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: home } });
    expect(after.status).toBe(1);
    expect(after.stdout).toContain('audit-rewritten');
  });

  it('a checkpoint signed by another key is no anchor, and truncating the trail below an anchor breaks it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'callseal-audit2-'));
    const root = join(home, 'recordings');
    const db = openDatabase(':memory:');
    const { store: keys } = await KeyStore.open({ home, instanceId: 'audit-anchor', chainExists: false });
    const other = mkdtempSync(join(tmpdir(), 'callseal-audit3-'));
    const { store: foreign } = await KeyStore.open({ home: other, instanceId: 'forger', chainExists: false });
    const audit = new AuditLog(db, { anchors: () => auditAnchors(root, [keys.publicKey]) });
    for (let i = 0; i < 5; i++) audit.append({ actor: 'bob', address: '-', action: 'login', object: 'account:bob' }, i);
    // A forger's checkpoint naming a made-up head is ignored.
    new Checkpointer({ recordingsRoot: root, keys: foreign, chainHead: () => undefined, auditHead: () => ({ seq: 5, sha256: 'f'.repeat(64) }), log: silentLogger(), now: () => 1 }).write('forged', true);
    expect(audit.verify()).toMatchObject({ brokenAt: undefined, anchoredAt: undefined });
    new Checkpointer({ recordingsRoot: root, keys, chainHead: () => undefined, auditHead: () => audit.head(), log: silentLogger(), now: () => 2 }).write('test', true);
    expect(audit.verify()).toMatchObject({ brokenAt: undefined, anchoredAt: 5 });
    db.exec('DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= 4');
    expect(audit.verify()).toMatchObject({ entries: 3, brokenAt: 5 });
  });
});
