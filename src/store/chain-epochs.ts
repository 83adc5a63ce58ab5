/**
 * The `chain_epochs` table: one row per key of the installation, with the head of that epoch's hash
 * chain (invariant 2). The head moves only inside the transaction that inserts the recording row
 * (`recordings.ts`).
 */
import type { DatabaseSync } from 'node:sqlite';

/** The head of one chain epoch. */
export interface ChainHead {
  readonly epoch: number;
  readonly spkiSha256: string;
  readonly seq: number;
  readonly base: string | undefined;
  readonly signature: string | undefined;
}

interface HeadRow {
  epoch: number;
  spki_sha256: string;
  head_seq: number;
  head_base: string | null;
  head_signature: string | null;
}

function toHead(row: HeadRow): ChainHead {
  return { epoch: row.epoch, spkiSha256: row.spki_sha256, seq: row.head_seq, base: row.head_base ?? undefined, signature: row.head_signature ?? undefined };
}

/** Chain epochs and their heads. */
export class ChainEpochRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The newest epoch's head, or undefined before the first key exists. */
  current(): ChainHead | undefined {
    const row = this.#db.prepare('SELECT epoch, spki_sha256, head_seq, head_base, head_signature FROM chain_epochs ORDER BY epoch DESC LIMIT 1').get() as HeadRow | undefined;
    return row ? toHead(row) : undefined;
  }

  /** The head of every epoch, oldest first. */
  all(): ChainHead[] {
    return (this.#db.prepare('SELECT epoch, spki_sha256, head_seq, head_base, head_signature FROM chain_epochs ORDER BY epoch').all() as unknown as HeadRow[]).map(toHead);
  }

  /** Starts a chain epoch for a key (first start, or an explicit key reset). */
  start(epoch: number, spkiSha256: string, nowMs: number): void {
    this.#db.prepare('INSERT INTO chain_epochs (epoch, spki_sha256, started_ms) VALUES (?, ?, ?)').run(epoch, spkiSha256, nowMs);
  }

  /** The sequence number of an epoch's head, or undefined for an unknown epoch. */
  headSequence(epoch: number): number | undefined {
    const row = this.#db.prepare('SELECT head_seq FROM chain_epochs WHERE epoch = ?').get(epoch) as { head_seq: number } | undefined;
    return row?.head_seq;
  }

  /** Moves an epoch's head; only inside the transaction that inserts the recording at `seq`. */
  moveHead(epoch: number, seq: number, base: string, signature: string): void {
    this.#db.prepare('UPDATE chain_epochs SET head_seq = ?, head_base = ?, head_signature = ? WHERE epoch = ?').run(seq, base, signature, epoch);
  }
}
