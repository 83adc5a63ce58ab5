/**
 * The retention job (F6): deletes recordings whose retain-until has passed, everywhere callseal
 * holds a copy, unless a legal hold matches them. For each recording, in this order:
 * 1. a signed deletion record is written into the recordings tree (`seal/deletion.ts`) and the
 *    recording is marked as being deleted, in the same transaction that drops its outbox jobs and
 *    adds one removal job per storage target that had a copy (so no copy is made from then on);
 * 2. the local files go (if still there), and on each target the deletion record is stored beside
 *    the copies (so a verifier run on the archive copy tells the deletion too), then the copies are
 *    removed through the target. A target that refuses (down, or an S3 object still locked) is
 *    retried with back-off; the record of the deletion is never lost;
 * 3. when every copy is gone, the row is marked deleted. The row stays: the log keeps what was
 *    recorded and when it went.
 * A hold placed while a deletion runs stops what is left of it until it is released. Time comes
 * from the injected clock. Each run also applies the legal hold state to the stored copies again
 * (`hold-sync.ts`), so a target that was down when a hold was set or released catches up. The audit trail is written through a callback (nothing imports web/).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { TypedEmitter } from '../common/events.ts';
import { describeRetention } from '../common/retention.ts';
import { fsyncPath } from '../common/fsync.ts';
import { expandTemplate, timeParts } from '../recording/index.ts';
import { DELETION_SIG, RETENTION_EXPIRED, writeDeletionRecord, type KeyStore } from '../seal/index.ts';
import { transaction, type RecordingRepository, type RecordingRow, type RemovalRepository } from '../store/index.ts';
import type { DatabaseSync } from 'node:sqlite';
import type { HoldSync } from './hold-sync.ts';
import type { LegalHolds } from './holds.ts';
import type { Destination, Outbox } from './outbox.ts';
import { batch, TargetError } from './target.ts';

/** Default interval between runs. */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** Recordings whose deletion starts in one run (the rest follow in the next). */
const STARTS_PER_RUN = 500;
const PAGE = 200;

/** What the job tells the audit trail. */
export interface RetentionAuditEntry {
  readonly action: 'retention-delete' | 'retention-deleted' | 'retention-remove-failed';
  readonly object: string;
  readonly details: Record<string, unknown>;
  readonly outcome?: 'ok' | 'failed';
}

/** Events of the job. */
export interface RetentionEvents {
  /** A recording's deletion started (its deletion record is written). */
  deleting: [{ readonly recordingId: string; readonly deletionRecord: string }];
  /** Every copy of a recording is gone. */
  deleted: [{ readonly recordingId: string }];
}

/** What one run did. */
export interface RetentionRun {
  readonly started: number;
  readonly deleted: number;
  readonly held: number;
  readonly failedRemovals: number;
}

/** Options of {@link RetentionJob}. */
export interface RetentionOptions {
  readonly db: DatabaseSync;
  readonly repo: RecordingRepository;
  readonly removals: RemovalRepository;
  readonly holds: LegalHolds;
  readonly outbox: Outbox;
  readonly keys: KeyStore;
  readonly recordingsRoot: string;
  readonly destination: (id: string) => Destination | undefined;
  readonly timeZone: string | undefined;
  readonly audit: (e: RetentionAuditEntry) => void;
  readonly log: Logger;
  readonly clock: Clock;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly intervalMs?: number;
  /** Applies the legal hold state to the copies on targets with object locks again (retries failures). */
  readonly holdSync?: HoldSync | undefined;
}

/** Deletes expired recordings on the local disk and every storage target. */
export class RetentionJob extends TypedEmitter<RetentionEvents> {
  readonly #o: RetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RetentionRun> | undefined;

  constructor(o: RetentionOptions) {
    super();
    this.#o = o;
    this.onListenerError((err, event) => { o.log.error({ err: errorMessage(err), event }, 'retention listener failed'); });
  }

  /** Runs now and then every interval. */
  start(): void {
    const tick = (): void => {
      this.runOnce().catch((err: unknown) => { this.#o.log.error({ err: errorMessage(err) }, 'retention run failed'); });
    };
    tick();
    this.#timer = setInterval(tick, this.#o.intervalMs ?? RETENTION_INTERVAL_MS);
    this.#timer.unref();
  }

  /** One run: starts due deletions, then works on every deletion not finished. Runs one at a time. */
  runOnce(): Promise<RetentionRun> {
    this.#running ??= this.#run().finally(() => { this.#running = undefined; });
    return this.#running;
  }

  async #run(): Promise<RetentionRun> {
    const nowMs = this.#o.clock.nowMs();
    const active = this.#o.holds.active();
    let started = 0;
    let held = 0;
    let after: { retainUntilMs: number; id: string } | undefined;
    while (started < STARTS_PER_RUN) {
      const page = this.#o.repo.dueForDeletion(nowMs, PAGE, after);
      if (page.length === 0) break;
      for (const r of page) {
        if (started >= STARTS_PER_RUN) break;
        if (this.#o.holds.matching(r, active).length > 0) {
          held++;
          continue;
        }
        await this.#start(r, nowMs);
        started++;
      }
      const last = page[page.length - 1];
      after = last ? { retainUntilMs: last.retainUntilMs ?? nowMs, id: last.id } : undefined;
    }
    let deleted = 0;
    let failedRemovals = 0;
    for (const r of this.#o.repo.deleting()) {
      // A hold placed after the deletion started keeps what is left.
      if (this.#o.holds.matching(r, active).length > 0) {
        held++;
        continue;
      }
      const result = await this.#finish(r, nowMs);
      if (result.done) deleted++;
      failedRemovals += result.failed;
    }
    await this.#o.holdSync?.reapply(nowMs);
    if (started + deleted + failedRemovals > 0) this.#o.log.info({ started, deleted, held, failedRemovals }, 'retention run');
    return { started, deleted, held, failedRemovals };
  }

  /** Step 1: the signed record, then (atomically) the mark, the outbox jobs dropped and the removal jobs. */
  async #start(r: RecordingRow, nowMs: number): Promise<void> {
    const { repo, removals, outbox, keys } = this.#o;
    const retention = describeRetention(r.retention ?? 'keep');
    const record = await writeDeletionRecord(this.#o.recordingsRoot, keys, {
      recording: r.baseName, recordingId: r.id, folder: r.dir, chainEpoch: r.chainEpoch, chainSequence: r.chainSeq, signature: r.signature,
      hashFileSha256: r.hashFileSha256, previousRecording: r.previous, previousSignature: previousSignature(repo, r), sealedAtMs: r.sealedAtMs,
      recordingPublicKeySha256: repo.epochKey(r.chainEpoch) ?? '', startMs: r.startMs, setting: r.setting, retention,
      retainUntilMs: r.retainUntilMs ?? nowMs, deletedAtMs: nowMs, reason: RETENTION_EXPIRED,
    });
    const targets = transaction(this.#o.db, () => {
      if (!repo.startDeletion(r.id, nowMs, record)) return undefined;
      const ids = outbox.retire(r.id);
      removals.add(r.id, ids, nowMs);
      return ids;
    });
    if (targets === undefined) return;
    this.#o.log.info({ recordingId: r.id, base: r.baseName, retention, deletionRecord: record, targets }, 'retention expired: deleting the recording');
    this.#o.audit({ action: 'retention-delete', object: `recording:${r.id}`, details: { baseName: r.baseName, setting: r.setting, retention, retainUntilMs: r.retainUntilMs, deletionRecord: record, targets } });
    this.safeEmit('deleting', { recordingId: r.id, deletionRecord: record });
  }

  /** Steps 2 and 3: the local files, each target's copy, then the mark. */
  async #finish(r: RecordingRow, nowMs: number): Promise<{ done: boolean; failed: number }> {
    const { removals, repo } = this.#o;
    await this.#removeLocal(r);
    let failed = 0;
    for (const job of removals.forRecording(r.id)) {
      if (job.state === 'done' || job.nextMs > nowMs) continue;
      const dest = this.#o.destination(job.targetId);
      if (dest?.kind !== 'files') {
        // F6 covers the targets callseal manages: a target removed from the configuration is not one any more.
        removals.done(r.id, job.targetId, nowMs);
        this.#o.log.warn({ recordingId: r.id, target: job.targetId }, 'retention: the target is no longer configured; its copies are not managed by callseal');
        continue;
      }
      try {
        await this.#removeRemote(r, dest);
        removals.done(r.id, job.targetId, nowMs);
      } catch (err) {
        failed++;
        const delay = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(job.attempts, 20));
        const message = errorMessage(err);
        removals.failed(r.id, job.targetId, nowMs + delay, message);
        this.#o.log.warn({ recordingId: r.id, target: job.targetId, attempts: job.attempts + 1, retryInMs: delay, err: message, code: 'CS_RETENTION_REMOVE' }, 'retention: removing the copy failed; retried later');
        if (job.attempts === 0) {
          this.#o.audit({ action: 'retention-remove-failed', object: `recording:${r.id}`, details: { baseName: r.baseName, targetId: job.targetId, error: message.slice(0, 300) }, outcome: 'failed' });
        }
      }
    }
    if (removals.forRecording(r.id).some((j) => j.state !== 'done')) return { done: false, failed };
    repo.markDeleted(r.id, nowMs);
    this.#o.log.info({ recordingId: r.id, base: r.baseName }, 'recording deleted by retention: every copy is gone');
    this.#o.audit({ action: 'retention-deleted', object: `recording:${r.id}`, details: { baseName: r.baseName, deletionRecord: r.deletionRecord } });
    this.safeEmit('deleted', { recordingId: r.id });
    return { done: true, failed };
  }

  async #removeLocal(r: RecordingRow): Promise<void> {
    const dir = join(this.#o.recordingsRoot, r.dir);
    const present = deletionOrder(r).filter((f) => existsSync(join(dir, f)));
    if (present.length === 0) return;
    for (const f of present) await rm(join(dir, f), { force: true });
    await fsyncPath(dir);
  }

  async #removeRemote(r: RecordingRow, dest: Extract<Destination, { kind: 'files' }>): Promise<void> {
    const folder = expandTemplate(dest.pathTemplate, timeParts(r.startMs, this.#o.timeZone));
    const record = r.deletionRecord;
    if (record !== undefined && existsSync(join(this.#o.recordingsRoot, record))) {
      // The record beside the copies: a verifier run on the archive copy tells this deletion too.
      await batch.put(dest.target, [record, `${record}${DELETION_SIG}`].map((p) => ({ local: join(this.#o.recordingsRoot, p), remote: p })));
    }
    try {
      await batch.remove(dest.target, deletionOrder(r).map((f) => `${folder}/${f}`));
    } catch (err) {
      throw err instanceof TargetError ? err : new TargetError('write', errorMessage(err), { cause: err });
    }
  }

  /** Stops the interval (idempotent); a run in progress finishes. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      await this.#running;
    } catch (err) {
      this.#o.log.warn({ err: errorMessage(err) }, 'retention run failed while closing');
    }
  }
}

/** The hash file first: once it is gone the recording no longer claims to be complete. */
function deletionOrder(r: RecordingRow): string[] {
  const hash = r.files.filter((f) => f.endsWith('_hash.txt'));
  return [...hash, ...r.files.filter((f) => !hash.includes(f))];
}

/** The previous recording's signature, as this recording's `_info.txt` names it. */
function previousSignature(repo: RecordingRepository, r: RecordingRow): string {
  if (r.chainSeq === 1) return `public-key-sha256:${repo.epochKey(r.chainEpoch) ?? ''}`;
  return repo.bySequence(r.chainEpoch, r.chainSeq - 1)?.signature ?? '';
}
