/**
 * Reading a SIPREC request (RFC 7866): its Accept header (RFC 3261 section 8.2.3, judged by
 * `accept.ts`), its body parts (SDP, rs-metadata, multipart/mixed in any order) and its metadata,
 * with the SIP status each problem gets (the responses themselves come from `sip/error-response.ts`).
 * Does no I/O.
 */
import { ParseError, SipError, errorMessage } from '../common/errors.ts';
import { getHeader, getHeaders, parseContentType, parseMultipartBody, type Remote, type SipRequest } from '../sip/index.ts';
import { judgeAccept } from './accept.ts';
import { parseMetadata, type RecordingMetadata } from './metadata.ts';
import { codecLayoutNote, parseOffer, type OfferedStream } from './sdp.ts';

/** Body types callseal accepts (the Accept of its OPTIONS answers and 415s). */
export const ACCEPT_TYPES: readonly string[] = ['application/sdp', 'application/rs-metadata+xml', 'application/rs-metadata', 'multipart/mixed'];
export const ACCEPT = ACCEPT_TYPES.join(', ');

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
  if (verdict === 'refuse') throw new SipError('CS_SIP_NOT_ACCEPTABLE', 406, 'Not Acceptable', 'Accept does not allow application/sdp');
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
  throw new SipError('CS_SIP_UNSUPPORTED_MEDIA', 415, 'Unsupported Media Type', `body of type ${type || '(none)'} is not recordable`);
}

function isMetadataType(type: string): boolean {
  return type === 'application/rs-metadata+xml' || type === 'application/rs-metadata';
}

/** What the body of a request carries, and the quirks accepted while reading it. */
export function readBody(msg: SipRequest): { readonly parts: BodyParts; readonly quirks: readonly string[] } {
  const acceptQuirks = checkAccept(msg);
  const parts = bodyParts(msg);
  return { parts, quirks: [...acceptQuirks, ...parts.quirks] };
}

/** What the INVITE of a new recording session offers. */
export interface InviteOffer {
  readonly offer: OfferedStream[];
  /** Why the streams cannot share one file (no codec offered on all of them), if so. */
  readonly layoutNote: string | undefined;
  readonly metadata: RecordingMetadata | undefined;
}

/**
 * Checks that an INVITE opens a SIPREC session (RFC 7866 section 6.1: `Require: siprec`, the
 * `+sip.src` feature tag, or metadata) with an SDP offer that has a recordable stream: 488 otherwise.
 */
export function readInvite(msg: SipRequest, parts: BodyParts, stereo: boolean): InviteOffer {
  const contact = getHeader(msg, 'contact') ?? '';
  const isSiprec = getHeaders(msg, 'require').some((r) => /^siprec$/i.test(r.trim())) || /[;\s]\+?sip\.src\b|;\s*src\b/i.test(contact) || parts.metadata !== undefined;
  if (!isSiprec) throw new SipError('CS_SIPREC_NOT_SIPREC', 488, 'Not Acceptable Here', 'not a SIPREC recording session (no Require: siprec, +sip.src or metadata)');
  if (!parts.sdp) throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', 'INVITE without an SDP offer is not supported');
  const offer = parseOffer(parts.sdp, { stereo });
  if (offer.every((s) => s.refused !== undefined)) {
    throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', `no recordable stream: ${offer.map((s) => s.refused).join('; ')}`);
  }
  return { offer, layoutNote: codecLayoutNote(offer), metadata: readMetadata(parts.metadata) };
}

/** What a re-INVITE or UPDATE brings, read from its body. */
export interface DialogUpdate {
  readonly metadataRaw: Buffer | undefined;
  readonly metadata: RecordingMetadata | undefined;
  readonly offer: OfferedStream[] | undefined;
  /** An INVITE without SDP: callseal offers the current streams again (RFC 3261 section 14.2). */
  readonly offerless: boolean;
}

/**
 * Reads what a re-INVITE or UPDATE brings: a metadata version and an offer, in which each stream
 * keeps the codec its file is written in (`keep`, per label) while the SRC still offers it.
 */
export function readUpdate(msg: SipRequest, parts: BodyParts, stereo: boolean, keep: ReadonlyMap<string, string>): DialogUpdate {
  return {
    metadataRaw: parts.metadata, metadata: readMetadata(parts.metadata),
    offer: parts.sdp ? parseOffer(parts.sdp, { stereo, keep }) : undefined, offerless: msg.method === 'INVITE' && !parts.sdp,
  };
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

/** A host for a SIP URI or Via: IPv6 literals in brackets (RFC 3261 section 25.1). */
export function hostForUri(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * callseal's Contact for a dialog: the transport the SRC used, so its in-dialog requests (BYE)
 * come the same way (RFC 3263; `sips:` over TLS, RFC 5630 section 3.1.3).
 */
export function contactFor(remote: Remote, o: { readonly sipAddress: string; readonly sipPort: number; readonly sipTcpPort?: number | undefined; readonly sipTlsPort?: number | undefined }): string {
  const host = hostForUri(o.sipAddress);
  switch (remote.transport) {
    case 'TLS': return `<sips:callseal@${host}:${o.sipTlsPort ?? o.sipPort}>;+sip.srs`;
    case 'TCP': return `<sip:callseal@${host}:${o.sipTcpPort ?? o.sipPort};transport=tcp>;+sip.srs`;
    case 'UDP': return `<sip:callseal@${host}:${o.sipPort}>;+sip.srs`;
  }
}
