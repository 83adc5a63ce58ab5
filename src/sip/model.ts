/**
 * The SIP message model (RFC 3261 section 7): requests, responses, header fields in canonical
 * form, and the read helpers every layer uses. Parsing lives in `parse.ts`, writing in
 * `serialize.ts`; this module does neither.
 */

/** The largest message callseal accepts; SIPREC INVITEs with metadata are a few kB. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** At most this many header lines per message. */
export const MAX_HEADERS = 256;

/** One header field, name in canonical lowercase long form, value unfolded and trimmed. */
export interface SipHeader {
  readonly name: string;
  readonly value: string;
}

interface SipMessageBase {
  readonly version: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

/** A parsed SIP request. */
export interface SipRequest extends SipMessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
}

/** A parsed SIP response. */
export interface SipResponse extends SipMessageBase {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
}

/** A parsed SIP message. */
export type SipMessage = SipRequest | SipResponse;

/** Compact forms (RFC 3261 section 7.3.3 and later RFCs) mapped to long names. */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  b: 'referred-by', u: 'allow-events', x: 'session-expires', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition', y: 'identity', n: 'identity-info',
};

/** Returns the canonical lowercase long name of a header field name. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** First value of a header field, or undefined. */
export function getHeader(msg: { readonly headers: readonly SipHeader[] }, name: string): string | undefined {
  const n = canonicalName(name);
  return msg.headers.find((h) => h.name === n)?.value;
}

/** Every value of a header field, list values split. */
export function getHeaders(msg: { readonly headers: readonly SipHeader[] }, name: string): string[] {
  const n = canonicalName(name);
  return msg.headers.filter((h) => h.name === n).map((h) => h.value);
}

/** Makes a value printable for log and error messages (bounded, control characters escaped). */
export function printable(value: string, max = 120): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point here.
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
