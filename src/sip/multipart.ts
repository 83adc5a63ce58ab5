/**
 * `multipart/mixed` bodies (RFC 2046 section 5.1, RFC 5621 for SIP): splits by the boundary
 * parameter, parses each part's headers, and keeps the part bytes as received. Does no I/O.
 */
import { ParseError } from '../common/errors.ts';

/** One body part. */
export interface BodyPart {
  /** Lowercase media type without parameters, e.g. `application/sdp`. */
  readonly contentType: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** At most this many parts; SIPREC uses two or three. */
export const MAX_PARTS = 16;

/** Parses a Content-Type header into the media type and its parameters. */
export function parseContentType(value: string): { type: string; params: Map<string, string> } {
  const [typePart = '', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    params.set(p.slice(0, eq).trim().toLowerCase(), v);
  }
  return { type: typePart.trim().toLowerCase(), params };
}

/**
 * Deviations from RFC 2046 that real SRCs send and callseal accepts (SIPREC-INTEROP.md); the
 * caller counts and logs them, a recording is never refused for one.
 */
export type MultipartQuirk =
  /** The body ends without `--boundary--`; Content-Length ends the last part (Ribbon/Sonus, SEMS, Cisco). */
  | 'unterminated'
  /** The boundary is longer than the 70 characters RFC 2046 section 5.1.1 allows. */
  | 'long-boundary'
  /** Content-Type names no boundary; the body's first delimiter line gives it. */
  | 'boundary-inferred';

/** A split multipart body and the quirks seen while splitting it. */
export interface MultipartBody {
  readonly parts: BodyPart[];
  readonly quirks: readonly MultipartQuirk[];
}

/** Longest boundary accepted; RFC 2046 allows 70, a tolerant reader takes a few more. */
const MAX_BOUNDARY = 256;

/**
 * Finds the next delimiter line at or after `from`: `--boundary` at the start of the body or of a
 * line, followed by `--`, linear white space, a line end or the end of the body (RFC 2046
 * section 5.1.1). A boundary string inside a line or as the prefix of a longer token is content.
 */
function findDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  for (let pos = body.indexOf(delimiter, from); pos >= 0; pos = body.indexOf(delimiter, pos + 1)) {
    if (pos > 0 && body[pos - 1] !== 0x0a) continue;
    const next = body[pos + delimiter.length];
    if (next === undefined || next === 0x2d || next === 0x20 || next === 0x09 || next === 0x0d || next === 0x0a) return pos;
  }
  return -1;
}

/** The boundary of a body whose first non-empty line is a delimiter line (`--token`). */
function inferBoundary(body: Buffer): string | undefined {
  const head = body.subarray(0, MAX_BOUNDARY + 8).toString('latin1');
  const line = /^(?:[ \t]*\r?\n)*--([^\r\n]*?)[ \t]*\r?\n/.exec(head)?.[1];
  return line && !line.endsWith('--') && /^[0-9A-Za-z'()+_,./:=? -]+$/.test(line) ? line : undefined;
}

/** Splits a multipart body; throws `ParseError` (CS_SIP_MULTIPART) when it is malformed. */
export function parseMultipart(body: Buffer, contentType: string): BodyPart[] {
  return parseMultipartBody(body, contentType).parts;
}

/**
 * Splits a multipart body and reports the quirks it accepted. A body whose closing delimiter is
 * missing ends where Content-Length ends it (RFC 3261 section 20.14 frames the body, not the
 * delimiter); anything else malformed throws `ParseError` (CS_SIP_MULTIPART).
 */
export function parseMultipartBody(body: Buffer, contentType: string): MultipartBody {
  const { params } = parseContentType(contentType);
  const quirks: MultipartQuirk[] = [];
  let boundary = params.get('boundary');
  if (boundary === undefined) {
    boundary = inferBoundary(body);
    if (boundary !== undefined) quirks.push('boundary-inferred');
  }
  if (!boundary || boundary.length > MAX_BOUNDARY) throw new ParseError('CS_SIP_MULTIPART', 'multipart body without a valid boundary');
  if (boundary.length > 70) quirks.push('long-boundary');
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: BodyPart[] = [];
  let pos = findDelimiter(body, delimiter, 0);
  if (pos < 0) throw new ParseError('CS_SIP_MULTIPART', `boundary "${boundary}" not found in body`);
  for (;;) {
    let after = pos + delimiter.length;
    if (body.subarray(after, after + 2).toString('latin1') === '--') break;
    // A delimiter line with nothing after it: the body stopped there without `--`.
    if (parts.length > 0 && body.subarray(after).toString('latin1').trim() === '') {
      quirks.push('unterminated');
      break;
    }
    // Skip transport padding up to the end of the delimiter line.
    const eol = body.indexOf('\r\n', after, 'latin1');
    const eolLf = body.indexOf('\n', after, 'latin1');
    if (eolLf < 0) throw new ParseError('CS_SIP_MULTIPART', 'truncated multipart body', after);
    after = eol >= 0 && eol <= eolLf ? eol + 2 : eolLf + 1;
    const next = findDelimiter(body, delimiter, after);
    let end = next < 0 ? body.length : next;
    if (next < 0) quirks.push('unterminated');
    else {
      // The CRLF before the delimiter belongs to the delimiter (RFC 2046 section 5.1.1).
      if (body[end - 1] === 0x0a) end--;
      if (body[end - 1] === 0x0d) end--;
    }
    parts.push(parsePart(body.subarray(after, Math.max(after, end))));
    if (parts.length > MAX_PARTS) throw new ParseError('CS_SIP_MULTIPART', `more than ${MAX_PARTS} body parts`);
    if (next < 0) break;
    pos = next;
  }
  return { parts, quirks };
}

function parsePart(part: Buffer): BodyPart {
  let headEnd = part.indexOf('\r\n\r\n', 0, 'latin1');
  let sepLen = 4;
  if (headEnd < 0) {
    headEnd = part.indexOf('\n\n', 0, 'latin1');
    sepLen = 2;
  }
  const startsWithBlank = part.subarray(0, 2).toString('latin1') === '\r\n' || part[0] === 0x0a;
  const headers = new Map<string, string>();
  let body: Buffer;
  if (startsWithBlank) {
    // No part headers: the default type is text/plain (RFC 2046 section 5.1).
    body = part.subarray(part[0] === 0x0a ? 1 : 2);
  } else if (headEnd < 0) {
    throw new ParseError('CS_SIP_MULTIPART', 'body part without an empty line after its headers');
  } else {
    for (const line of part.toString('utf8', 0, headEnd).split(/\r?\n(?![ \t])/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ParseError('CS_SIP_MULTIPART', 'malformed body part header');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim());
    }
    body = part.subarray(headEnd + sepLen);
  }
  return { contentType: parseContentType(headers.get('content-type') ?? 'text/plain').type, headers, body };
}
