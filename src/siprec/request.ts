/**
 * Reading a SIPREC request (RFC 7866): its Accept header (RFC 3261 section 8.2.3, judged by
 * `accept.ts`), its body parts (SDP, rs-metadata, multipart/mixed in any order) and its metadata,
 * with the SIP status each problem gets; and the Warning header callseal adds to its refusals.
 * Does no I/O.
 */
import { ParseError, SipError, errorMessage } from '../common/errors.ts';
import { getHeader, getHeaders, parseContentType, parseMultipartBody, type SipHeader, type SipRequest } from '../sip/index.ts';
import { judgeAccept } from './accept.ts';
import { parseMetadata, type RecordingMetadata } from './metadata.ts';

/** Body types callseal accepts (the Accept of its OPTIONS answers and 415s). */
export const ACCEPT = 'application/sdp, application/rs-metadata+xml, application/rs-metadata, multipart/mixed';

/** Parts of a SIPREC request body. */
export interface BodyParts {
  readonly sdp: Buffer | undefined;
  readonly metadata: Buffer | undefined;
  /** Deviations accepted while reading the body (`docs/siprec.md`, quirks). */
  readonly quirks: readonly string[];
}

/**
 * Checks Accept with {@link judgeAccept}: a SIPREC client that omits `application/sdp` is recorded
 * and the omission returned as a quirk; one that refuses SDP gets 406.
 */
export function checkAccept(msg: SipRequest): string[] {
  const verdict = judgeAccept({ method: msg.method, accept: getHeaders(msg, 'accept'), require: getHeaders(msg, 'require'), contact: getHeader(msg, 'contact') ?? '' });
  if (verdict === 'refuse') throw new SipError('CS_SDP_INVALID', 406, 'Not Acceptable', 'Accept does not allow application/sdp');
  return verdict === 'ok' ? [] : ['accept-without-sdp'];
}

/** Splits the body into SDP and metadata; other parts (Cisco `application/gtd`) are ignored. */
export function bodyParts(msg: SipRequest): BodyParts {
  if (msg.body.length === 0) return { sdp: undefined, metadata: undefined, quirks: [] };
  const contentType = getHeader(msg, 'content-type') ?? '';
  const { type } = parseContentType(contentType);
  if (type === 'application/sdp') return { sdp: msg.body, metadata: undefined, quirks: [] };
  if (isMetadataType(type)) return { sdp: undefined, metadata: msg.body, quirks: [] };
  if (type === 'multipart/mixed') {
    let split;
    try {
      split = parseMultipartBody(msg.body, contentType);
    } catch (err) {
      throw new SipError('CS_SIP_MULTIPART', 400, 'Bad Request', errorMessage(err), { cause: err });
    }
    // Part order varies between SRCs.
    const sdp = split.parts.find((p) => p.contentType === 'application/sdp')?.body;
    const metadata = split.parts.find((p) => isMetadataType(p.contentType))?.body;
    return { sdp, metadata, quirks: split.quirks.map((q) => `multipart-${q}`) };
  }
  throw new SipError('CS_SDP_INVALID', 415, 'Unsupported Media Type', `body of type ${type || '(none)'} is not recordable`);
}

function isMetadataType(type: string): boolean {
  return type === 'application/rs-metadata+xml' || type === 'application/rs-metadata';
}

/** Parses the metadata part: 413 when it is too large, 400 when it is malformed or unsafe. */
export function readMetadata(body: Buffer | undefined): RecordingMetadata | undefined {
  if (!body) return undefined;
  try {
    return parseMetadata(body);
  } catch (err) {
    if (err instanceof ParseError && /exceeds/.test(err.message)) throw new SipError('CS_SIPREC_METADATA', 413, 'Request Entity Too Large', err.message);
    throw new SipError('CS_SIPREC_METADATA', 400, 'Bad Request', `recording metadata: ${errorMessage(err)}`, { cause: err });
  }
}

/** A Warning header (RFC 3261 section 20.43, code 399) with `text` made safe, before `extra`. */
export function warning(text: string, extra: SipHeader[] = []): SipHeader[] {
  return [{ name: 'warning', value: `399 callseal "${text.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` }, ...extra];
}
