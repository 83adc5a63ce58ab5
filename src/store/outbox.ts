/**
 * The `outbox` table: one durable copy job per (recording, destination) (F1, F2). Scheduling,
 * copying and verification belong to `archive/outbox.ts`; this is the SQL.
 */
import type { DatabaseSync } from 'node:sqlite';

/** A job row as stored. */
export interface OutboxRow {
  readonly recording_id: string;
  readonly target_id: string;
  readonly state: string;
  readonly attempts: number;
  readonly next_ms: number;
  readonly failing_since_ms: number | null;
  /** End of the recording's retention, for targets that lock copies until then (S3 Object Lock). */
  readonly retain_until_ms: number | null;
  readonly last_error: string | null;
  readonly done_ms: number | null;
}

/** Unfinished jobs of one destination. */
export interface OutboxBacklog {
  readonly targetId: string;
  readonly pending: number;
  readonly failing: number;
  readonly failingSinceMs: number | null;
  readonly lastError: string | null;
}

/** Copy jobs. */
export class OutboxRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Destinations in a failure streak, and since when. */
  failingSince(): { targetId: string; sinceMs: number }[] {
    const rows = this.#db.prepare("SELECT target_id, MIN(failing_since_ms) AS since FROM outbox WHERE state = 'failing' GROUP BY target_id").all() as { target_id: string; since: number }[];
    return rows.map((r) => ({ targetId: r.target_id, sinceMs: r.since }));
  }

  /** Adds pending jobs; a job that exists is kept as it is. */
  enqueue(recordingId: string, targetIds: readonly string[], nowMs: number, retainUntilMs?: number): void {
    const insert = this.#db.prepare("INSERT OR IGNORE INTO outbox (recording_id, target_id, state, next_ms, created_ms, retain_until_ms) VALUES (?, ?, 'pending', ?, ?, ?)");
    for (const t of targetIds) insert.run(recordingId, t, nowMs, nowMs, retainUntilMs ?? null);
  }

  /** The jobs of one recording, by destination. */
  forRecording(recordingId: string): OutboxRow[] {
    return this.#db.prepare('SELECT * FROM outbox WHERE recording_id = ? ORDER BY target_id').all(recordingId) as unknown as OutboxRow[];
  }

  /** Unfinished jobs, soonest first (at most 1000). */
  unfinished(): OutboxRow[] {
    return this.#db.prepare("SELECT * FROM outbox WHERE state != 'done' ORDER BY next_ms LIMIT 1000").all() as unknown as OutboxRow[];
  }

  /** Unfinished jobs due at `nowMs`, soonest first (at most 200). */
  due(nowMs: number): OutboxRow[] {
    return this.#db.prepare("SELECT * FROM outbox WHERE state != 'done' AND next_ms <= ? ORDER BY next_ms LIMIT 200").all(nowMs) as unknown as OutboxRow[];
  }

  /** Unfinished jobs per destination. */
  backlog(): OutboxBacklog[] {
    return (this.#db.prepare(`SELECT target_id, SUM(state = 'pending') AS pending, SUM(state = 'failing') AS failing,
      MIN(failing_since_ms) AS since, MAX(last_error) AS err FROM outbox WHERE state != 'done' GROUP BY target_id`).all() as { target_id: string; pending: number; failing: number; since: number | null; err: string | null }[])
      .map((r) => ({ targetId: r.target_id, pending: r.pending, failing: r.failing, failingSinceMs: r.since, lastError: r.err }));
  }

  /** Marks a job done. */
  markDone(recordingId: string, targetId: string, nowMs: number): void {
    this.#db.prepare("UPDATE outbox SET state = 'done', done_ms = ?, last_error = NULL, failing_since_ms = NULL, attempts = attempts + 1 WHERE recording_id = ? AND target_id = ?").run(nowMs, recordingId, targetId);
  }

  /** Marks a job failing, to be retried at `nextMs`. */
  markFailing(recordingId: string, targetId: string, attempts: number, nextMs: number, error: string, nowMs: number): void {
    this.#db.prepare("UPDATE outbox SET state = 'failing', attempts = ?, next_ms = ?, last_error = ?, failing_since_ms = COALESCE(failing_since_ms, ?) WHERE recording_id = ? AND target_id = ?")
      .run(attempts, nextMs, error, nowMs, recordingId, targetId);
  }

  /** How many jobs of a recording are not done. */
  openCount(recordingId: string): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE recording_id = ? AND state != 'done'").get(recordingId) as { n: number }).n;
  }

  /** Drops every job of a recording (retention deletes it: nothing more is copied or retried). */
  removeRecording(recordingId: string): void {
    this.#db.prepare('DELETE FROM outbox WHERE recording_id = ?').run(recordingId);
  }
}
