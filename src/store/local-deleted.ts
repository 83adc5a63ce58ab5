/**
 * The `local_deleted` table: recordings whose local copy was deleted because every destination
 * holds a verified copy (F1).
 */
import type { DatabaseSync } from 'node:sqlite';

/** Recordings whose local copy is gone. */
export class LocalDeletedRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Whether a recording's local copy was deleted. */
  has(recordingId: string): boolean {
    return this.#db.prepare('SELECT 1 FROM local_deleted WHERE recording_id = ?').get(recordingId) !== undefined;
  }

  /** Notes that a recording's local copy was deleted (once). */
  add(recordingId: string, nowMs: number): void {
    this.#db.prepare('INSERT OR IGNORE INTO local_deleted (recording_id, at_ms) VALUES (?, ?)').run(recordingId, nowMs);
  }
}
