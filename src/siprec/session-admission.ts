/**
 * Admission of new recording sessions (issue 3): a source over its rate, or beyond the session
 * caps, gets 503 with Retry-After before any port, file or dialog exists for it. Only INVITEs that
 * would open a session are counted. Refusals are counted and logged with the source, at most every
 * few seconds per source and reason.
 */
import type { Logger } from '../common/log.ts';
import { getHeader, RateLimiter, RefusalLog, unmapAddress, warning, type Remote, type ServerRequest } from '../sip/index.ts';
import type { SessionAdmission } from './server-options.ts';

/** Source addresses whose token buckets are kept; the least recently seen is forgotten first. */
const MAX_RATE_SOURCES = 4096;

/** What {@link SessionAdmitter.admit} counts a refusal as. */
export interface AdmissionCounters {
  rateLimited: number;
  overCapacity: number;
}

/** The rate buckets and caps of one recording server. */
export class SessionAdmitter {
  readonly #limits: SessionAdmission | undefined;
  readonly #rate: RateLimiter | undefined;
  readonly #refusals = new RefusalLog();
  readonly #log: Logger;

  constructor(limits: SessionAdmission | undefined, log: Logger) {
    this.#limits = limits;
    this.#log = log;
    this.#rate = limits ? new RateLimiter({ perSecond: limits.newSessionsPerSecondPerSource, burst: limits.newSessionBurstPerSource, maxKeys: MAX_RATE_SOURCES }) : undefined;
  }

  /** Source addresses with a rate bucket (a bounded table, for health). */
  get rateSources(): number {
    return this.#rate?.size ?? 0;
  }

  /** Admits the INVITE, or answers it 503 with Retry-After and Warning and returns false. */
  admit(req: ServerRequest, sessions: ReadonlyMap<string, { readonly remote: Remote }>, counters: AdmissionCounters): boolean {
    const a = this.#limits;
    if (!a || !this.#rate) return true;
    const address = unmapAddress(req.remote.address);
    let reason: 'rate' | 'source-cap' | 'total-cap' | undefined;
    let retryAfterSec = 1;
    if (sessions.size >= a.maxSessions) reason = 'total-cap';
    else if (a.maxSessionsPerSource > 0 && sessionsFrom(sessions, address) >= a.maxSessionsPerSource) reason = 'source-cap';
    else if (!this.#rate.take(address, performance.now())) {
      reason = 'rate';
      retryAfterSec = this.#rate.retryAfterSec(address);
    }
    if (reason === undefined) return true;
    if (reason === 'rate') counters.rateLimited++;
    else counters.overCapacity++;
    const suppressed = this.#refusals.shouldLog(`${reason}|${address}`, Date.now());
    if (suppressed !== undefined) {
      this.#log.warn({ remote: req.remote, callId: getHeader(req.message, 'call-id'), reason, suppressed, sessions: sessions.size }, 'recording session refused: too many sessions from this source');
    }
    const text = reason === 'rate' ? 'too many new sessions from this source' : reason === 'source-cap' ? 'too many sessions from this source' : 'too many sessions';
    req.respond(503, 'Service Unavailable', { headers: [{ name: 'retry-after', value: String(retryAfterSec) }, ...warning(text)] });
    return false;
  }
}

function sessionsFrom(sessions: ReadonlyMap<string, { readonly remote: Remote }>, address: string): number {
  let n = 0;
  for (const s of sessions.values()) if (unmapAddress(s.remote.address) === address) n++;
  return n;
}
