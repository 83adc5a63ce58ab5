/**
 * The `audit` table: the access audit trail (H6), append-only (triggers refuse UPDATE and DELETE).
 * The hash chain over the entries is computed in `web/audit.ts`; this is the SQL, and the append
 * runs in one transaction so the previous hash cannot change under it.
 */
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from './db.ts';

/** An audit row as stored. */
export interface AuditRow {
  readonly seq: number;
  readonly at_ms: number;
  readonly actor: string;
  readonly address: string;
  readonly action: string;
  readonly object: string;
  /** JSON object. */
  readonly details: string;
  readonly outcome: string;
  readonly prev_sha256: string;
  readonly sha256: string;
}

/** A new entry; `sha256` is computed from the previous entry's hash, which the repository passes in. */
export type AuditInsert = Omit<AuditRow, 'seq' | 'prev_sha256' | 'sha256'>;

/** A filter of the trail. */
export interface AuditFilter {
  readonly actor?: string;
  readonly action?: string;
  readonly object?: string;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly beforeSeq?: number;
  readonly limit: number;
}

/** The audit trail's rows. */
export class AuditRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The newest entry's sequence number and hash, or undefined when the trail is empty. */
  head(): { seq: number; sha256: string } | undefined {
    const row = this.#db.prepare('SELECT seq, sha256 FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; sha256: string } | undefined;
    return row ? { seq: row.seq, sha256: row.sha256 } : undefined;
  }

  /**
   * Appends one entry in a transaction: `hash(prevSha256)` gives its hash, with the previous entry's
   * hash (`genesis` for the first).
   */
  append(e: AuditInsert, genesis: string, hash: (prevSha256: string) => string): void {
    transaction(this.#db, () => {
      const last = this.#db.prepare('SELECT sha256 FROM audit ORDER BY seq DESC LIMIT 1').get() as { sha256: string } | undefined;
      const prev = last?.sha256 ?? genesis;
      this.#db.prepare('INSERT INTO audit (at_ms, actor, address, action, object, details, outcome, prev_sha256, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(e.at_ms, e.actor, e.address, e.action, e.object, e.details, e.outcome, prev, hash(prev));
    });
  }

  /** Entries, newest first. */
  query(q: AuditFilter): AuditRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.actor) { where.push('actor = ?'); args.push(q.actor); }
    if (q.action) { where.push('action = ?'); args.push(q.action); }
    if (q.object) { where.push('object = ?'); args.push(q.object); }
    if (q.sinceMs !== undefined) { where.push('at_ms >= ?'); args.push(q.sinceMs); }
    if (q.untilMs !== undefined) { where.push('at_ms < ?'); args.push(q.untilMs); }
    if (q.beforeSeq !== undefined) { where.push('seq < ?'); args.push(q.beforeSeq); }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return this.#db.prepare(sql).all(...args, q.limit) as unknown as AuditRow[];
  }

  /** Every entry, oldest first, read one at a time. */
  iterate(): Iterable<AuditRow> {
    return this.#db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as Iterable<AuditRow>;
  }
}
