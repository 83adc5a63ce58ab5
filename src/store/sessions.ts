/**
 * The `sessions` table: web UI sessions (H1), keyed by the SHA-256 of the cookie value, so a copy of
 * the database cannot log anybody in. Expiry rules belong to `web/accounts.ts`; this is the SQL.
 */
import type { DatabaseSync } from 'node:sqlite';

/** A session row as stored. */
export interface SessionRow {
  readonly username: string;
  readonly csrf: string;
  readonly created_ms: number;
  readonly seen_ms: number;
}

/** Sessions. */
export class SessionRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Deletes sessions idle since before `seenBeforeMs` or created before `createdBeforeMs`. */
  deleteExpired(seenBeforeMs: number, createdBeforeMs: number): void {
    this.#db.prepare('DELETE FROM sessions WHERE seen_ms < ? OR created_ms < ?').run(seenBeforeMs, createdBeforeMs);
  }

  /** Stores a new session. */
  insert(idSha256: string, username: string, csrf: string, nowMs: number, address: string): void {
    this.#db.prepare('INSERT INTO sessions (id_sha256, username, csrf, created_ms, seen_ms, address) VALUES (?, ?, ?, ?, ?, ?)').run(idSha256, username, csrf, nowMs, nowMs, address);
  }

  /** One session, or undefined. */
  get(idSha256: string): SessionRow | undefined {
    return this.#db.prepare('SELECT username, csrf, created_ms, seen_ms FROM sessions WHERE id_sha256 = ?').get(idSha256) as SessionRow | undefined;
  }

  /** Notes that a session was used. */
  touch(idSha256: string, nowMs: number): void {
    this.#db.prepare('UPDATE sessions SET seen_ms = ? WHERE id_sha256 = ?').run(nowMs, idSha256);
  }

  /** Ends one session. */
  delete(idSha256: string): void {
    this.#db.prepare('DELETE FROM sessions WHERE id_sha256 = ?').run(idSha256);
  }

  /** Ends every session of an account. */
  deleteFor(username: string): void {
    this.#db.prepare('DELETE FROM sessions WHERE username = ?').run(username);
  }
}
