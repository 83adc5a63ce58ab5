/**
 * The embedded database (node:sqlite, built into Node 24: no native build). Opens the file with
 * WAL and foreign keys, and applies the versioned migrations of `migrations.ts` once, in order
 * (`PRAGMA user_version`). It must not create schema of its own outside that list.
 */
import { DatabaseSync } from 'node:sqlite';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidStateError } from '../common/errors.ts';
import { GUARDS, MIGRATIONS, type Migration } from './migrations.ts';

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
  try {
    migrate(db);
    db.exec(GUARDS);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The schema version of `db` (`PRAGMA user_version`; 0 for a new file). */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/**
 * Applies the migrations above the schema version of `db`, each in its own transaction that also
 * records its version, so a failed step leaves the database at the step before. Refuses a database
 * whose schema is newer than `migrations` (written by a later callseal): tables it does not know
 * would be used wrongly. Returns the versions applied.
 */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const from = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (from > latest) {
    throw new InvalidStateError('CS_STORE_SCHEMA_NEWER', `the database has schema version ${String(from)}, this callseal knows up to ${String(latest)} [user_version:${String(from)}]`);
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    const done = transaction(db, () => {
      // Read again under the write lock: another process (the CLI beside a running callseal) may
      // have applied this step since, and versions 1 and 2 cannot run twice.
      if (schemaVersion(db) >= m.version) return false;
      db.exec(m.sql);
      // PRAGMA takes no bound parameters; the version is an integer from the list above.
      db.exec(`PRAGMA user_version = ${String(Math.trunc(m.version))}`);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
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
