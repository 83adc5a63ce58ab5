/**
 * The `membership_log` table: every login and logout of a user to a group's recording (A4), newest
 * first when read.
 */
import type { DatabaseSync } from 'node:sqlite';

/** One login or logout. */
export interface MembershipChange {
  readonly atMs: number;
  readonly groupId: string;
  readonly userId: string;
  readonly active: boolean;
  readonly actor: string;
}

/** The membership log. */
export class MembershipLogRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Appends one change. */
  append(c: MembershipChange): void {
    this.#db.prepare('INSERT INTO membership_log (at_ms, group_id, user_id, active, actor) VALUES (?, ?, ?, ?, ?)').run(c.atMs, c.groupId, c.userId, c.active ? 1 : 0, c.actor);
  }

  /** The newest changes first. */
  list(limit: number): MembershipChange[] {
    return (this.#db.prepare('SELECT at_ms, group_id, user_id, active, actor FROM membership_log ORDER BY seq DESC LIMIT ?').all(limit) as { at_ms: number; group_id: string; user_id: string; active: number; actor: string }[])
      .map((r) => ({ atMs: r.at_ms, groupId: r.group_id, userId: r.user_id, active: r.active === 1, actor: r.actor }));
  }
}
