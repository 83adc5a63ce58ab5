/**
 * The embedded database (node:sqlite, built into Node 24: no native build). Opens the file with
 * WAL and foreign keys, and applies the numbered migrations once, in order (`PRAGMA user_version`).
 */
import { DatabaseSync } from 'node:sqlite';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Schema migrations; index + 1 is the schema version. Never edit a released entry; append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
  // Substring search of the recording browser (G3): an FTS5 trigram index over numbers, names,
  // call id and base name, kept by triggers (a scan took 100 ms at 200,000 recordings).
  `CREATE VIRTUAL TABLE recordings_search USING fts5(caller_number, caller_name, callee_number, callee_name, call_id, base_name,
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
];

/** Mode of the database file and its `-wal` and `-shm` files: recordings metadata and accounts, owner only. */
export const DATABASE_FILE_MODE = 0o600;

/** Opens (creating if needed) the database at `path` and migrates it. */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path);
  // SQLite creates the file 0644 less the umask, and gives -wal and -shm the mode of the main file:
  // set it before WAL mode creates them, then again for files an older version left readable.
  if (path !== ':memory:') chmodSync(path, DATABASE_FILE_MODE);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  if (path !== ':memory:') {
    for (const file of [`${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, DATABASE_FILE_MODE);
  }
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  const version = row?.user_version ?? 0;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[v] ?? '');
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
  return db;
}

/** Runs `fn` in one IMMEDIATE transaction. */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
