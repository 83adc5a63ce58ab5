/**
 * Which header fields the B2BUA carries from one leg to the other, and the From and To of the
 * outgoing leg. Everything that names a transaction or a dialog (Via, Call-ID, tags, CSeq,
 * Contact, Route, Record-Route, Max-Forwards) is callseal's own on each leg; what the two ends
 * say about the call (identities, diversions, privacy, capabilities, authentication) passes
 * through. Pure: header lists in, header lists out.
 */
import { parseNameAddr, type SipHeader, type SipMessage } from '../sip/index.ts';

/** Header fields of a new INVITE relayed to the callee (RFC 3325, RFC 5806, RFC 7044, RFC 3323, RFC 4028, RFC 3261 sections 20.7 and 22). */
export const INVITE_RELAYED: readonly string[] = [
  'p-asserted-identity', 'p-preferred-identity', 'diversion', 'history-info', 'privacy', 'allow', 'supported', 'require',
  'user-agent', 'authorization', 'proxy-authorization', 'session-expires', 'min-se', 'accept', 'allow-events', 'subject', 'priority',
];

/** Header fields of a response relayed to the caller: challenges (RFC 3261 section 22), 100rel (RFC 3262), capabilities. */
export const RESPONSE_RELAYED: readonly string[] = [
  'www-authenticate', 'proxy-authenticate', 'require', 'rseq', 'supported', 'allow', 'unsupported', 'retry-after', 'warning',
  'reason', 'p-asserted-identity', 'privacy', 'session-expires', 'min-se', 'accept', 'allow-events', 'authentication-info',
];

/** Header fields of an in-dialog request relayed to the other leg (re-INVITE, UPDATE, INFO, OPTIONS, PRACK, BYE). */
export const IN_DIALOG_RELAYED: readonly string[] = [
  'require', 'supported', 'allow', 'content-disposition', 'info-package', 'event', 'session-expires', 'min-se', 'reason',
  'p-asserted-identity', 'privacy', 'user-agent', 'accept', 'authorization', 'proxy-authorization',
];

/** At most this many values of one header field are relayed: a peer cannot make callseal repeat thousands. */
export const MAX_VALUES_PER_FIELD = 20;

/** The fields of `msg` named in `names`, in their order, at most {@link MAX_VALUES_PER_FIELD} values each. */
export function relayedHeaders(msg: Pick<SipMessage, 'headers'>, names: readonly string[]): SipHeader[] {
  const counts = new Map<string, number>();
  const out: SipHeader[] = [];
  for (const h of msg.headers) {
    if (!names.includes(h.name)) continue;
    const n = (counts.get(h.name) ?? 0) + 1;
    counts.set(h.name, n);
    if (n <= MAX_VALUES_PER_FIELD) out.push(h);
  }
  return out;
}

/** The Content-Type of a message with a body; undefined without one. */
export function bodyType(msg: SipMessage): string | undefined {
  if (msg.body.length === 0) return undefined;
  return msg.headers.find((h) => h.name === 'content-type')?.value;
}

/** A display name as a quoted string (RFC 3261 section 25.1): quotes and backslashes escaped, control characters dropped, at most 100 characters. */
export function quotedDisplayName(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed.
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 100);
  return `"${clean.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * A From or To value for the outgoing leg: the display name and URI of the incoming one, with no
 * tag or other parameters (the leg's tags are callseal's own). Undefined when it does not parse.
 */
export function partyValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const p = parseNameAddr(value);
    return p.displayName === '' ? `<${p.uri}>` : `${quotedDisplayName(p.displayName)} <${p.uri}>`;
  } catch {
    return undefined;
  }
}

