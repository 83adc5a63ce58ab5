/**
 * The intake gate (invariant 3): while storage is below its floor or the database cannot be
 * written, a new recording session is refused with 503, Retry-After and a Warning naming why,
 * before any port or file exists for it, so the SRC can use another recorder. Running recordings
 * are not touched. The refusals are logged at most every few seconds per reason.
 */
import type { Logger } from '../common/log.ts';
import { RefusalLog, warning, type ServerRequest } from '../sip/index.ts';

/** Why new sessions are refused. */
export interface IntakeBlock {
  readonly code: 'CS_STORAGE_LOW' | 'CS_DATABASE_UNWRITABLE';
  readonly text: string;
}

/** Seconds an SRC is asked to wait before it offers this recorder a new session again. */
const RETRY_AFTER_SEC = 30;

/** Takes or refuses new sessions. */
export class IntakeGate {
  readonly #log: Logger;
  readonly #refusals = new RefusalLog();
  #block: IntakeBlock | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Refuses new sessions for `block`; `undefined` takes them again. */
  set(block: IntakeBlock | undefined): void {
    if (block?.text === this.#block?.text) return;
    if (block) this.#log.error({ code: block.code, reason: block.text }, 'new recording sessions are refused');
    else if (this.#block) this.#log.info({ was: this.#block.text }, 'new recording sessions are taken again');
    this.#block = block;
  }

  /** Why new sessions are refused, or undefined. */
  get text(): string | undefined {
    return this.#block?.text;
  }

  /** Answers the INVITE 503 if new sessions are refused; returns whether it did. */
  refuse(req: ServerRequest, callId: string, nowMs: number): boolean {
    const block = this.#block;
    if (!block) return false;
    if (this.#refusals.shouldLog(block.code, nowMs) !== undefined) this.#log.warn({ callId, code: block.code, reason: block.text }, 'recording session refused: storage not usable');
    req.respond(503, 'Service Unavailable', { headers: [{ name: 'retry-after', value: String(RETRY_AFTER_SEC) }, ...warning(block.text)] });
    return true;
  }
}
