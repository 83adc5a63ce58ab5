/**
 * The access audit trail (H6): who logged in, listened to, downloaded, exported, verified, deleted or
 * changed what, and when. Append-only: the database refuses UPDATE and DELETE on the table (triggers),
 * and every entry carries the SHA-256 of the previous entry and of itself, so an entry removed or
 * edited behind callseal's back breaks the chain ({@link AuditLog.verify}). Whoever holds the database
 * file can still drop the triggers and recompute the whole chain, so the head is also anchored outside
 * the database (issue 7): signed checkpoints in the recordings tree carry it (`seal/checkpoint.ts`),
 * and verify compares the chain with the newest anchors.
 */
import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { AuditRepository } from '../store/index.ts';

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

function entryHash(prev: string, e: { atMs: number; actor: string; address: string; action: string; object: string; details: string; outcome: string }): string {
  return createHash('sha256').update(JSON.stringify([prev, e.atMs, e.actor, e.address, e.action, e.object, e.details, e.outcome])).digest('hex');
}

const GENESIS = '0'.repeat(64);

/** An audit head signed outside the database (a checkpoint in the recordings tree). */
export interface AuditAnchor {
  readonly seq: number;
  readonly sha256: string;
  readonly atMs: number;
  readonly file: string;
}

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  /** The signed anchors (newest last); their signatures are already checked. */
  readonly anchors?: () => readonly AuditAnchor[];
}

/** The result of {@link AuditLog.verify}. */
export interface AuditVerification {
  readonly entries: number;
  /** First broken sequence number: an entry that fails its own chain, or an anchored head the database no longer holds. */
  readonly brokenAt: number | undefined;
  /** Sequence number of the newest anchor that matched. */
  readonly anchoredAt?: number | undefined;
  /** The anchor the database contradicts. */
  readonly anchorMismatch?: { readonly seq: number; readonly expected: string; readonly found: string | undefined; readonly file: string } | undefined;
}

/** The audit trail in the embedded database. */
export class AuditLog {
  readonly #rows: AuditRepository;
  readonly #anchors: (() => readonly AuditAnchor[]) | undefined;

  constructor(db: DatabaseSync, options: AuditLogOptions = {}) {
    this.#rows = new AuditRepository(db);
    this.#anchors = options.anchors;
  }

  /** The newest entry's sequence number and hash (what a checkpoint anchors). */
  head(): { seq: number; sha256: string } | undefined {
    return this.#rows.head();
  }

  /** Appends one entry (its hash links it to the previous one). */
  append(e: AuditInput, nowMs = Date.now()): void {
    const details = JSON.stringify(e.details ?? {});
    const outcome = e.outcome ?? 'ok';
    this.#rows.append({ at_ms: nowMs, actor: e.actor, address: e.address, action: e.action, object: e.object, details, outcome }, GENESIS,
      (prev) => entryHash(prev, { atMs: nowMs, actor: e.actor, address: e.address, action: e.action, object: e.object, details, outcome }));
  }

  /** Entries, newest first, filtered by actor, action, object or time. */
  query(q: { actor?: string; action?: string; object?: string; sinceMs?: number; untilMs?: number; limit?: number; beforeSeq?: number } = {}): AuditEntry[] {
    const rows = this.#rows.query({ ...q, limit: Math.min(q.limit ?? 200, 5000) });
    return rows.map((r) => ({
      seq: r.seq, atMs: r.at_ms, actor: r.actor, address: r.address, action: r.action, object: r.object,
      details: JSON.parse(r.details) as Record<string, unknown>, outcome: r.outcome as AuditEntry['outcome'], sha256: r.sha256,
    }));
  }

  /**
   * Recomputes the whole chain and compares it with the signed anchors; returns the first broken
   * sequence number, if any. A chain rewritten consistently (triggers dropped, entries deleted, hashes
   * recomputed) still contradicts the last anchored head.
   */
  verify(): AuditVerification {
    let prev = GENESIS;
    let n = 0;
    let brokenAt: number | undefined;
    const hashes = new Map<number, string>();
    for (const r of this.#rows.iterate()) {
      n++;
      hashes.set(r.seq, r.sha256);
      const h = entryHash(prev, { atMs: r.at_ms, actor: r.actor, address: r.address, action: r.action, object: r.object, details: r.details, outcome: r.outcome });
      if (r.prev_sha256 !== prev || r.sha256 !== h) {
        brokenAt = r.seq;
        break;
      }
      prev = r.sha256;
    }
    if (brokenAt !== undefined) return { entries: n, brokenAt };
    let anchoredAt: number | undefined;
    let anchorMismatch: AuditVerification['anchorMismatch'];
    for (const a of this.#anchors?.() ?? []) {
      const found = hashes.get(a.seq);
      if (found === a.sha256) anchoredAt = Math.max(anchoredAt ?? 0, a.seq);
      else if (anchorMismatch === undefined || a.seq < anchorMismatch.seq) anchorMismatch = { seq: a.seq, expected: a.sha256, found, file: a.file };
    }
    if (anchorMismatch) return { entries: n, brokenAt: anchorMismatch.seq, anchoredAt, anchorMismatch };
    return { entries: n, brokenAt: undefined, anchoredAt };
  }
}
