/**
 * The `key_rollovers` table: the originals of the key rollover records (E7, invariant 7), with
 * both signatures and both certificates; the recordings tree gets copies (`seal/rollover.ts`).
 */
import type { DatabaseSync } from 'node:sqlite';

/** One stored rollover record. */
export interface KeyRolloverRow {
  readonly epoch: number;
  /** The record's text, exactly as signed. */
  readonly text: string;
  /** Base64 signature by the old key; undefined when the old key could not sign. */
  readonly oldKeySignature: string | undefined;
  /** Base64 signature by the new key. */
  readonly newKeySignature: string;
  /** PEM certificates of the old (if known) and the new key. */
  readonly oldCertificatePem: string | undefined;
  readonly newCertificatePem: string;
}

/** Key rollover records. */
export class KeyRolloverRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Stores a record. */
  insert(r: KeyRolloverRow, nowMs: number): void {
    this.#db.prepare('INSERT INTO key_rollovers (epoch, record, old_key_signature, new_key_signature, old_certificate, new_certificate, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(r.epoch, r.text, r.oldKeySignature ?? null, r.newKeySignature, r.oldCertificatePem ?? null, r.newCertificatePem, nowMs);
  }

  /** Every record, oldest first. */
  list(): KeyRolloverRow[] {
    const rows = this.#db.prepare('SELECT * FROM key_rollovers ORDER BY epoch').all() as { epoch: number; record: string; old_key_signature: string | null; new_key_signature: string; old_certificate: string | null; new_certificate: string }[];
    return rows.map((r) => ({
      epoch: r.epoch, text: r.record, oldKeySignature: r.old_key_signature ?? undefined, newKeySignature: r.new_key_signature,
      oldCertificatePem: r.old_certificate ?? undefined, newCertificatePem: r.new_certificate,
    }));
  }
}
