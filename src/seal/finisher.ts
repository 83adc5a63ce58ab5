/**
 * What happens to a finished recording (invariants 1 and 2): it is sealed (hash file, signature,
 * chain link and its row, in `Sealer`), its copy jobs are queued in the outbox, and only then does
 * its spool entry go, so a crash at any point loses neither the recording nor an archive job.
 * Recordings left unfinished by a previous process are sealed the same way, oldest first, before
 * new calls are taken. This module depends on the spool, the recording log and the outbox only
 * through the small interfaces below.
 */
import { retainUntilMs } from '../common/retention.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { FinishedRecording } from '../recording/index.ts';
import type { SealedRecording } from './sealer.ts';

/** Options of {@link Finisher}. */
export interface FinisherOptions {
  /** Seals one recording (serialized by the sealer). */
  readonly seal: (finished: FinishedRecording) => Promise<SealedRecording>;
  /** Whether a recording id is sealed already (a crash after sealing, before the spool went). */
  readonly isSealed: (recordingId: string) => boolean;
  /** Queues the durable copy jobs of a sealed recording. */
  /** Queues the copies; `retainUntilMs` is the end of the recording's retention, for targets that lock copies (S3 Object Lock). */
  readonly enqueue: (recordingId: string, targetIds: readonly string[], retainUntilMs: number | undefined) => void;
  /** Removes a recording's spool entry once it is sealed and queued. */
  readonly complete: (recordingId: string) => Promise<void>;
  /** Called with a message when a recording could not be sealed (it stays in the spool). */
  readonly onError: (message: string) => void;
  /** Called with each recording sealed here (H8: `recording.sealed`); a throwing listener is logged. */
  readonly onSealed?: (sealed: SealedRecording) => void;
  readonly log: Logger;
}

/** Seals finished recordings and tracks the seals still running. */
export class Finisher {
  readonly #o: FinisherOptions;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: FinisherOptions) {
    this.#o = options;
  }

  /** Seals one recording and removes it from the spool; undefined when it was sealed before. */
  async finish(finished: FinishedRecording): Promise<SealedRecording | undefined> {
    const o = this.#o;
    const { facts } = finished;
    if (o.isSealed(facts.id)) {
      await o.complete(facts.id);
      return undefined;
    }
    const sealed = await o.seal(finished);
    // The copy jobs are durable before the spool goes: a crash here loses no archive job.
    o.enqueue(facts.id, facts.targetIds ?? [], retainUntilMs(facts.startMs, facts.retention ?? 'keep'));
    await o.complete(facts.id);
    o.log.info({ recordingId: facts.id, callId: facts.callId, dir: finished.dir, base: facts.baseName, chainSeq: sealed.chain.sequence, interrupted: facts.interrupted, files: sealed.files }, 'recording finished');
    try {
      o.onSealed?.(sealed);
    } catch (err) {
      o.log.error({ recordingId: facts.id, err: errorMessage(err) }, 'a listener of sealed recordings failed');
    }
    return sealed;
  }

  /**
   * Seals the recordings a previous process left (invariant 1), in the order they ended, one at a
   * time so the chain keeps that order; returns those sealed now.
   */
  async recover(left: readonly FinishedRecording[]): Promise<SealedRecording[]> {
    const recovered: SealedRecording[] = [];
    const ordered = [...left].sort((a, b) => a.facts.endMs - b.facts.endMs || a.facts.startMs - b.facts.startMs);
    for (const f of ordered) {
      const s = await this.finish(f);
      if (s) recovered.push(s);
    }
    return recovered;
  }

  /** Seals a recording that just ended, in the background; a failure is logged and reported. */
  accept(finished: FinishedRecording): void {
    const p = this.finish(finished).catch((err: unknown) => {
      // The spool keeps finished.json: the next start seals it.
      this.#o.log.error({ recordingId: finished.facts.id, err: errorMessage(err) }, 'recording could not be sealed; kept for the next start');
      this.#o.onError(`recording ${finished.facts.id} could not be sealed: ${errorMessage(err)}`);
    });
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Waits for every seal started by {@link accept}. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}
