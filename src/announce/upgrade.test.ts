/**
 * Assignments survive upgrades (C1): a database of the release before the library migrates with its
 * policy intact, settings keep naming their announcements by id across a restart, and a setting
 * cannot name an announcement the library does not hold.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { migrate, openDatabase, schemaVersion } from '../store/index.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../store/migrations.ts';
import { PolicyStore, settingAnnouncementIds, type Decision, type Policy } from '../policy/index.ts';
import { AnnouncementLibrary } from './library.ts';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

/** A setting as the release before the announcement library stored it. */
const OLD_SETTING = {
  id: 'sales', name: 'Sales', enabled: true, scope: { kind: 'all' }, direction: 'both', directCallsToActiveMembers: false, excludeInternal: false,
  exceptionListIds: [], channels: 'stereo', stopCode: '*1', announcementIds: [], targetIds: [], retention: 'keep',
};

function library(db: DatabaseSync, home: string, policy: PolicyStore): AnnouncementLibrary {
  return new AnnouncementLibrary({
    db, root: join(home, 'announcements'), log: silentLogger(),
    usedBy: (id) => policy.load().policy.settings.filter((s) => settingAnnouncementIds(s).includes(id)).map((s) => s.id),
  });
}

describe('announcement assignments across upgrades', () => {
  it('migrates a database of schema version 11: the policy and the decision log read as before', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-upgrade-'));
    const path = join(dir, 'callseal.db');
    const old = new DatabaseSync(path);
    migrate(old, MIGRATIONS.slice(0, 11));
    old.prepare('INSERT INTO policy (id, version, json, updated_ms, updated_by) VALUES (1, 4, ?, 1, ?)').run(JSON.stringify({ users: [], groups: [], internalPatterns: [], exceptionLists: [], settings: [OLD_SETTING] }), 'admin');
    old.exec(`INSERT INTO decisions (at_ms, call_id, event, caller, callee, direction, record, code, setting_id, setting_name, reason, policy_version)
      VALUES (1, 'c1', 'new-session', '+491', '+492', 'in', 1, 'setting', 'sales', 'Sales', 'matched', 4)`);
    old.close();

    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const policy = new PolicyStore(db);
    const { policy: p, version } = policy.load();
    expect(version).toBe(4);
    expect(p.settings[0]).toMatchObject({ id: 'sales', stopCode: '*1', announcementIncoming: null, announcementOutgoing: null, consent: { mode: 'none', key: '1', timeoutMs: 5000 } });
    expect(p.settings[0]).not.toHaveProperty('announcementIds');
    const [d] = policy.decisions();
    expect(d).toMatchObject({ callId: 'c1', record: true });
    expect(d).not.toHaveProperty('consent');
    db.close();
  });

  it('keeps a setting\'s announcements by id across a restart, files and payloads included', async () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-upgrade-'));
    const path = join(dir, 'callseal.db');
    const wav = join(dir, 'notice.wav');
    execFileSync('sox', ['-D', '-n', '-r', '16000', '-c', '1', '-b', '16', wav, 'synth', '0.4', 'sine', '700']);
    let db = openDatabase(path);
    let policy = new PolicyStore(db);
    const a = await library(db, dir, policy).upload({ name: 'Notice', bytes: readFileSync(wav), by: 'admin' });
    policy.update('admin', (p) => {
      const s = p.settings[0] as Policy['settings'][number];
      s.announcementIncoming = a.id;
      s.consent = { mode: 'opt-out', key: '#', timeoutMs: 4000, confirmNotRecorded: a.id };
      return p;
    });
    const before = await library(db, dir, policy).payloads(a.id, 'PCMU');
    db.close();

    db = openDatabase(path);
    policy = new PolicyStore(db);
    const lib = library(db, dir, policy);
    const s = policy.load().policy.settings[0];
    expect(s).toMatchObject({ announcementIncoming: a.id, consent: { mode: 'opt-out', key: '#', timeoutMs: 4000, confirmNotRecorded: a.id } });
    expect(lib.get(a.id)?.name).toBe('Notice');
    expect(Buffer.concat(await lib.payloads(a.id, 'PCMU')).equals(Buffer.concat(before))).toBe(true);
    await expect(lib.delete(a.id)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_IN_USE' });
    db.close();
  });

  it('turns the old announcementIds slot into the incoming announcement', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-upgrade-'));
    const db = openDatabase(join(dir, 'callseal.db'));
    expect(new PolicyStore(db).version()).toBe(1);
    db.prepare('UPDATE policy SET json = ? WHERE id = 1').run(JSON.stringify({ settings: [{ ...OLD_SETTING, announcementIds: ['welcome', 'other'] }] }));
    expect(new PolicyStore(db).load().policy.settings[0]?.announcementIncoming).toBe('welcome');
    db.close();
  });

  it('refuses a setting that names an announcement the library does not hold, naming the field', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-upgrade-'));
    const db = openDatabase(join(dir, 'callseal.db'));
    const policy = new PolicyStore(db);
    const change = (): unknown => policy.update('admin', (p) => {
      const s = p.settings[0] as Policy['settings'][number];
      s.announcementOutgoing = 'nope';
      s.consent = { mode: 'opt-in', key: '1', timeoutMs: 5000, confirmRecorded: 'gone' };
      return p;
    });
    expect(change).toThrow(ConfigError);
    try {
      change();
    } catch (err) {
      expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['settings.0.announcementOutgoing', 'settings.0.consent.confirmRecorded']);
    }
    db.close();
  });

  it('logs the consent outcome with the decision (C3)', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-upgrade-'));
    const db = openDatabase(join(dir, 'callseal.db'));
    const policy = new PolicyStore(db);
    const facts = { callId: 'c9', caller: '+491', callee: '+492', diversions: [], atMs: 10 };
    const decision: Decision = {
      record: true, code: 'recorded', settingId: 'record-all', settingName: 'Record all calls', reason: 'matched', direction: 'in', caller: '+491', callee: '+492',
      channels: 'stereo', stopCode: undefined, internalParty: 'callee', targetIds: [], retention: 'keep',
    };
    policy.logDecision(facts, { ...decision, record: false }, 'consent', 1, { mode: 'opt-out', outcome: 'key', key: '1', atMs: 4321 });
    policy.logDecision(facts, { ...decision, record: false }, 'consent', 1, { mode: 'opt-in', outcome: 'timeout', atMs: 5000 });
    const [timeout, key] = policy.decisions({ callId: 'c9' });
    expect(key?.consent).toEqual({ mode: 'opt-out', outcome: 'key', key: '1', atMs: 4321 });
    expect(timeout?.consent).toEqual({ mode: 'opt-in', outcome: 'timeout', atMs: 5000 });
    db.close();
  });
});
