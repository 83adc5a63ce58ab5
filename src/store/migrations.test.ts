import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { InvalidStateError } from '../common/errors.ts';
import { migrate, openDatabase, schemaVersion } from './db.ts';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.ts';

/** Every table, index and trigger the application uses, by name. */
const SCHEMA_OBJECTS = [
  'meta', 'chain_epochs', 'recordings', 'recordings_start', 'recordings_search', 'recordings_search_insert', 'recordings_search_delete',
  'accounts', 'sessions', 'audit', 'audit_object', 'audit_no_update', 'audit_no_delete',
  'policy', 'membership_log', 'decisions', 'decisions_call', 'decisions_time', 'key_rollovers',
  'outbox', 'outbox_due', 'local_deleted', 'targets', 'sql_logs',
  'recordings_retain_until', 'legal_holds', 'retention_removals', 'retention_removals_due',
  'webhook_endpoints', 'webhook_deliveries', 'webhook_deliveries_due',
];

/**
 * The DDL each module ran in its constructor before the schema moved to `store/` (callseal 0.1:
 * user_version 2, then `CREATE ... IF NOT EXISTS` at every start), verbatim.
 */
const OLD_MODULE_DDL = `
CREATE TABLE IF NOT EXISTS accounts (
  username TEXT PRIMARY KEY, display_name TEXT NOT NULL, roles TEXT NOT NULL, directory_user_id TEXT,
  password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, last_login_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  id_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
  csrf TEXT NOT NULL, created_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL, address TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, address TEXT NOT NULL,
  action TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL, outcome TEXT NOT NULL, prev_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_object ON audit(object);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS policy (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, json TEXT NOT NULL, updated_ms INTEGER NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS membership_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, group_id TEXT NOT NULL, user_id TEXT NOT NULL, active INTEGER NOT NULL, actor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, call_id TEXT NOT NULL, event TEXT NOT NULL,
  caller TEXT NOT NULL, callee TEXT NOT NULL, direction TEXT NOT NULL, record INTEGER NOT NULL, code TEXT NOT NULL,
  setting_id TEXT, setting_name TEXT, reason TEXT NOT NULL, policy_version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_call ON decisions(call_id);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(at_ms);
CREATE TABLE IF NOT EXISTS key_rollovers (
  epoch INTEGER PRIMARY KEY, record TEXT NOT NULL, old_key_signature TEXT, new_key_signature TEXT NOT NULL,
  old_certificate TEXT, new_certificate TEXT NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  recording_id TEXT NOT NULL, target_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL, failing_since_ms INTEGER, last_error TEXT, done_ms INTEGER, created_ms INTEGER NOT NULL,
  PRIMARY KEY (recording_id, target_id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_ms);
CREATE TABLE IF NOT EXISTS local_deleted (recording_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS targets (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, path_template TEXT NOT NULL,
      config_enc TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'untested', last_test TEXT, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sql_logs (id TEXT PRIMARY KEY, name TEXT NOT NULL, dialect TEXT NOT NULL, def_enc TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'untested', last_test TEXT, updated_ms INTEGER NOT NULL);
`;

function schemaObjects(db: DatabaseSync): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'recordings_search_%' OR name IN ('recordings_search_insert', 'recordings_search_delete')").all() as { name: string }[])
    .map((r) => r.name).sort();
}

/** The tables and columns, to compare two databases. */
function shape(db: DatabaseSync): string {
  return (db.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").all() as { name: string; sql: string }[])
    .map((r) => `${r.name}: ${r.sql.replace(/\s+/g, ' ').replace(/ IF NOT EXISTS/g, '')}`).join('\n');
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-migrate-'));
  dirs.push(dir);
  return join(dir, 'callseal.db');
}

describe('migrations', () => {
  it('are numbered 1, 2, 3, ... with a name each', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const m of MIGRATIONS) expect(m.name.length).toBeGreaterThan(0);
    expect(new Set(MIGRATIONS.map((m) => m.name)).size).toBe(MIGRATIONS.length);
  });

  it('a new database gets every table, index and trigger, at the latest version', () => {
    const db = openDatabase(':memory:');
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(schemaObjects(db)).toEqual([...SCHEMA_OBJECTS].sort());
    db.close();
  });

  it('applies each migration once, in order, and records each version', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE steps (version INTEGER NOT NULL)');
    const steps: Migration[] = [1, 2, 3].map((version) => ({ version, name: `step ${String(version)}`, sql: `INSERT INTO steps VALUES (${String(version)});` }));
    expect(migrate(db, steps.slice(0, 2))).toEqual([1, 2]);
    expect(schemaVersion(db)).toBe(2);
    expect(migrate(db, steps)).toEqual([3]);
    expect(migrate(db, steps)).toEqual([]);
    expect((db.prepare('SELECT version FROM steps ORDER BY rowid').all() as { version: number }[]).map((r) => r.version)).toEqual([1, 2, 3]);
    db.close();
  });

  it('skips a step another connection applied after this one read the version (the CLI beside a running callseal)', () => {
    const path = tempDb();
    const a = new DatabaseSync(path);
    const b = new DatabaseSync(path);
    const steps: Migration[] = [
      { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER);' },
      { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER);' },
    ];
    let raced = false;
    // The other connection migrates between this one's version read and its first step.
    const racing = new Proxy(steps, {
      get(target, key, receiver) {
        if (key === '0' && !raced) {
          raced = true;
          expect(migrate(b, steps)).toEqual([1, 2]);
        }
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    expect(migrate(a, racing)).toEqual([]);
    expect(raced).toBe(true);
    expect(schemaVersion(a)).toBe(2);
    a.close();
    b.close();
  });

  it('a failing migration leaves the database at the version before it, without its changes', () => {
    const db = new DatabaseSync(':memory:');
    const steps: Migration[] = [
      { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER);' },
      { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER); INSERT INTO missing VALUES (1);' },
    ];
    expect(() => migrate(db, steps)).toThrow(/missing/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'two'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a database migrated by a newer callseal', () => {
    const path = tempDb();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${String(SCHEMA_VERSION + 1)}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(InvalidStateError);
    expect(() => openDatabase(path)).toThrow(expect.objectContaining({ code: 'CS_STORE_SCHEMA_NEWER' }));
  });

  it('a database at an older version migrates to the latest, keeping its rows', () => {
    const path = tempDb();
    const old = new DatabaseSync(path);
    migrate(old, MIGRATIONS.slice(0, 2));
    old.exec("INSERT INTO meta (key, value) VALUES ('instance', 'x')");
    old.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(schemaObjects(db)).toEqual([...SCHEMA_OBJECTS].sort());
    expect(db.prepare('SELECT value FROM meta').get()).toEqual({ value: 'x' });
    db.close();
  });

  it('adopts a database the old code created (schema version 2, module tables made at start), keeping every row', () => {
    const path = tempDb();
    const old = new DatabaseSync(path);
    migrate(old, MIGRATIONS.slice(0, 2));
    old.exec(OLD_MODULE_DDL);
    old.exec(`INSERT INTO accounts (username, display_name, roles, password_hash, created_ms) VALUES ('alice', 'Alice', '["admin"]', 'h', 1);
      INSERT INTO audit (at_ms, actor, address, action, object, details, outcome, prev_sha256, sha256) VALUES (1, 'alice', '-', 'login', 'account:alice', '{}', 'ok', 'p', 's');
      INSERT INTO policy (id, version, json, updated_ms, updated_by) VALUES (1, 7, '{}', 1, 'alice');
      INSERT INTO outbox (recording_id, target_id, state, next_ms, created_ms) VALUES ('r1', 't1', 'pending', 1, 1);
      INSERT INTO key_rollovers (epoch, record, new_key_signature, new_certificate, created_ms) VALUES (2, 'rec', 'sig', 'cert', 1);
      INSERT INTO targets (id, name, kind, path_template, config_enc, updated_ms) VALUES ('t1', 'T', 'local', '$Y', 'enc', 1);
      INSERT INTO sql_logs (id, name, dialect, def_enc, updated_ms) VALUES ('l1', 'L', 'sqlite', 'enc', 1);`);
    old.close();

    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const fresh = openDatabase(':memory:');
    expect(shape(db)).toBe(shape(fresh));
    fresh.close();
    for (const table of ['accounts', 'audit', 'policy', 'outbox', 'key_rollovers', 'targets', 'sql_logs']) {
      expect((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n, table).toBe(1);
    }
    expect(db.prepare('SELECT version FROM policy').get()).toEqual({ version: 7 });
    db.close();
    // Opening again applies nothing more.
    const again = openDatabase(path);
    expect(schemaVersion(again)).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('puts the audit trail\'s append-only triggers back at the next open', () => {
    const path = tempDb();
    const db = openDatabase(path);
    db.exec(`INSERT INTO audit (at_ms, actor, address, action, object, details, outcome, prev_sha256, sha256) VALUES (1, 'alice', '-', 'login', 'account:alice', '{}', 'ok', 'p', 's');
      DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete`);
    db.close();
    const again = openDatabase(path);
    expect(() => { again.exec('DELETE FROM audit'); }).toThrow(/append-only/);
    expect(() => { again.exec("UPDATE audit SET actor = 'x'"); }).toThrow(/append-only/);
    again.close();
  });
});
