/**
 * The `recordings` table, the recording log (G3): one row per sealed recording. Inserting a row
 * moves its epoch's chain head (`chain-epochs.ts`) in the same transaction (invariant 2).
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Retention } from '../common/retention.ts';
import { transaction } from './db.ts';
import { InvalidStateError } from '../common/errors.ts';
import { ChainEpochRepository, type ChainHead } from './chain-epochs.ts';

/** A sealed recording as the log stores it. */
export interface RecordingRow {
  readonly id: string;
  readonly baseName: string;
  /** Folder relative to the recordings root. */
  readonly dir: string;
  readonly callId: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly callerNumber: string;
  readonly callerName: string;
  readonly calleeNumber: string;
  readonly calleeName: string;
  readonly direction: string;
  readonly setting: string;
  readonly channels: string;
  readonly codec: string;
  readonly interrupted: boolean;
  readonly files: readonly string[];
  readonly hashFileSha256: string;
  readonly signature: string;
  readonly chainEpoch: number;
  readonly chainSeq: number;
  readonly previous: string;
  readonly sealedAtMs: number;
  /** F6: the setting's retention at sealing; `keep` when absent. */
  readonly retention?: Retention;
  /** When the retention ends; undefined keeps the recording. */
  readonly retainUntilMs?: number | undefined;
  /** When its deletion started (the signed deletion record was written), and its path in the recordings tree. */
  readonly deletionStartedMs?: number | undefined;
  readonly deletionRecord?: string | undefined;
  /** When every copy was gone. */
  readonly deletedMs?: number | undefined;
}

/** Sealed recordings, and the chain heads they move. */
export class RecordingRepository {
  readonly #db: DatabaseSync;
  readonly #chain: ChainEpochRepository;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#chain = new ChainEpochRepository(db);
  }

  /** The newest epoch's head, or undefined before the first key exists (`ChainEpochRepository.current`). */
  currentHead(): ChainHead | undefined {
    return this.#chain.current();
  }

  /** Starts a chain epoch for a key (first start, or an explicit key reset; `ChainEpochRepository.start`). */
  startEpoch(epoch: number, spkiSha256: string, nowMs: number): void {
    this.#chain.start(epoch, spkiSha256, nowMs);
  }

  /** The key (SHA-256 of its SubjectPublicKeyInfo) of a chain epoch. */
  epochKey(epoch: number): string | undefined {
    return (this.#db.prepare('SELECT spki_sha256 FROM chain_epochs WHERE epoch = ?').get(epoch) as { spki_sha256: string } | undefined)?.spki_sha256;
  }

  /** Number of sealed recordings in all epochs. */
  count(): number {
    const row = this.#db.prepare('SELECT COUNT(*) AS n FROM recordings').get() as { n: number } | undefined;
    return row?.n ?? 0;
  }

  /** Whether a recording id is sealed. */
  has(id: string): boolean {
    return this.#db.prepare('SELECT 1 FROM recordings WHERE id = ?').get(id) !== undefined;
  }

  /** Inserts a sealed recording and moves the chain head, atomically; fails if the head moved. */
  insertSealed(row: RecordingRow): void {
    transaction(this.#db, () => {
      const headSeq = this.#chain.headSequence(row.chainEpoch);
      if (headSeq !== row.chainSeq - 1) throw new InvalidStateError('CS_STORE_CHAIN_HEAD_MOVED', `chain head moved: expected ${row.chainSeq - 1}, found ${String(headSeq)} [epoch:${row.chainEpoch}, recordingId:${row.id}]`);
      this.#db.prepare(`INSERT INTO recordings (id, base_name, dir, call_id, start_ms, end_ms, caller_number, caller_name, callee_number, callee_name,
        direction, setting, channels, codec, interrupted, files, hash_file_sha256, signature, chain_epoch, chain_seq, previous, sealed_at_ms, retention, retain_until_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        row.id, row.baseName, row.dir, row.callId, row.startMs, row.endMs, row.callerNumber, row.callerName, row.calleeNumber, row.calleeName,
        row.direction, row.setting, row.channels, row.codec, row.interrupted ? 1 : 0, JSON.stringify(row.files), row.hashFileSha256, row.signature,
        row.chainEpoch, row.chainSeq, row.previous, row.sealedAtMs, JSON.stringify(row.retention ?? 'keep'), row.retainUntilMs ?? null,
      );
      this.#chain.moveHead(row.chainEpoch, row.chainSeq, row.baseName, row.signature);
    });
  }

  /** Folder (relative), files and start of one sealed recording. */
  get(id: string): { dir: string; files: string[]; startMs: number } | undefined {
    const r = this.#db.prepare('SELECT dir, files, start_ms FROM recordings WHERE id = ?').get(id) as { dir: string; files: string; start_ms: number } | undefined;
    return r ? { dir: r.dir, files: JSON.parse(r.files) as string[], startMs: r.start_ms } : undefined;
  }

  /** The recording at a chain position. */
  bySequence(epoch: number, seq: number): RecordingRow | undefined {
    const r = this.#db.prepare('SELECT * FROM recordings WHERE chain_epoch = ? AND chain_seq = ?').get(epoch, seq) as Record<string, string | number | null> | undefined;
    return r ? toRow(r) : undefined;
  }

  /** The full row of one sealed recording. */
  row(id: string): RecordingRow | undefined {
    const r = this.#db.prepare('SELECT * FROM recordings WHERE id = ?').get(id) as Record<string, string | number> | undefined;
    return r ? toRow(r) : undefined;
  }

  /**
   * Searches the log (G3, H3): `text` matches numbers, names or call id (substring), or a whole
   * base name (a file name pasted into the search). A base name is not searched for parts: its `_`
   * and `-` separators would make a search for `_` find every recording. The time range applies to
   * the start; newest first.
   */
  search(q: RecordingQuery): { total: number; rows: RecordingRow[] } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // Three characters or more use the trigram index; shorter ones scan with LIKE.
    const phrase = (v: string): string => `"${v.replace(/"/g, '""')}"`;
    const like = (v: string): string => `%${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const text = q.text?.trim() ?? '';
    if (text.length >= 3) {
      where.push('(rowid IN (SELECT rowid FROM recordings_search WHERE recordings_search MATCH ?) OR base_name = ?)');
      args.push(`{caller_number caller_name callee_number callee_name call_id} : ${phrase(text)}`, text);
    } else if (text !== '') {
      const l = like(text);
      where.push(`(caller_number LIKE ? ESCAPE '\\' OR callee_number LIKE ? ESCAPE '\\' OR caller_name LIKE ? ESCAPE '\\' OR callee_name LIKE ? ESCAPE '\\' OR call_id LIKE ? ESCAPE '\\')`);
      args.push(l, l, l, l, l);
    }
    const number = q.number ?? '';
    if (number.length >= 3) {
      where.push('rowid IN (SELECT rowid FROM recordings_search WHERE recordings_search MATCH ?)');
      args.push(`{caller_number callee_number} : ${phrase(number)}`);
    } else if (number !== '') {
      where.push(`(caller_number LIKE ? ESCAPE '\\' OR callee_number LIKE ? ESCAPE '\\')`);
      args.push(like(number), like(number));
    }
    if (q.fromMs !== undefined) { where.push('start_ms >= ?'); args.push(q.fromMs); }
    if (q.toMs !== undefined) { where.push('start_ms < ?'); args.push(q.toMs); }
    if (q.direction !== undefined) { where.push('direction = ?'); args.push(q.direction); }
    if (q.setting !== undefined && q.setting !== '') { where.push('setting = ?'); args.push(q.setting); }
    const w = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.#db.prepare(`SELECT COUNT(*) AS n FROM recordings ${w}`).get(...args) as { n: number }).n;
    const rows = this.#db.prepare(`SELECT * FROM recordings ${w} ORDER BY start_ms DESC, chain_seq DESC LIMIT ? OFFSET ?`)
      .all(...args, Math.min(q.limit ?? 50, 500), q.offset ?? 0) as Record<string, string | number>[];
    return { total, rows: rows.map(toRow) };
  }

  /** Recordings that started at or after `sinceMs`. */
  countSince(sinceMs: number): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM recordings WHERE start_ms >= ?').get(sinceMs) as { n: number }).n;
  }

  /**
   * Recordings whose retention ended by `nowMs` and whose deletion has not started, in order of
   * retain-until, after the key `after` (keyset paging: held recordings stay due without blocking
   * the ones behind them).
   */
  dueForDeletion(nowMs: number, limit: number, after?: { readonly retainUntilMs: number; readonly id: string }): RecordingRow[] {
    const rows = this.#db.prepare(`SELECT * FROM recordings WHERE retain_until_ms IS NOT NULL AND retain_until_ms <= ? AND deleted_ms IS NULL
      AND deletion_started_ms IS NULL AND (retain_until_ms > ? OR (retain_until_ms = ? AND id > ?)) ORDER BY retain_until_ms, id LIMIT ?`)
      .all(nowMs, after?.retainUntilMs ?? -1, after?.retainUntilMs ?? -1, after?.id ?? '', limit) as Record<string, string | number | null>[];
    return rows.map(toRow);
  }

  /** Recordings whose deletion started and is not finished (copies left on a target, or the local files). */
  deleting(limit = 200): RecordingRow[] {
    return (this.#db.prepare('SELECT * FROM recordings WHERE deletion_started_ms IS NOT NULL AND deleted_ms IS NULL ORDER BY deletion_started_ms LIMIT ?')
      .all(limit) as Record<string, string | number | null>[]).map(toRow);
  }

  /** Marks the start of a recording's deletion, naming its deletion record; false if it had started already. */
  startDeletion(id: string, atMs: number, deletionRecord: string): boolean {
    return this.#db.prepare('UPDATE recordings SET deletion_started_ms = ?, deletion_record = ? WHERE id = ? AND deletion_started_ms IS NULL').run(atMs, deletionRecord, id).changes > 0;
  }

  /** Marks a recording deleted everywhere (the row stays: the log keeps what was recorded and when it went). */
  markDeleted(id: string, atMs: number): void {
    this.#db.prepare('UPDATE recordings SET deleted_ms = ? WHERE id = ? AND deleted_ms IS NULL').run(atMs, id);
  }

  /**
   * Recordings of a time range (start) whose caller or callee number contains `digits` (a prefilter:
   * the caller compares normalised numbers), in chain order, after the chain position `after`
   * (keyset paging). Bounded by `limit`.
   */
  candidates(q: {
    readonly digits?: string | undefined; readonly fromMs?: number | undefined; readonly toMs?: number | undefined; readonly limit: number;
    readonly after?: { readonly epoch: number; readonly seq: number } | undefined;
  }): RecordingRow[] {
    const where: string[] = ['(chain_epoch > ? OR (chain_epoch = ? AND chain_seq > ?))'];
    const args: (string | number)[] = [q.after?.epoch ?? 0, q.after?.epoch ?? 0, q.after?.seq ?? 0];
    const digits = q.digits ?? '';
    if (digits.length >= 3) {
      where.push('rowid IN (SELECT rowid FROM recordings_search WHERE recordings_search MATCH ?)');
      args.push(`{caller_number callee_number} : "${digits.replace(/"/g, '""')}"`);
    } else if (digits !== '') {
      where.push(`(caller_number LIKE ? ESCAPE '\\' OR callee_number LIKE ? ESCAPE '\\')`);
      const l = `%${digits.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      args.push(l, l);
    }
    if (q.fromMs !== undefined) { where.push('start_ms >= ?'); args.push(q.fromMs); }
    if (q.toMs !== undefined) { where.push('start_ms < ?'); args.push(q.toMs); }
    const w = `WHERE ${where.join(' AND ')}`;
    return (this.#db.prepare(`SELECT * FROM recordings ${w} ORDER BY chain_epoch, chain_seq LIMIT ?`).all(...args, q.limit) as Record<string, string | number | null>[]).map(toRow);
  }

  /** Sealed recordings, newest first. */
  list(limit = 100): { id: string; baseName: string; dir: string; chainSeq: number; interrupted: boolean }[] {
    const rows = this.#db.prepare('SELECT id, base_name, dir, chain_seq, interrupted FROM recordings ORDER BY chain_epoch DESC, chain_seq DESC LIMIT ?').all(limit) as { id: string; base_name: string; dir: string; chain_seq: number; interrupted: number }[];
    return rows.map((r) => ({ id: r.id, baseName: r.base_name, dir: r.dir, chainSeq: r.chain_seq, interrupted: r.interrupted === 1 }));
  }
}

/** A search of the recording log. */
export interface RecordingQuery {
  readonly text?: string;
  readonly number?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly direction?: string;
  readonly setting?: string;
  readonly limit?: number;
  readonly offset?: number;
}

const optionalNumber = (v: string | number | null | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));

function toRow(r: Record<string, string | number | null>): RecordingRow {
  return {
    id: String(r['id']), baseName: String(r['base_name']), dir: String(r['dir']), callId: String(r['call_id']), startMs: Number(r['start_ms']),
    endMs: Number(r['end_ms']), callerNumber: String(r['caller_number']), callerName: String(r['caller_name']), calleeNumber: String(r['callee_number']),
    calleeName: String(r['callee_name']), direction: String(r['direction']), setting: String(r['setting']), channels: String(r['channels']),
    codec: String(r['codec']), interrupted: r['interrupted'] === 1, files: JSON.parse(String(r['files'])) as string[],
    hashFileSha256: String(r['hash_file_sha256']), signature: String(r['signature']), chainEpoch: Number(r['chain_epoch']),
    chainSeq: Number(r['chain_seq']), previous: String(r['previous']), sealedAtMs: Number(r['sealed_at_ms']),
    retention: r['retention'] === undefined || r['retention'] === null ? 'keep' : JSON.parse(String(r['retention'])) as Retention,
    retainUntilMs: optionalNumber(r['retain_until_ms']), deletionStartedMs: optionalNumber(r['deletion_started_ms']),
    deletionRecord: r['deletion_record'] === null || r['deletion_record'] === undefined ? undefined : String(r['deletion_record']), deletedMs: optionalNumber(r['deleted_ms']),
  };
}
