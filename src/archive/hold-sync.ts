/**
 * Legal holds on the stored copies (F6): a hold also holds each copy a storage target with object
 * locks (S3 Object Lock) keeps, so nobody deletes it there either. When a hold is set, every copy
 * of every recording it matches gets the object legal hold; when it is released and no other
 * active hold matches a recording, its copies lose it. The desired state is read from the
 * database each time (the holds and the outbox's verified copies), never kept in memory: a target
 * that fails is logged and reported, and the retention job's periodic run applies the state again
 * for the recordings of the active holds and of the holds released in the last
 * {@link RELEASED_RECHECK_MS}.
 */
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { expandTemplate, timeParts } from '../recording/index.ts';
import type { LegalHoldRow, RecordingRepository, RecordingRow } from '../store/index.ts';
import type { LegalHolds } from './holds.ts';
import type { Destination, Outbox } from './outbox.ts';
import { TargetError } from './target.ts';

/** Released holds whose recordings the periodic run still sets free on the targets. */
export const RELEASED_RECHECK_MS = 30 * 24 * 3_600_000;
const PAGE = 200;

/** What one application did. */
export interface HoldSyncResult {
  /** Copies whose object legal hold was set (on or off). */
  readonly applied: number;
  /** Copies that failed (retried by the next periodic run). */
  readonly failed: number;
}

/** Options of {@link HoldSync}. */
export interface HoldSyncOptions {
  readonly repo: RecordingRepository;
  readonly holds: LegalHolds;
  readonly outbox: Outbox;
  readonly destination: (id: string) => Destination | undefined;
  readonly timeZone: string | undefined;
  readonly log: Logger;
  /** Reports a failure where operators look (the health page's last errors). */
  readonly noteError?: ((message: string) => void) | undefined;
}

/** Pushes the legal hold state of recordings to the copies on targets with object locks. */
export class HoldSync {
  readonly #o: HoldSyncOptions;

  constructor(o: HoldSyncOptions) {
    this.#o = o;
  }

  /** Applies the state of every recording a hold matches (after it was set or released). */
  async apply(hold: LegalHoldRow): Promise<HoldSyncResult> {
    return this.#applyAll(this.#recordingsOf(hold), this.#o.holds.active());
  }

  /** The periodic run: the recordings of the active holds and of the recently released ones. */
  async reapply(nowMs: number): Promise<HoldSyncResult> {
    const holds = this.#o.holds.list().filter((h) => h.releasedMs === undefined || h.releasedMs >= nowMs - RELEASED_RECHECK_MS);
    const seen = new Map<string, RecordingRow>();
    for (const h of holds) for (const r of this.#recordingsOf(h)) seen.set(r.id, r);
    return this.#applyAll([...seen.values()], this.#o.holds.active());
  }

  async #applyAll(recordings: readonly RecordingRow[], active: readonly LegalHoldRow[]): Promise<HoldSyncResult> {
    let applied = 0;
    let failed = 0;
    for (const r of recordings) {
      // Deleted by retention: no copy is left to hold.
      if (r.deletedMs !== undefined) continue;
      const on = this.#o.holds.matching(r, active).length > 0;
      for (const targetId of this.#o.outbox.fileCopies(r.id)) {
        const dest = this.#o.destination(targetId);
        if (dest?.kind !== 'files' || !dest.target.setLegalHold) continue;
        const folder = expandTemplate(dest.pathTemplate, timeParts(r.startMs, this.#o.timeZone));
        try {
          for (const f of r.files) await dest.target.setLegalHold(`${folder}/${f}`, on);
          applied += r.files.length;
        } catch (err) {
          // A bucket without Object Lock has no object legal hold: callseal's own hold is what keeps the copy.
          if (err instanceof TargetError && err.stage === 'config') continue;
          failed++;
          const message = errorMessage(err).slice(0, 300);
          this.#o.log.warn({ recordingId: r.id, target: targetId, on, err: message, code: 'CS_HOLD_SYNC' }, 'legal hold: setting the object legal hold failed; retried by the next retention run');
          this.#o.noteError?.(`legal hold ${on ? 'on' : 'off'} for recording ${r.id} on target ${targetId}: ${message}`);
        }
      }
    }
    if (applied + failed > 0) this.#o.log.info({ recordings: recordings.length, applied, failed }, 'legal holds applied to stored copies');
    return { applied, failed };
  }

  /** The recordings a hold matches (whatever its state), found as the exporter finds a number's (the hold's number is normalised). */
  #recordingsOf(hold: LegalHoldRow): RecordingRow[] {
    const matches = (r: RecordingRow): boolean => this.#o.holds.matching(r, [hold]).length > 0;
    if (hold.recordingId !== undefined) {
      const r = this.#o.repo.row(hold.recordingId);
      return r && matches(r) ? [r] : [];
    }
    // The stored numbers are as the SRC sent them (030..., +4930..., 0049...): they share their last digits.
    const digits = hold.number?.replace(/^\+/, '').slice(-6);
    const out: RecordingRow[] = [];
    let after: { epoch: number; seq: number } | undefined;
    for (;;) {
      const page = this.#o.repo.candidates({ digits, fromMs: hold.fromMs, toMs: hold.toMs, limit: PAGE, after });
      out.push(...page.filter(matches));
      const last = page[page.length - 1];
      if (!last || page.length < PAGE) break;
      after = { epoch: last.chainEpoch, seq: last.chainSeq };
    }
    return out;
  }
}
