/**
 * The `announcements` table (C1): one row per uploaded announcement, with the SHA-256 of the file as
 * uploaded and of the two decoded PCM files the library keeps (8 kHz and 16 kHz mono). Decoding,
 * files and the in-use check belong to `announce/`; this file only stores.
 */
import type { DatabaseSync } from 'node:sqlite';

/** One stored announcement. */
export interface AnnouncementRow {
  readonly id: string;
  readonly name: string;
  /** `wav` or `mp3`: what the upload was. */
  readonly format: string;
  /** SHA-256 (hex) of the file as uploaded. */
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly durationMs: number;
  readonly sourceRateHz: number;
  readonly sourceChannels: number;
  /** SHA-256 (hex) of the decoded 8 kHz and 16 kHz WAV files. */
  readonly pcm8kSha256: string;
  readonly pcm16kSha256: string;
  readonly uploadedBy: string;
  readonly uploadedMs: number;
}

type Raw = Record<string, string | number | null>;

function toRow(r: Raw): AnnouncementRow {
  return {
    id: String(r['id']), name: String(r['name']), format: String(r['format']), sha256: String(r['sha256']), sizeBytes: Number(r['size_bytes']),
    durationMs: Number(r['duration_ms']), sourceRateHz: Number(r['source_rate_hz']), sourceChannels: Number(r['source_channels']),
    pcm8kSha256: String(r['pcm8k_sha256']), pcm16kSha256: String(r['pcm16k_sha256']), uploadedBy: String(r['uploaded_by']), uploadedMs: Number(r['uploaded_ms']),
  };
}

/** The announcement library's rows. */
export class AnnouncementRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Stores a new announcement. */
  add(a: AnnouncementRow): void {
    this.#db.prepare(`INSERT INTO announcements (id, name, format, sha256, size_bytes, duration_ms, source_rate_hz, source_channels, pcm8k_sha256, pcm16k_sha256, uploaded_by, uploaded_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(a.id, a.name, a.format, a.sha256, a.sizeBytes, a.durationMs, a.sourceRateHz, a.sourceChannels, a.pcm8kSha256, a.pcm16kSha256, a.uploadedBy, a.uploadedMs);
  }

  /** One announcement. */
  get(id: string): AnnouncementRow | undefined {
    const r = this.#db.prepare('SELECT * FROM announcements WHERE id = ?').get(id) as Raw | undefined;
    return r ? toRow(r) : undefined;
  }

  /** Every announcement, oldest first. */
  list(): AnnouncementRow[] {
    return (this.#db.prepare('SELECT * FROM announcements ORDER BY uploaded_ms, id').all() as Raw[]).map(toRow);
  }

  /** The ids of every announcement. */
  ids(): Set<string> {
    return new Set((this.#db.prepare('SELECT id FROM announcements').all() as { id: string }[]).map((r) => r.id));
  }

  /** Removes a row; false if there was none. */
  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM announcements WHERE id = ?').run(id).changes > 0;
  }
}
