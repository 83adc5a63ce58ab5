/**
 * Repository of legal holds (F6): a hold names a recording, a number (normalised by the caller),
 * a period of call starts, or several of them (all must match). Holds are never deleted: a release
 * is written into the row (who asked, who released, when), so the table keeps the whole history.
 * Matching and the two-person rule are the archive module's; this file only stores.
 */
import type { DatabaseSync } from 'node:sqlite';

/** One legal hold. */
export interface LegalHoldRow {
  readonly id: number;
  readonly recordingId: string | undefined;
  /** Normalised number: matches the caller or the callee. */
  readonly number: string | undefined;
  /** Call starts from (inclusive) and to (exclusive). */
  readonly fromMs: number | undefined;
  readonly toMs: number | undefined;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdMs: number;
  readonly releaseRequestedBy: string | undefined;
  readonly releaseRequestedMs: number | undefined;
  readonly releasedBy: string | undefined;
  readonly releasedMs: number | undefined;
}

/** What a new hold names. */
export type NewLegalHold = Pick<LegalHoldRow, 'recordingId' | 'number' | 'fromMs' | 'toMs' | 'reason' | 'createdBy' | 'createdMs'>;

type Raw = Record<string, string | number | null>;
const str = (v: string | number | null | undefined): string | undefined => (v === null || v === undefined ? undefined : String(v));
const num = (v: string | number | null | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));

function toHold(r: Raw): LegalHoldRow {
  return {
    id: Number(r['id']), recordingId: str(r['recording_id']), number: str(r['number']), fromMs: num(r['from_ms']), toMs: num(r['to_ms']),
    reason: String(r['reason']), createdBy: String(r['created_by']), createdMs: Number(r['created_ms']),
    releaseRequestedBy: str(r['release_requested_by']), releaseRequestedMs: num(r['release_requested_ms']),
    releasedBy: str(r['released_by']), releasedMs: num(r['released_ms']),
  };
}

/** The legal holds. */
export class HoldRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Stores a new hold and returns it. */
  add(h: NewLegalHold): LegalHoldRow {
    const r = this.#db.prepare('INSERT INTO legal_holds (recording_id, number, from_ms, to_ms, reason, created_by, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(h.recordingId ?? null, h.number ?? null, h.fromMs ?? null, h.toMs ?? null, h.reason, h.createdBy, h.createdMs);
    return { ...h, id: Number(r.lastInsertRowid), releaseRequestedBy: undefined, releaseRequestedMs: undefined, releasedBy: undefined, releasedMs: undefined };
  }

  /** One hold. */
  get(id: number): LegalHoldRow | undefined {
    const r = this.#db.prepare('SELECT * FROM legal_holds WHERE id = ?').get(id) as Raw | undefined;
    return r ? toHold(r) : undefined;
  }

  /** Holds not released (they stop deletion), oldest first. */
  active(): LegalHoldRow[] {
    return (this.#db.prepare('SELECT * FROM legal_holds WHERE released_ms IS NULL ORDER BY id').all() as Raw[]).map(toHold);
  }

  /** Every hold, newest first (released ones included), at most `limit`. */
  list(limit = 1000): LegalHoldRow[] {
    return (this.#db.prepare('SELECT * FROM legal_holds ORDER BY id DESC LIMIT ?').all(limit) as Raw[]).map(toHold);
  }

  /** Notes the first admin's request to release (two-person rule); false if the hold is released or asked for already. */
  requestRelease(id: number, by: string, atMs: number): boolean {
    return this.#db.prepare('UPDATE legal_holds SET release_requested_by = ?, release_requested_ms = ? WHERE id = ? AND released_ms IS NULL AND release_requested_by IS NULL')
      .run(by, atMs, id).changes > 0;
  }

  /** Releases a hold; false if it was released already. */
  release(id: number, by: string, atMs: number): boolean {
    return this.#db.prepare('UPDATE legal_holds SET released_by = ?, released_ms = ? WHERE id = ? AND released_ms IS NULL').run(by, atMs, id).changes > 0;
  }
}
