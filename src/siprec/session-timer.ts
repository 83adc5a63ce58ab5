/**
 * RFC 4028 session timers for callseal as UAS: reads Session-Expires, Min-SE and Supported of an
 * INVITE, re-INVITE or UPDATE and decides the answer. Pure: no timers, no I/O; the server arms
 * the timer this module computes.
 *
 * ```
 *   Session-Expires  = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)
 *   se-params        = refresher-param / generic-param
 *   refresher-param  = "refresher" EQUAL ("uas" / "uac")
 *   Min-SE           = "Min-SE" HCOLON delta-seconds *(SEMI generic-param)
 * ```
 *
 * callseal never sends refreshes itself (it has no INVITE/UPDATE client transactions), so it
 * only ever answers `refresher=uac`: when the SRC supports `timer` and did not ask callseal to
 * refresh. Otherwise the 2xx carries no Session-Expires, which RFC 4028 section 9 allows and
 * which means the session has no timer.
 */
import type { SipHeader, SipRequest } from '../sip/index.ts';
import { getHeader, getHeaders, SessionIntervalError } from '../sip/index.ts';

/** The smallest Min-SE RFC 4028 section 5 allows, and callseal's default. */
export const RFC4028_MIN_SE_SEC = 90;

/** What to do with the session timer of one request. */
export type SessionTimerVerdict =
  /** No timer for this session (until a later refresh asks for one). */
  | { readonly kind: 'none'; readonly why: 'not-requested' | 'uac-does-not-support-timer' | 'uas-refresher-requested' }
  /** 422 Session Interval Too Small, with `Min-SE: minSeSec` (RFC 4028 section 9). */
  | { readonly kind: 'too-small'; readonly minSeSec: number; readonly requestedSec: number }
  /** The SRC refreshes every `intervalSec`; callseal ends the session when it does not. */
  | { readonly kind: 'uac-refreshes'; readonly intervalSec: number };

const DELTA_RE = /^(\d{1,10})\s*(;.*)?$/;

/** Reads `delta-seconds *(;params)`; undefined when the value does not start with a number. */
function deltaSeconds(value: string | undefined): { sec: number; params: string } | undefined {
  if (value === undefined) return undefined;
  const m = DELTA_RE.exec(value.trim());
  if (!m?.[1]) return undefined;
  return { sec: Math.min(Number(m[1]), 2 ** 32 - 1), params: m[2] ?? '' };
}

function refresherOf(params: string): 'uac' | 'uas' | undefined {
  const m = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(params);
  return m?.[1] === undefined ? undefined : m[1].toLowerCase() === 'uac' ? 'uac' : 'uas';
}

/**
 * Judges one INVITE, re-INVITE or UPDATE against callseal's smallest interval `minSeSec`
 * (RFC 4028 section 9). A malformed Session-Expires counts as absent.
 */
export function judgeSessionTimer(msg: SipRequest, minSeSec: number): SessionTimerVerdict {
  const se = deltaSeconds(getHeader(msg, 'session-expires'));
  if (!se) return { kind: 'none', why: 'not-requested' };
  // A Min-SE in the request (set by the SRC or after an earlier 422) raises the floor.
  const theirMin = deltaSeconds(getHeader(msg, 'min-se'))?.sec ?? 0;
  if (se.sec < minSeSec) return { kind: 'too-small', minSeSec: Math.max(minSeSec, theirMin), requestedSec: se.sec };
  const supportsTimer = getHeaders(msg, 'supported').some((s) => s.trim().toLowerCase() === 'timer');
  if (!supportsTimer) return { kind: 'none', why: 'uac-does-not-support-timer' };
  if (refresherOf(se.params) === 'uas') return { kind: 'none', why: 'uas-refresher-requested' };
  return { kind: 'uac-refreshes', intervalSec: se.sec };
}

/** RFC 4028 section 9: the 422 (with Min-SE) for a session interval below `minSeSec`, or undefined. */
export function intervalRefusal(msg: SipRequest, minSeSec: number): SessionIntervalError | undefined {
  const timer = judgeSessionTimer(msg, minSeSec);
  return timer.kind === 'too-small' ? new SessionIntervalError(timer.requestedSec, timer.minSeSec) : undefined;
}

/** Header fields of a 2xx for the verdict (RFC 4028 section 9: `refresher=uac` needs `Require: timer`). */
export function sessionTimerHeaders(verdict: SessionTimerVerdict): SipHeader[] {
  if (verdict.kind !== 'uac-refreshes') return [];
  return [{ name: 'session-expires', value: `${verdict.intervalSec};refresher=uac` }, { name: 'require', value: 'timer' }];
}

/**
 * When callseal gives up on a session the SRC stopped refreshing, counted from the 2xx of the
 * last refresh: RFC 4028 section 10 has the BYE sent min(32 s, interval/3) before expiry.
 */
export function sessionExpiryByeDelayMs(intervalSec: number): number {
  const intervalMs = intervalSec * 1000;
  return intervalMs - Math.min(32_000, intervalMs / 3);
}
