/**
 * The one mapping of errors to SIP responses (callseal's error catalogue stays free of SIP):
 * status and reason from a `SipError`, a Warning 399 with the message, and the header each kind
 * needs: Unsupported on 420 (RFC 3261 section 8.2.2.3), Min-SE on 422 (RFC 4028 section 6),
 * Accept on 415 (RFC 3261 section 21.4.13), Retry-After on 503 when known. Any other error is a
 * 500, or a 503 when it is temporary (no RTP ports, a failed media worker).
 */
import { CallsealError, SipError, errorMessage, type ErrorCode } from '../common/errors.ts';
import type { SipHeader } from './model.ts';

/** 420 Bad Extension, listing the extensions in Unsupported (RFC 3261 section 8.2.2.3). */
export class BadExtensionError extends SipError {
  readonly unsupported: readonly string[];
  constructor(unsupported: readonly string[]) {
    super('CS_SIP_BAD_EXTENSION', 420, 'Bad Extension', `unsupported extension ${unsupported.join(', ')}`);
    this.unsupported = unsupported;
  }
}

/** 422 Session Interval Too Small, carrying callseal's Min-SE (RFC 4028 section 9). */
export class SessionIntervalError extends SipError {
  readonly minSeSec: number;
  constructor(requestedSec: number, minSeSec: number) {
    super('CS_SIP_SESSION_INTERVAL', 422, 'Session Interval Too Small', `session interval ${requestedSec} s is below the minimum ${minSeSec} s`);
    this.minSeSec = minSeSec;
  }
}

/** A refusal the peer may retry after `retryAfterSec` (503, RFC 3261 section 21.5.4). */
export class RetryAfterError extends SipError {
  readonly retryAfterSec: number;
  constructor(code: ErrorCode, retryAfterSec: number, message: string) {
    super(code, 503, 'Service Unavailable', message);
    this.retryAfterSec = retryAfterSec;
  }
}

/** Errors that are temporary: the peer can take the call elsewhere (503). */
const TEMPORARY: ReadonlySet<ErrorCode> = new Set(['CS_PORTS_EXHAUSTED', 'CS_MEDIA_WORKER_FAILED']);

/** A Warning 399 from callseal with `text` made safe (no quotes, backslashes or line breaks; at most 200 characters), then `extra`. */
export function warning(text: string, extra: readonly SipHeader[] = []): SipHeader[] {
  return [{ name: 'warning', value: `399 callseal "${text.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` }, ...extra];
}

/** The headers of a response to `err`; `accept` is what a 415 lists. */
export function errorHeaders(err: SipError, accept: readonly string[]): SipHeader[] {
  const extra: SipHeader[] = [];
  if (err instanceof BadExtensionError) extra.push({ name: 'unsupported', value: err.unsupported.join(', ') });
  if (err instanceof SessionIntervalError) extra.push({ name: 'min-se', value: String(err.minSeSec) });
  if (err instanceof RetryAfterError) extra.push({ name: 'retry-after', value: String(err.retryAfterSec) });
  if (err.status === 415) extra.push({ name: 'accept', value: accept.join(', ') });
  return warning(err.message, extra);
}

/** The response to any error: status, reason and headers. */
export function errorResponse(err: unknown, accept: readonly string[]): { readonly status: number; readonly reason: string; readonly headers: SipHeader[] } {
  if (err instanceof SipError) return { status: err.status, reason: err.reason, headers: errorHeaders(err, accept) };
  if (err instanceof CallsealError && TEMPORARY.has(err.code)) return { status: 503, reason: 'Service Unavailable', headers: warning(err.message) };
  return { status: 500, reason: 'Server Internal Error', headers: warning(errorMessage(err)) };
}
