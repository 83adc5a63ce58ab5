/**
 * Every table, index and trigger of the embedded database, as one ordered list of versioned
 * migrations. `openDatabase` applies each one once, in order, in its own transaction, and records
 * the version reached in `PRAGMA user_version`. No other module creates schema (DESIGN.md, layout:
 * `store/`); a test greps `src/` for DDL outside this folder.
 *
 * It must not hold data access: the repositories do that. Never edit or reorder a released entry;
 * append a new one.
 */

/** One schema step. */
export interface Migration {
  /** The schema version reached once this step is applied; the first is 1, each next one adds 1. */
  readonly version: number;
  /** What the step does, in a few words (for logs and tests). */
  readonly name: string;
  /** The statements, run in one transaction. */
  readonly sql: string;
}

/**
 * The migrations, oldest first. Versions 1 and 2 are the recording log as released. Versions 3 to 9
 * adopt the tables each module used to create itself at start (`CREATE ... IF NOT EXISTS` in its
 * constructor): they keep `IF NOT EXISTS`, so a database an older callseal created, which has these
 * tables already at user_version 2, is adopted as it is, and a fresh one gets them here.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'recording log and seal chain',
    sql: `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE chain_epochs (
     epoch INTEGER PRIMARY KEY,
     spki_sha256 TEXT NOT NULL,
     started_ms INTEGER NOT NULL,
     head_seq INTEGER NOT NULL DEFAULT 0,
     head_base TEXT,
     head_signature TEXT
   );
   CREATE TABLE recordings (
     id TEXT PRIMARY KEY,
     base_name TEXT NOT NULL UNIQUE,
     dir TEXT NOT NULL,
     call_id TEXT NOT NULL,
     start_ms INTEGER NOT NULL,
     end_ms INTEGER NOT NULL,
     caller_number TEXT NOT NULL,
     caller_name TEXT NOT NULL,
     callee_number TEXT NOT NULL,
     callee_name TEXT NOT NULL,
     direction TEXT NOT NULL,
     setting TEXT NOT NULL,
     channels TEXT NOT NULL,
     codec TEXT NOT NULL,
     interrupted INTEGER NOT NULL,
     files TEXT NOT NULL,
     hash_file_sha256 TEXT NOT NULL,
     signature TEXT NOT NULL,
     chain_epoch INTEGER NOT NULL REFERENCES chain_epochs(epoch),
     chain_seq INTEGER NOT NULL,
     previous TEXT NOT NULL,
     sealed_at_ms INTEGER NOT NULL,
     UNIQUE (chain_epoch, chain_seq)
   );
   CREATE INDEX recordings_start ON recordings(start_ms);`,
  },
  {
    // Substring search of the recording browser (G3): an FTS5 trigram index over numbers, names,
    // call id and base name, kept by triggers (a scan took 100 ms at 200,000 recordings).
    version: 2,
    name: 'recording search index',
    sql: `CREATE VIRTUAL TABLE recordings_search USING fts5(caller_number, caller_name, callee_number, callee_name, call_id, base_name,
     content='recordings', content_rowid='rowid', tokenize='trigram');
   INSERT INTO recordings_search(recordings_search) VALUES ('rebuild');
   CREATE TRIGGER recordings_search_insert AFTER INSERT ON recordings BEGIN
     INSERT INTO recordings_search(rowid, caller_number, caller_name, callee_number, callee_name, call_id, base_name)
       VALUES (new.rowid, new.caller_number, new.caller_name, new.callee_number, new.callee_name, new.call_id, new.base_name);
   END;
   CREATE TRIGGER recordings_search_delete AFTER DELETE ON recordings BEGIN
     INSERT INTO recordings_search(recordings_search, rowid, caller_number, caller_name, callee_number, callee_name, call_id, base_name)
       VALUES ('delete', old.rowid, old.caller_number, old.caller_name, old.callee_number, old.callee_name, old.call_id, old.base_name);
   END;`,
  },
  {
    // Local accounts and their sessions (H1), used by web/accounts.ts.
    version: 3,
    name: 'accounts and sessions',
    sql: `CREATE TABLE IF NOT EXISTS accounts (
  username TEXT PRIMARY KEY, display_name TEXT NOT NULL, roles TEXT NOT NULL, directory_user_id TEXT,
  password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, last_login_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  id_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
  csrf TEXT NOT NULL, created_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL, address TEXT NOT NULL
);`,
  },
  {
    // The append-only access audit trail (H6), used by web/audit.ts. Its triggers are also in
    // GUARDS, so they come back at the next start when somebody drops them.
    version: 4,
    name: 'audit trail',
    sql: `CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, address TEXT NOT NULL,
  action TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL, outcome TEXT NOT NULL, prev_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_object ON audit(object);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;`,
  },
  {
    // The policy, the membership log and the decision log (A9), used by policy/policy-store.ts.
    version: 5,
    name: 'policy, membership log and decision log',
    sql: `CREATE TABLE IF NOT EXISTS policy (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, json TEXT NOT NULL, updated_ms INTEGER NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS membership_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, group_id TEXT NOT NULL, user_id TEXT NOT NULL, active INTEGER NOT NULL, actor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, call_id TEXT NOT NULL, event TEXT NOT NULL,
  caller TEXT NOT NULL, callee TEXT NOT NULL, direction TEXT NOT NULL, record INTEGER NOT NULL, code TEXT NOT NULL,
  setting_id TEXT, setting_name TEXT, reason TEXT NOT NULL, policy_version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_call ON decisions(call_id);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(at_ms);`,
  },
  {
    // Signed key rollover records (issue 7: keys chain from the pinned first one), used by seal/rollover.ts.
    version: 6,
    name: 'key rollovers',
    sql: `CREATE TABLE IF NOT EXISTS key_rollovers (
  epoch INTEGER PRIMARY KEY, record TEXT NOT NULL, old_key_signature TEXT, new_key_signature TEXT NOT NULL,
  old_certificate TEXT, new_certificate TEXT NOT NULL, created_ms INTEGER NOT NULL
);`,
  },
  {
    // The archive outbox and the record of deleted local copies (F1, F2), used by archive/outbox.ts.
    version: 7,
    name: 'archive outbox',
    sql: `CREATE TABLE IF NOT EXISTS outbox (
  recording_id TEXT NOT NULL, target_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL, failing_since_ms INTEGER, last_error TEXT, done_ms INTEGER, created_ms INTEGER NOT NULL,
  PRIMARY KEY (recording_id, target_id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_ms);
CREATE TABLE IF NOT EXISTS local_deleted (recording_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);`,
  },
  {
    // Storage targets with their sealed credentials (F5), used by archive/registry.ts.
    version: 8,
    name: 'storage targets',
    sql: `CREATE TABLE IF NOT EXISTS targets (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, path_template TEXT NOT NULL,
      config_enc TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'untested', last_test TEXT, updated_ms INTEGER NOT NULL);`,
  },
  {
    // The definitions of external SQL recording logs (G2), used by archive/sqllog/registry.ts. The external
    // databases' own recording-log table is created there, on the admin's request: it is not ours.
    version: 9,
    name: 'SQL log definitions',
    sql: `CREATE TABLE IF NOT EXISTS sql_logs (id TEXT PRIMARY KEY, name TEXT NOT NULL, dialect TEXT NOT NULL, def_enc TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'untested', last_test TEXT, updated_ms INTEGER NOT NULL);`,
  },
  {
    // Retention and legal hold (F6), used by store/recordings.ts, store/holds.ts and
    // store/removals.ts: each recording's retention and retain-until (fixed at sealing; NULL
    // keeps it), when its deletion started (the signed deletion record is written) and ended;
    // the holds; and one removal job per storage target that held a copy.
    version: 10,
    name: 'retention, deletion and legal holds',
    sql: `ALTER TABLE recordings ADD COLUMN retention TEXT NOT NULL DEFAULT 'keep';
ALTER TABLE recordings ADD COLUMN retain_until_ms INTEGER;
ALTER TABLE recordings ADD COLUMN deletion_started_ms INTEGER;
ALTER TABLE recordings ADD COLUMN deletion_record TEXT;
ALTER TABLE recordings ADD COLUMN deleted_ms INTEGER;
CREATE INDEX recordings_retain_until ON recordings(retain_until_ms) WHERE retain_until_ms IS NOT NULL AND deleted_ms IS NULL;
CREATE TABLE legal_holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT, recording_id TEXT, number TEXT, from_ms INTEGER, to_ms INTEGER, reason TEXT NOT NULL,
  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL, release_requested_by TEXT, release_requested_ms INTEGER,
  released_by TEXT, released_ms INTEGER,
  CHECK (recording_id IS NOT NULL OR number IS NOT NULL OR from_ms IS NOT NULL OR to_ms IS NOT NULL)
);
CREATE TABLE retention_removals (
  recording_id TEXT NOT NULL, target_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL, last_error TEXT, done_ms INTEGER, PRIMARY KEY (recording_id, target_id)
);
CREATE INDEX retention_removals_due ON retention_removals(state, next_ms);`,
  },
  {
    // Each archive job carries the end of its recording's retention (F6), for targets that lock
    // their copies until then (S3 Object Lock), used by archive/outbox.ts.
    version: 11,
    name: 'archive job retention',
    sql: 'ALTER TABLE outbox ADD COLUMN retain_until_ms INTEGER;',
  },
  {
    // Webhooks of the live recording events (H8), used by store/webhooks.ts: the endpoints with
    // their sealed secret, and the outbox of deliveries (one row per event and endpoint) that
    // survives a restart and is retried with back-off.
    version: 12,
    name: 'webhooks',
    sql: `CREATE TABLE webhook_endpoints (id TEXT PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL, secret_enc TEXT NOT NULL,
  events TEXT NOT NULL, enabled INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, endpoint_id TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  last_status INTEGER, last_error TEXT, done_ms INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, endpoint_id, seq);`,
  },
];

/**
 * Idempotent statements run at every open, after the migrations: the audit trail's append-only
 * triggers. Whoever holds the file can drop them (the signed checkpoints catch what follows, issue 7);
 * a start puts them back, as the audit module did when it created its own schema.
 */
export const GUARDS = `CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;`;

/** The schema version of a database with every migration applied. */
export const SCHEMA_VERSION = MIGRATIONS.length;
