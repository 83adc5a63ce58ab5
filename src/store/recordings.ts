/**
 * The `recordings` table, the recording log (G3): one row per sealed recording. Inserting a row
 * moves its epoch's chain head (`chain-epochs.ts`) in the same transaction (invariant 2).
 */
import type { DatabaseSync } from 'node:sqlite';
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
        direction, setting, channels, codec, interrupted, files, hash_file_sha256, signature, chain_epoch, chain_seq, previous, sealed_at_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        row.id, row.baseName, row.dir, row.callId, row.startMs, row.endMs, row.callerNumber, row.callerName, row.calleeNumber, row.calleeName,
        row.direction, row.setting, row.channels, row.codec, row.interrupted ? 1 : 0, JSON.stringify(row.files), row.hashFileSha256, row.signature,
        row.chainEpoch, row.chainSeq, row.previous, row.sealedAtMs,
      );
      this.#chain.moveHead(row.chainEpoch, row.chainSeq, row.baseName, row.signature);
    });
  }

  /** Folder (relative), files and start of one sealed recording. */
  get(id: string): { dir: string; files: string[]; startMs: number } | undefined {
    const r = this.#db.prepare('SELECT dir, files, start_ms FROM recordings WHERE id = ?').get(id) as { dir: string; files: string; start_ms: number } | undefined;
    return r ? { dir: r.dir, files: JSON.parse(r.files) as string[], startMs: r.start_ms } : undefined;
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

function toRow(r: Record<string, string | number>): RecordingRow {
  return {
    id: String(r['id']), baseName: String(r['base_name']), dir: String(r['dir']), callId: String(r['call_id']), startMs: Number(r['start_ms']),
    endMs: Number(r['end_ms']), callerNumber: String(r['caller_number']), callerName: String(r['caller_name']), calleeNumber: String(r['callee_number']),
    calleeName: String(r['callee_name']), direction: String(r['direction']), setting: String(r['setting']), channels: String(r['channels']),
    codec: String(r['codec']), interrupted: r['interrupted'] === 1, files: JSON.parse(String(r['files'])) as string[],
    hashFileSha256: String(r['hash_file_sha256']), signature: String(r['signature']), chainEpoch: Number(r['chain_epoch']),
    chainSeq: Number(r['chain_seq']), previous: String(r['previous']), sealedAtMs: Number(r['sealed_at_ms']),
  };
}
