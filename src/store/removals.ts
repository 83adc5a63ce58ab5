/**
 * Repository of retention removals (F6): one job per (recording, storage target) that held a copy
 * of a recording whose deletion started. A job that fails (target down, an object still locked)
 * is retried with back-off and never dropped: the recording stays "being deleted" until every job
 * is done.
 */
import type { DatabaseSync } from 'node:sqlite';

/** One removal job. */
export interface RemovalJob {
  readonly recordingId: string;
  readonly targetId: string;
  readonly state: 'pending' | 'failing' | 'done';
  readonly attempts: number;
  readonly nextMs: number;
  readonly lastError: string | null;
  readonly doneMs: number | null;
}

interface Row { recording_id: string; target_id: string; state: string; attempts: number; next_ms: number; last_error: string | null; done_ms: number | null }

function toJob(r: Row): RemovalJob {
  return { recordingId: r.recording_id, targetId: r.target_id, state: r.state as RemovalJob['state'], attempts: r.attempts, nextMs: r.next_ms, lastError: r.last_error, doneMs: r.done_ms };
}

/** The removal jobs. */
export class RemovalRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Adds a job per target (existing ones are kept). */
  add(recordingId: string, targetIds: readonly string[], nowMs: number): void {
    const insert = this.#db.prepare("INSERT OR IGNORE INTO retention_removals (recording_id, target_id, state, next_ms) VALUES (?, ?, 'pending', ?)");
    for (const t of targetIds) insert.run(recordingId, t, nowMs);
  }

  /** The jobs of one recording. */
  forRecording(recordingId: string): RemovalJob[] {
    return (this.#db.prepare('SELECT * FROM retention_removals WHERE recording_id = ? ORDER BY target_id').all(recordingId) as unknown as Row[]).map(toJob);
  }

  /** Marks a job done. */
  done(recordingId: string, targetId: string, nowMs: number): void {
    this.#db.prepare("UPDATE retention_removals SET state = 'done', done_ms = ?, last_error = NULL, attempts = attempts + 1 WHERE recording_id = ? AND target_id = ?").run(nowMs, recordingId, targetId);
  }

  /** Marks a job failing until `nextMs`. */
  failed(recordingId: string, targetId: string, nextMs: number, error: string): void {
    this.#db.prepare("UPDATE retention_removals SET state = 'failing', attempts = attempts + 1, next_ms = ?, last_error = ? WHERE recording_id = ? AND target_id = ?")
      .run(nextMs, error.slice(0, 500), recordingId, targetId);
  }

  /** Jobs not done, per target (the backlog the API shows). */
  backlog(): { targetId: string; open: number; failing: number; lastError: string | null }[] {
    return (this.#db.prepare(`SELECT target_id, COUNT(*) AS open, SUM(state = 'failing') AS failing, MAX(last_error) AS err
      FROM retention_removals WHERE state != 'done' GROUP BY target_id`).all() as { target_id: string; open: number; failing: number; err: string | null }[])
      .map((r) => ({ targetId: r.target_id, open: r.open, failing: r.failing, lastError: r.err }));
  }
}
