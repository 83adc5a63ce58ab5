/**
 * Puts retention together (F6, H7) for the composition root and the command line: the legal
 * holds (and their push to the stored copies), the removal jobs, the retention job and the exporter, on one database and key store.
 */
import type { KeyObject } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { NumberContext } from '../policy/index.ts';
import type { KeyStore } from '../seal/index.ts';
import { HoldRepository, RemovalRepository, type RecordingRepository } from '../store/index.ts';
import { Exporter } from './export.ts';
import { HoldSync } from './hold-sync.ts';
import { LegalHolds } from './holds.ts';
import type { Destination, Outbox } from './outbox.ts';
import { RetentionJob, type RetentionAuditEntry } from './retention.ts';

/** Options of {@link createRetention}. */
export interface RetentionSetupOptions {
  readonly db: DatabaseSync;
  readonly repo: RecordingRepository;
  readonly outbox: Outbox;
  readonly keys: KeyStore;
  readonly verifyKeys: () => readonly KeyObject[];
  readonly recordingsRoot: string;
  /** Where exports keep copies fetched from targets while they are sent. */
  readonly workRoot: string;
  readonly destination: (id: string) => Destination | undefined;
  readonly timeZone: string | undefined;
  readonly numbers: NumberContext;
  readonly archive: { readonly retryBaseMs: number; readonly retryMaxMs: number; readonly retentionIntervalMs: number; readonly legalHoldTwoPersonRelease: boolean };
  readonly audit: (e: RetentionAuditEntry) => void;
  readonly log: Logger;
  readonly clock: Clock;
  /** Reports a failure where operators look (the health page's last errors). */
  readonly noteError?: ((message: string) => void) | undefined;
}

/** Holds, removals, the retention job and the exporter. */
export function createRetention(o: RetentionSetupOptions): { holds: LegalHolds; holdSync: HoldSync; removals: RemovalRepository; job: RetentionJob; exporter: Exporter } {
  const holds = new LegalHolds({ repo: new HoldRepository(o.db), numbers: o.numbers, twoPersonRelease: o.archive.legalHoldTwoPersonRelease, recordingExists: (id) => o.repo.has(id) });
  const removals = new RemovalRepository(o.db);
  const holdSync = new HoldSync({ repo: o.repo, holds, outbox: o.outbox, destination: o.destination, timeZone: o.timeZone, log: o.log, noteError: o.noteError });
  const job = new RetentionJob({
    db: o.db, repo: o.repo, removals, holds, outbox: o.outbox, keys: o.keys, recordingsRoot: o.recordingsRoot, destination: o.destination,
    timeZone: o.timeZone, audit: o.audit, log: o.log, clock: o.clock, retryBaseMs: o.archive.retryBaseMs, retryMaxMs: o.archive.retryMaxMs,
    intervalMs: o.archive.retentionIntervalMs, holdSync,
  });
  const exporter = new Exporter({ repo: o.repo, outbox: o.outbox, keys: o.keys, verifyKeys: o.verifyKeys, recordingsRoot: o.recordingsRoot, workRoot: o.workRoot, numbers: o.numbers, log: o.log });
  return { holds, holdSync, removals, job, exporter };
}
