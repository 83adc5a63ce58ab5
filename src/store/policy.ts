/**
 * The `policy` table: one row holding the whole recording policy (directory, settings, exception
 * lists) as JSON, with a version bumped on every change. Validation belongs to `policy/`.
 */
import type { DatabaseSync } from 'node:sqlite';

/** The policy row. */
export class PolicyRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Whether the policy row exists (it does after the first start). */
  exists(): boolean {
    return this.#db.prepare('SELECT 1 FROM policy WHERE id = 1').get() !== undefined;
  }

  /** Creates the policy row at version 1. */
  create(json: string, nowMs: number, actor: string): void {
    this.#db.prepare('INSERT INTO policy (id, version, json, updated_ms, updated_by) VALUES (1, 1, ?, ?, ?)').run(json, nowMs, actor);
  }

  /** The current version. */
  version(): number {
    return (this.#db.prepare('SELECT version FROM policy WHERE id = 1').get() as { version: number }).version;
  }

  /** The stored policy text and its version. */
  load(): { version: number; json: string } {
    return this.#db.prepare('SELECT version, json FROM policy WHERE id = 1').get() as { version: number; json: string };
  }

  /** Stores a new policy text at `version`. */
  store(version: number, json: string, nowMs: number, actor: string): void {
    this.#db.prepare('UPDATE policy SET version = ?, json = ?, updated_ms = ?, updated_by = ? WHERE id = 1').run(version, json, nowMs, actor);
  }
}
