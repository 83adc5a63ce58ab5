/**
 * The policy's facts and the Recorder's parties of an in-line call (spec B4): the direction from
 * the side the INVITE came from, the caller from P-Asserted-Identity (RFC 3325; both sides are
 * trusted peers, admitted by address) or else From, the callee from the Request-URI, and the
 * numbers the call was forwarded from, oldest first, from History-Info (RFC 7044) or else
 * Diversion (RFC 5806), so a call the PBX forwards to a user's mobile is decided as that user's.
 * Pure: a SIP request in, plain data out. Values are untrusted and bounded.
 */
import { getHeaders, parseNameAddr, type SipRequest } from '../sip/index.ts';
import type { CallFacts } from '../policy/index.ts';
import type { CallParties, PartyInfo } from '../recording/index.ts';
import { uriUser, type InlineRoute } from './routing.ts';

/** At most this many forwarding entries are read. */
export const MAX_DIVERSIONS = 10;

/** The stream labels of an in-line recording: what the caller's and the callee's leg send. */
export const CALLER_LABEL = 'caller';
export const CALLEE_LABEL = 'callee';

/** Header values split at top-level commas (outside quotes and angle brackets). */
export function splitList(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let depth = 0;
    let quoted = false;
    let start = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
      else if (!quoted && c === '<') depth++;
      else if (!quoted && c === '>') depth = Math.max(0, depth - 1);
      else if (!quoted && depth === 0 && c === ',') {
        out.push(value.slice(start, i).trim());
        start = i + 1;
      }
    }
    out.push(value.slice(start).trim());
  }
  return out.filter((v) => v !== '');
}

function party(value: string | undefined): PartyInfo | undefined {
  if (value === undefined) return undefined;
  try {
    const p = parseNameAddr(value);
    return { number: uriUser(p.uri) ?? '', name: p.displayName.slice(0, 100), aor: p.uri.slice(0, 200) };
  } catch {
    return undefined;
  }
}

/** The users a call was forwarded from, oldest first (History-Info before Diversion). */
export function forwardedFrom(invite: SipRequest): string[] {
  const history = splitList(getHeaders(invite, 'history-info')).slice(0, MAX_DIVERSIONS + 1);
  if (history.length > 1) {
    // RFC 7044 section 9: the entries are in the order the request was retargeted; the last is the current target.
    return history.slice(0, -1).map((h) => party(h)?.number ?? '').filter((n) => n !== '');
  }
  // RFC 5806 section 3: the topmost Diversion is the most recent one.
  return splitList(getHeaders(invite, 'diversion')).slice(0, MAX_DIVERSIONS).map((d) => party(d)?.number ?? '').filter((n) => n !== '').reverse();
}

/** Caller and callee of an in-line call; `callerBy` says which header named the caller. */
export function inlineParties(invite: SipRequest, route: InlineRoute): CallParties {
  const pai = party(getHeaders(invite, 'p-asserted-identity')[0]);
  const from = party(getHeaders(invite, 'from')[0]);
  const to = party(getHeaders(invite, 'to')[0]);
  const caller = pai ?? from ?? { number: '', name: '', aor: '' };
  const callee: PartyInfo = { number: uriUser(invite.uri) ?? to?.number ?? '', name: to?.name ?? '', aor: invite.uri.slice(0, 200) };
  return {
    caller, callee, callerLabel: CALLER_LABEL, calleeLabel: CALLEE_LABEL, participants: [caller, callee],
    callerBy: pai ? 'P-Asserted-Identity' : 'From', channelsBy: 'in-line legs', direction: route.direction, siprecSessionId: undefined,
  };
}

/** The facts the policy decides an in-line call from. */
export function inlineFacts(callId: string, invite: SipRequest, route: InlineRoute, atMs: number): CallFacts {
  const p = inlineParties(invite, route);
  return { callId, caller: p.caller.number || p.caller.aor, callee: p.callee.number || p.callee.aor, diversions: forwardedFrom(invite), directionHint: route.direction, atMs };
}
