/**
 * The archive outbox (F1, F2): one durable job per (recording, target) in the embedded database.
 * A runner copies due jobs, verifies each file on the target (size and SHA-256 read back through
 * the protocol), and retries with back-off (first retries within minutes, then at most
 * `retryMaxMs`). When every target of a recording has it, the local copy is deleted. Jobs survive
 * restarts; an upload that was cut off is redone under the same names (idempotent).
 */
import type { DatabaseSync } from 'node:sqlite';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { CallsealError, errorMessage } from '../common/errors.ts';
import { TypedEmitter } from '../common/events.ts';
import { expandTemplate, timeParts } from '../recording/index.ts';
import { sha256File } from '../seal/index.ts';
import { batch, TargetError, type PutOptions, type Target } from './target.ts';
import { LocalDeletedRepository, OutboxRepository, type OutboxBacklog, type OutboxRow } from '../store/index.ts';

/** Recordings per batch on targets with batch operations (SMB: one smbclient session per step). */
const BATCH_RECORDINGS = 20;

/** The status of one copy. */
export interface OutboxJob {
  readonly recordingId: string;
  readonly targetId: string;
  readonly state: 'pending' | 'failing' | 'done';
  readonly attempts: number;
  readonly nextMs: number;
  readonly failingSinceMs: number | null;
  readonly lastError: string | null;
  readonly doneMs: number | null;
}

/** Where a job goes: files to a storage target, or one row to a recording log. */
export type Destination =
  | { readonly kind: 'files'; readonly target: Target; readonly pathTemplate: string }
  | { readonly kind: 'row'; readonly insert: (recordingId: string) => Promise<void> };

/** What the outbox needs to know of a sealed recording. */
export interface ArchivedRecording {
  readonly id: string;
  /** Absolute folder of the local copy. */
  readonly dir: string;
  readonly files: readonly string[];
  readonly startMs: number;
  /** Whether the recording is under legal hold now (its copies are written held, F6). */
  readonly legalHold?: boolean | undefined;
}

/** What a job carries besides its recording and destination. */
export interface EnqueueOptions {
  /** End of the recording's retention (F6): targets with locks keep each copy locked until then. */
  readonly retainUntilMs?: number | undefined;
  readonly nowMs?: number | undefined;
}

/** Events: a target starts or stops failing (for alerts), a copy completes. */
export interface OutboxEvents {
  failing: [{ readonly targetId: string; readonly error: string; readonly sinceMs: number }];
  recovered: [{ readonly targetId: string; readonly failedForMs: number }];
  copied: [{ readonly recordingId: string; readonly targetId: string }];
  localDeleted: [{ readonly recordingId: string }];
}

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  readonly db: DatabaseSync;
  readonly log: Logger;
  /** Resolves a destination id: a file target and its folder template, or a row sink (SQL log). */
  readonly destination: (id: string) => Destination | undefined;
  /** Resolves a recording id to its files. */
  readonly recording: (id: string) => ArchivedRecording | undefined;
  readonly timeZone: string | undefined;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly tickMs?: number;
}

type Row = OutboxRow;

function toJob(r: Row): OutboxJob {
  return {
    recordingId: r.recording_id, targetId: r.target_id, state: r.state as OutboxJob['state'], attempts: r.attempts, nextMs: r.next_ms,
    failingSinceMs: r.failing_since_ms, lastError: r.last_error, doneMs: r.done_ms,
  };
}

/** The durable copy queue. */
export class Outbox extends TypedEmitter<OutboxEvents> {
  readonly #o: OutboxOptions;
  readonly #jobs: OutboxRepository;
  readonly #localDeleted: LocalDeletedRepository;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Targets currently in a failure streak (one alert per streak). */
  readonly #failing = new Map<string, number>();

  constructor(options: OutboxOptions) {
    super();
    this.#o = options;
    this.#jobs = new OutboxRepository(options.db);
    this.#localDeleted = new LocalDeletedRepository(options.db);
    this.onListenerError((err, event) => { options.log.error({ err: errorMessage(err), event }, 'outbox listener failed'); });
    for (const s of this.#jobs.failingSince()) this.#failing.set(s.targetId, s.sinceMs);
  }

  /** Queues a recording for its targets (no targets: it stays local, F2). */
  enqueue(recordingId: string, targetIds: readonly string[], options: EnqueueOptions = {}): void {
    this.#jobs.enqueue(recordingId, targetIds, options.nowMs ?? Date.now(), options.retainUntilMs);
  }

  /** Jobs of a recording, or all unfinished jobs. */
  jobs(recordingId?: string): OutboxJob[] {
    const rows = recordingId !== undefined ? this.#jobs.forRecording(recordingId) : this.#jobs.unfinished();
    return rows.map(toJob);
  }

  /** Backlog per target: pending and failing jobs, failing since. */
  backlog(): OutboxBacklog[] {
    return this.#jobs.backlog();
  }

  /** Storage targets that hold a verified copy of a recording. */
  fileCopies(recordingId: string): string[] {
    return this.jobs(recordingId).filter((j) => j.state === 'done' && this.#o.destination(j.targetId)?.kind === 'files').map((j) => j.targetId);
  }

  /**
   * Copies an archived recording's files into `dir` from the storage targets that hold a verified
   * copy, in turn, until one copy passes `check` (which returns a problem, or undefined); returns
   * that target's id. Problems of the copies tried are reported through `onProblem`.
   */
  async fetch(recordingId: string, dir: string, check: () => Promise<string | undefined>, onProblem: (targetId: string, problem: string) => void): Promise<string> {
    const rec = this.#o.recording(recordingId);
    if (!rec) throw new CallsealError('CS_ARCHIVE_RECORDING_UNKNOWN', `recording ${recordingId} is unknown`);
    const problems: string[] = [];
    for (const targetId of this.fileCopies(recordingId)) {
      const dest = this.#o.destination(targetId);
      if (dest?.kind !== 'files') continue;
      const folder = this.#remoteFolder(rec, dest.pathTemplate);
      let problem: string | undefined;
      try {
        await dest.target.getMany(rec.files.map((name) => ({ remote: `${folder}/${name}`, local: join(dir, name) })));
        problem = await check();
      } catch (err) {
        problem = `cannot be read: ${errorMessage(err)}`;
      }
      if (problem === undefined) return targetId;
      problems.push(`${targetId}: ${problem}`);
      onProblem(targetId, problem);
      for (const name of rec.files) await rm(join(dir, name), { force: true });
    }
    throw new CallsealError('CS_ARCHIVE_NO_GOOD_COPY', problems.length > 0 ? `no good archive copy (${problems.join('; ')})` : 'no storage target holds a copy');
  }

  #remoteFolder(rec: ArchivedRecording, pathTemplate: string): string {
    return expandTemplate(pathTemplate, timeParts(rec.startMs, this.#o.timeZone));
  }

  /**
   * Retention (F6): drops every job of a recording whose deletion starts, so no copy is made or
   * retried from now on; returns the storage targets that had a job (done or not), whose copies
   * retention then removes.
   */
  retire(recordingId: string): string[] {
    const ids = this.jobs(recordingId).filter((j) => this.#o.destination(j.targetId)?.kind !== 'row').map((j) => j.targetId);
    this.#jobs.removeRecording(recordingId);
    return ids;
  }

  /** Whether the local copy of a recording was deleted after archiving. */
  localDeleted(recordingId: string): boolean {
    return this.#localDeleted.has(recordingId);
  }

  /** Starts the runner. */
  start(): void {
    this.#timer = setInterval(() => { void this.runOnce(); }, this.#o.tickMs ?? 1000);
    this.#timer.unref();
  }

  /** Works through every due job once (one at a time per target). */
  async runOnce(nowMs = Date.now()): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const due = this.#jobs.due(nowMs);
      const byTarget = new Map<string, Row[]>();
      for (const r of due) byTarget.set(r.target_id, [...(byTarget.get(r.target_id) ?? []), r]);
      await Promise.all([...byTarget.values()].map(async (rows) => {
        let rest = rows;
        // Targets where each call costs a session (SMB) get several recordings per batch.
        const dest = rows[0] ? this.#o.destination(rows[0].target_id) : undefined;
        if (dest?.kind === 'files' && dest.target.putMany && rows.length > 1) {
          while (rest.length > 1) {
            const group = rest.slice(0, BATCH_RECORDINGS);
            if (!await this.#copyGroup(group, dest)) break;
            rest = rest.slice(group.length);
          }
        }
        for (const r of rest) {
          const ok = await this.#copy(r);
          // One failure marks the target; the rest of its jobs wait for their own retry time.
          if (!ok) break;
        }
      }));
    } finally {
      this.#running = false;
    }
  }

  /** Marks a job done, tells listeners, and deletes the local copy when every destination has it. */
  async #done(r: Row, rec: ArchivedRecording): Promise<void> {
    this.#jobs.markDone(r.recording_id, r.target_id, Date.now());
    this.#o.log.info({ recordingId: r.recording_id, target: r.target_id }, 'recording archived and verified');
    this.safeEmit('copied', { recordingId: r.recording_id, targetId: r.target_id });
    const since = this.#failing.get(r.target_id);
    if (since !== undefined) {
      this.#failing.delete(r.target_id);
      this.safeEmit('recovered', { targetId: r.target_id, failedForMs: Date.now() - since });
    }
    await this.#maybeDeleteLocal(r.recording_id, rec);
  }

  /**
   * Copies several recordings to one batch-capable target in one pass (one session per step).
   * Returns false when anything failed; those jobs are then tried one by one, which records the
   * exact error per recording.
   */
  async #copyGroup(rows: readonly Row[], dest: { readonly target: Target; readonly pathTemplate: string }): Promise<boolean> {
    const recs = rows.map((r) => this.#o.recording(r.recording_id));
    if (recs.some((r) => r === undefined)) return false;
    try {
      await this.#copyFiles(rows.flatMap((row, i) => { const rec = recs[i]; return rec ? [{ rec, row }] : []; }), dest);
    } catch (err) {
      this.#o.log.debug({ target: rows[0]?.target_id, recordings: rows.length, err: errorMessage(err) }, 'batch copy failed; copying one by one');
      return false;
    }
    for (const [i, r] of rows.entries()) {
      const rec = recs[i];
      if (rec) await this.#done(r, rec);
    }
    return true;
  }

  async #copy(r: Row): Promise<boolean> {
    const rec = this.#o.recording(r.recording_id);
    const dest = this.#o.destination(r.target_id);
    try {
      if (!rec) throw new CallsealError('CS_ARCHIVE_RECORDING_UNKNOWN', `recording ${r.recording_id} is unknown`);
      if (!dest) throw new CallsealError('CS_ARCHIVE_DESTINATION_UNKNOWN', `destination ${r.target_id} is not configured`);
      if (dest.kind === 'row') await dest.insert(r.recording_id);
      else await this.#copyFiles([{ rec, row: r }], dest);
      await this.#done(r, rec);
      return true;
    } catch (err) {
      const attempts = r.attempts + 1;
      const delay = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.min(attempts - 1, 20));
      const now = Date.now();
      const message = errorMessage(err).slice(0, 500);
      this.#jobs.markFailing(r.recording_id, r.target_id, attempts, now + delay, message, now);
      this.#o.log.warn({ recordingId: r.recording_id, target: r.target_id, attempts, retryInMs: delay, err: message }, 'archive copy failed; kept locally');
      if (!this.#failing.has(r.target_id)) {
        this.#failing.set(r.target_id, now);
        this.safeEmit('failing', { targetId: r.target_id, error: message, sinceMs: now });
      }
      return false;
    }
  }

  async #copyFiles(jobs: readonly { readonly rec: ArchivedRecording; readonly row: Row }[], t: { readonly target: Target; readonly pathTemplate: string }): Promise<void> {
    const entries = [];
    for (const { rec, row } of jobs) {
      const folder = this.#remoteFolder(rec, t.pathTemplate);
      // F6: targets with locks keep each copy locked until the retention ends, and held while the recording is.
      const options: PutOptions = { ...(row.retain_until_ms !== null ? { retainUntilMs: row.retain_until_ms } : {}), ...(rec.legalHold === true ? { legalHold: true } : {}) };
      for (const name of rec.files) {
        const local = join(rec.dir, name);
        entries.push({ local, remote: `${folder}/${name}`, options, size: (await stat(local)).size, hash: await sha256File(local) });
      }
    }
    // Idempotent resume: files already there, complete and identical, are not sent again.
    const sizes = await batch.stat(t.target, entries.map((e) => e.remote));
    const sameSize = entries.filter((e) => sizes.get(e.remote) === e.size);
    const hashes = await batch.sha256(t.target, sameSize.map((e) => e.remote));
    const need = entries.filter((e) => !(sizes.get(e.remote) === e.size && hashes.get(e.remote) === e.hash));
    await batch.put(t.target, need);
    // A copy counts only when what the target holds matches the sealed file (size and SHA-256 read back).
    const after = await batch.stat(t.target, need.map((e) => e.remote));
    const afterHashes = await batch.sha256(t.target, need.map((e) => e.remote));
    for (const e of need) {
      if (after.get(e.remote) !== e.size) throw new TargetError('verify', `${e.remote}: size ${String(after.get(e.remote))} on the target, ${e.size} here`);
      if (afterHashes.get(e.remote) !== e.hash) throw new TargetError('verify', `${e.remote}: SHA-256 read back differs from the sealed file`);
    }
  }

  async #maybeDeleteLocal(recordingId: string, rec: ArchivedRecording): Promise<void> {
    if (this.#jobs.openCount(recordingId) > 0) return;
    // F1: every target has a verified copy; only now the local copy goes.
    for (const name of rec.files) await rm(join(rec.dir, name), { force: true });
    this.#localDeleted.add(recordingId, Date.now());
    this.#o.log.info({ recordingId }, 'local copy deleted: every target has a verified copy');
    this.safeEmit('localDeleted', { recordingId });
  }

  /** Stops the runner; idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
