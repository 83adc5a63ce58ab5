/**
 * The Accept check of a recording server (RFC 3261 section 8.2.3), kept apart so it is tested
 * without sockets. The answer to an SDP offer is SDP whatever Accept says (RFC 3264 section 5),
 * so a recorder refuses over Accept only a peer that is not a SIPREC client and accepts nothing
 * callseal could send. Does no I/O.
 */

/** How callseal treats an INVITE's Accept headers. */
export type AcceptVerdict =
  /** Accept allows SDP, or there is no Accept header. */
  | 'ok'
  /** A SIPREC client that omitted `application/sdp` (Intrado VIPER): recorded, counted as a quirk. */
  | 'quirk-no-sdp'
  /** Not a SIPREC client and nothing callseal can send is acceptable: 406. */
  | 'refuse';

/** What the check reads from the request. */
export interface AcceptInput {
  readonly method: string;
  /** Every Accept header value as received (comma lists allowed). */
  readonly accept: readonly string[];
  readonly require: readonly string[];
  readonly contact: string;
}

const SDP_OR_WILDCARD = /^(application\/sdp|application\/\*|\*\/\*)\s*(;|$)/i;
const SIPREC_TYPES = /^(application\/rs-metadata|multipart\/mixed)/i;

/** Judges the Accept headers of a request. */
export function judgeAccept(input: AcceptInput): AcceptVerdict {
  const types = input.accept.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
  if (input.method !== 'INVITE' || types.length === 0 || types.some((t) => SDP_OR_WILDCARD.test(t))) return 'ok';
  const siprecPeer = types.some((t) => SIPREC_TYPES.test(t))
    || input.require.some((r) => /^siprec$/i.test(r.trim()))
    || /[;\s<]\+?sip\.src\b|;\s*src\b/i.test(input.contact);
  return siprecPeer ? 'quirk-no-sdp' : 'refuse';
}
