/**
 * The `.stats` file beside a leg's WAV file in the spool: the leg's statistics and the time of its
 * last packet, rewritten in place by the media worker every second (fixed size, so rewriting it
 * needs no new disk space). Crash recovery reads it for `last-packet` and the stream statistics
 * instead of guessing from file times (issue 5). Does no I/O apart from `readLegStats`.
 */
import { readFileSync } from 'node:fs';
import { emptyStats, type StreamStats } from '../rtp/index.ts';

/** Size of the file: JSON padded with spaces. */
export const LEG_STATS_BYTES = 1024;

/** What the file holds. */
export interface LegStatsFile {
  readonly stats: StreamStats;
  /** Audio bytes that had reached the WAV file when the stats were written. */
  readonly flushedBytes: number;
  readonly savedAtMs: number;
}

/** Path of the stats file of a leg's WAV file. */
export function legStatsPath(wavPath: string): string {
  return `${wavPath}.stats`;
}

/** The fixed-size content of the stats file. */
export function renderLegStats(stats: StreamStats | undefined, flushedBytes: number, nowMs = Date.now()): Buffer {
  const buf = Buffer.alloc(LEG_STATS_BYTES, 0x20);
  const json = JSON.stringify({ stats: stats ?? emptyStats(), flushedBytes, savedAtMs: nowMs } satisfies LegStatsFile);
  buf.write(json.length < LEG_STATS_BYTES ? json : JSON.stringify({ flushedBytes, savedAtMs: nowMs }), 0, 'utf8');
  return buf;
}

/** Reads a leg's stats file; undefined when it is missing or unreadable (an older spool). */
export function readLegStats(wavPath: string): LegStatsFile | undefined {
  let text: string;
  try {
    text = readFileSync(legStatsPath(wavPath), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (text === '') return undefined;
  try {
    const raw = JSON.parse(text) as Partial<LegStatsFile>;
    const stats = { ...emptyStats(), ...(raw.stats ?? {}) };
    const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    return {
      stats: { ...stats, firstPacketAtMs: num(stats.firstPacketAtMs), lastPacketAtMs: num(stats.lastPacketAtMs) },
      flushedBytes: num(raw.flushedBytes) ?? 0,
      savedAtMs: num(raw.savedAtMs) ?? 0,
    };
  } catch {
    return undefined;
  }
}
