/**
 * The `meta` table: small named values of the installation (the alert mail settings, sealed; the
 * health write probe). Values are text; what they mean belongs to the caller.
 */
import type { DatabaseSync } from 'node:sqlite';

/** Key of the value the health check rewrites to prove the database can be written. */
const WRITE_PROBE_KEY = 'health.write-probe';

/** Named values in the `meta` table. */
export class MetaRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The value stored under `key`, or undefined. */
  get(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Stores `value` under `key`, replacing what was there. */
  set(key: string, value: string): void {
    this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Removes `key`. */
  delete(key: string): void {
    this.#db.prepare('DELETE FROM meta WHERE key = ?').run(key);
  }

  /** Rewrites the write probe; throws when the database cannot be written (invariant 3). */
  probeWrite(nowMs = Date.now()): void {
    this.set(WRITE_PROBE_KEY, String(nowMs));
  }
}
