/**
 * Legal holds (F6): a hold stops the deletion of every recording it matches until it is released.
 * A hold names a recording, a number (normalised as the policy normalises numbers, and matched
 * against the caller and the callee), a period of call starts, or several of these (all must
 * match). With `archive.legalHoldTwoPersonRelease`, a release takes two admins: the first asks, a
 * second one confirms; nobody, the admin who set the hold included, releases it alone. This module
 * decides matching and the release rule; the audit trail is written by its callers.
 */
import { CallsealError } from '../common/errors.ts';
import { normalizeNumber, userPart, type NumberContext } from '../policy/index.ts';
import type { HoldRepository, LegalHoldRow, RecordingRow } from '../store/index.ts';

/** What an admin gives for a new hold. */
export interface LegalHoldInput {
  readonly recordingId?: string | undefined;
  readonly number?: string | undefined;
  readonly fromMs?: number | undefined;
  readonly toMs?: number | undefined;
  readonly reason: string;
}

/** The outcome of a release call. */
export type ReleaseOutcome = { readonly state: 'released'; readonly hold: LegalHoldRow } | { readonly state: 'release-requested'; readonly hold: LegalHoldRow };

/** Options of {@link LegalHolds}. */
export interface LegalHoldsOptions {
  readonly repo: HoldRepository;
  readonly numbers: NumberContext;
  /** `archive.legalHoldTwoPersonRelease`. */
  readonly twoPersonRelease: boolean;
  /** Whether a recording id exists. */
  readonly recordingExists: (id: string) => boolean;
}

/** Legal holds and their rules. */
export class LegalHolds {
  readonly #o: LegalHoldsOptions;

  constructor(o: LegalHoldsOptions) {
    this.#o = o;
  }

  /** Whether a release needs two admins. */
  get twoPersonRelease(): boolean {
    return this.#o.twoPersonRelease;
  }

  /** Adds a hold set by `actor`. */
  add(input: LegalHoldInput, actor: string, nowMs: number): LegalHoldRow {
    // Typed by people: spaces, dashes and brackets are separators (`030 123-456`).
    const number = input.number !== undefined && input.number !== '' ? normalizeNumber(userPart(input.number), this.#o.numbers) : undefined;
    if (number === '') throw new CallsealError('CS_HOLD_INVALID', `the number "${input.number ?? ''}" is not a number`);
    if (input.recordingId !== undefined && !this.#o.recordingExists(input.recordingId)) throw new CallsealError('CS_HOLD_INVALID', `no recording "${input.recordingId}"`);
    if (input.recordingId === undefined && number === undefined && input.fromMs === undefined && input.toMs === undefined) {
      throw new CallsealError('CS_HOLD_INVALID', 'a hold names a recording, a number or a period');
    }
    if (input.fromMs !== undefined && input.toMs !== undefined && input.toMs <= input.fromMs) throw new CallsealError('CS_HOLD_INVALID', 'the period ends before it starts');
    return this.#o.repo.add({ recordingId: input.recordingId, number, fromMs: input.fromMs, toMs: input.toMs, reason: input.reason, createdBy: actor, createdMs: nowMs });
  }

  /** Every hold, newest first. */
  list(): LegalHoldRow[] {
    return this.#o.repo.list();
  }

  /** The holds not released. */
  active(): LegalHoldRow[] {
    return this.#o.repo.active();
  }

  /** The active holds that match a recording (`active` given: checked against those, without a query). */
  matching(r: RecordingRow, active: readonly LegalHoldRow[] = this.active()): LegalHoldRow[] {
    const parties = [r.callerNumber, r.calleeNumber].map((n) => normalizeNumber(n, this.#o.numbers)).filter((n) => n !== '');
    return active.filter((h) => (h.recordingId === undefined || h.recordingId === r.id)
      && (h.number === undefined || parties.includes(h.number))
      && (h.fromMs === undefined || r.startMs >= h.fromMs)
      && (h.toMs === undefined || r.startMs < h.toMs));
  }

  /**
   * Releases a hold, or with the two-person rule records the first admin's request; a second,
   * different admin's call then releases it.
   */
  release(id: number, actor: string, nowMs: number): ReleaseOutcome {
    const h = this.#o.repo.get(id);
    if (!h) throw new CallsealError('CS_HOLD_RELEASE', `no legal hold #${id}`);
    if (h.releasedMs !== undefined) throw new CallsealError('CS_HOLD_RELEASE', `legal hold #${id} was released by ${h.releasedBy ?? '?'} already`);
    if (this.#o.twoPersonRelease) {
      if (h.releaseRequestedBy === undefined) {
        this.#o.repo.requestRelease(id, actor, nowMs);
        return { state: 'release-requested', hold: this.#reread(id) };
      }
      if (h.releaseRequestedBy === actor) {
        throw new CallsealError('CS_HOLD_RELEASE', `legal hold #${id}: ${actor} asked for its release; a second admin must confirm it (archive.legalHoldTwoPersonRelease)`);
      }
    }
    if (!this.#o.repo.release(id, actor, nowMs)) throw new CallsealError('CS_HOLD_RELEASE', `legal hold #${id} was released already`);
    return { state: 'released', hold: this.#reread(id) };
  }

  #reread(id: number): LegalHoldRow {
    const h = this.#o.repo.get(id);
    if (!h) throw new CallsealError('CS_HOLD_RELEASE', `no legal hold #${id}`);
    return h;
  }
}
