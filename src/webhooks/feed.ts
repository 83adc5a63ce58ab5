/**
 * Turns the live events of calls (the Recorder's `started`, `recorded` and `ended`, passed on by
 * SIPREC or the in-line B2BUA, and the sealer's result) into webhook events. It remembers each
 * running recording's mode (SIPREC or in-line) so that its later events carry it too; that memory
 * is bounded, and a recording sealed after a restart (crash recovery) has no mode.
 */
import type { FinishedRecording, LiveRecording } from '../recording/index.ts';
import { endedData, sealedData, startedData, stoppedData, type CallEnded, type CallMode, type SealedEvent, type WebhookEventKind } from './events.ts';

/** Recordings whose mode is remembered between their start and their seal. */
const MAX_TRACKED = 10_000;

/** What the feed publishes to (`Webhooks` is one). */
export interface EventSink {
  publish(kind: WebhookEventKind, data: Readonly<Record<string, unknown>>): void;
}

/** The live events of calls, as webhook events. */
export class LiveEventFeed {
  readonly #sink: EventSink;
  readonly #modes = new Map<string, CallMode>();

  constructor(sink: EventSink) {
    this.#sink = sink;
  }

  /** A recording segment started (the call is answered and recorded). */
  started(live: LiveRecording): void {
    this.#modes.set(live.id, live.mode);
    while (this.#modes.size > MAX_TRACKED) {
      const oldest = this.#modes.keys().next();
      if (oldest.done === true) break;
      this.#modes.delete(oldest.value);
    }
    this.#sink.publish('recording.started', startedData(live));
  }

  /** A recording segment ended and its files are finished. */
  stopped(finished: FinishedRecording): void {
    this.#sink.publish('recording.stopped', stoppedData(finished, this.#modes.get(finished.facts.id)));
  }

  /** A call that had a recording ended. */
  ended(e: CallEnded): void {
    this.#sink.publish('call.ended', endedData(e));
  }

  /** A recording was sealed. */
  sealed(s: SealedEvent): void {
    const id = s.finished.facts.id;
    const mode = this.#modes.get(id);
    this.#modes.delete(id);
    this.#sink.publish('recording.sealed', sealedData(s, mode));
  }
}
