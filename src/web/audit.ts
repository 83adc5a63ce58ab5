/**
 * The access audit trail (H6): who logged in, listened to, downloaded, exported, verified, deleted or
 * changed what, and when. Append-only: the database refuses UPDATE and DELETE on the table (triggers),
 * and every entry carries the SHA-256 of the previous entry and of itself, so an entry removed or
 * edited behind callseal's back breaks the chain ({@link AuditLog.verify}).
 */
import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from '../store/index.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, address TEXT NOT NULL,
  action TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL, outcome TEXT NOT NULL, prev_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_object ON audit(object);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

/** One audit entry. */
export interface AuditEntry {
  readonly seq: number;
  readonly atMs: number;
  /** Account name, `token` for the API token, or `-` before login. */
  readonly actor: string;
  readonly address: string;
  /** e.g. `login`, `login-failed`, `play`, `download`, `export-kit`, `verify`, `delete-local`, `config`. */
  readonly action: string;
  /** What was touched: `recording:<id>`, `setting:<id>`, `account:<name>`, ... */
  readonly object: string;
  readonly details: Record<string, unknown>;
  readonly outcome: 'ok' | 'denied' | 'failed';
  readonly sha256: string;
}

/** What the caller gives for a new entry. */
export type AuditInput = Pick<AuditEntry, 'actor' | 'address' | 'action' | 'object'> & { details?: Record<string, unknown>; outcome?: AuditEntry['outcome'] };

interface Row {
  seq: number; at_ms: number; actor: string; address: string; action: string; object: string; details: string; outcome: string; prev_sha256: string; sha256: string;
}

function entryHash(prev: string, e: { atMs: number; actor: string; address: string; action: string; object: string; details: string; outcome: string }): string {
  return createHash('sha256').update(JSON.stringify([prev, e.atMs, e.actor, e.address, e.action, e.object, e.details, e.outcome])).digest('hex');
}

const GENESIS = '0'.repeat(64);

/** The audit trail in the embedded database. */
export class AuditLog {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Appends one entry (its hash links it to the previous one). */
  append(e: AuditInput, nowMs = Date.now()): void {
    const details = JSON.stringify(e.details ?? {});
    const outcome = e.outcome ?? 'ok';
    transaction(this.#db, () => {
      const last = this.#db.prepare('SELECT sha256 FROM audit ORDER BY seq DESC LIMIT 1').get() as { sha256: string } | undefined;
      const prev = last?.sha256 ?? GENESIS;
      const h = entryHash(prev, { atMs: nowMs, actor: e.actor, address: e.address, action: e.action, object: e.object, details, outcome });
      this.#db.prepare('INSERT INTO audit (at_ms, actor, address, action, object, details, outcome, prev_sha256, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(nowMs, e.actor, e.address, e.action, e.object, details, outcome, prev, h);
    });
  }

  /** Entries, newest first, filtered by actor, action, object or time. */
  query(q: { actor?: string; action?: string; object?: string; sinceMs?: number; untilMs?: number; limit?: number; beforeSeq?: number } = {}): AuditEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.actor) { where.push('actor = ?'); args.push(q.actor); }
    if (q.action) { where.push('action = ?'); args.push(q.action); }
    if (q.object) { where.push('object = ?'); args.push(q.object); }
    if (q.sinceMs !== undefined) { where.push('at_ms >= ?'); args.push(q.sinceMs); }
    if (q.untilMs !== undefined) { where.push('at_ms < ?'); args.push(q.untilMs); }
    if (q.beforeSeq !== undefined) { where.push('seq < ?'); args.push(q.beforeSeq); }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, Math.min(q.limit ?? 200, 5000)) as unknown as Row[];
    return rows.map((r) => ({
      seq: r.seq, atMs: r.at_ms, actor: r.actor, address: r.address, action: r.action, object: r.object,
      details: JSON.parse(r.details) as Record<string, unknown>, outcome: r.outcome as AuditEntry['outcome'], sha256: r.sha256,
    }));
  }

  /** Recomputes the whole chain; returns the first broken sequence number, if any. */
  verify(): { entries: number; brokenAt: number | undefined } {
    let prev = GENESIS;
    let n = 0;
    for (const r of this.#db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as Iterable<Row>) {
      n++;
      const h = entryHash(prev, { atMs: r.at_ms, actor: r.actor, address: r.address, action: r.action, object: r.object, details: r.details, outcome: r.outcome });
      if (r.prev_sha256 !== prev || r.sha256 !== h) return { entries: n, brokenAt: r.seq };
      prev = r.sha256;
    }
    return { entries: n, brokenAt: undefined };
  }
}
