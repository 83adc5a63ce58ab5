/**
 * SIP message parser (RFC 3261 section 7 and the grammar of section 25).
 *
 * The parser takes one complete message (a datagram, or a frame cut by `framing.ts`) and either
 * returns a message or throws a `SipError` carrying the response a UAS should send (400, 413, 505)
 * or `ParseError` for input that must be dropped (a malformed response). It does no I/O.
 *
 * ```
 *   generic-message = start-line *message-header CRLF [ message-body ]
 *   start-line      = Request-Line / Status-Line
 *   Request-Line    = Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line     = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 * ```
 */
import { ParseError, SipError } from '../common/errors.ts';
import {
  MAX_HEADERS, MAX_MESSAGE_BYTES, canonicalName, getHeader, printable,
  type SipHeader, type SipMessage, type SipRequest, type SipResponse,
} from './model.ts';

/** Header fields that may appear at most once (RFC 3261 section 7.3.1 and table 2). */
const SINGLE_VALUED = new Set(['to', 'from', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type']);

/** Header fields whose value is a comma-separated list (RFC 3261 section 7.3.1). */
const LIST_VALUED = new Set([
  'via', 'contact', 'route', 'record-route', 'require', 'supported', 'allow', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding', 'allow-events',
]);

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const VERSION_RE = /^SIP\/(\d+)\.(\d+)$/i;
const INT32_MAX = 2 ** 31 - 1;

function badRequest(message: string, offset = 0): SipError {
  return new SipError('CS_SIP_PARSE', 400, 'Bad Request', `${message} [offset:${offset}]`);
}

/**
 * Parses one complete SIP message. For datagrams, bytes after Content-Length are ignored
 * (RFC 3261 section 18.3); a body shorter than Content-Length is an error.
 */
export function parseMessage(data: Buffer, options: { maxBytes?: number } = {}): SipMessage {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  if (data.length > maxBytes) {
    throw new SipError('CS_SIP_TOO_LARGE', 413, 'Request Entity Too Large', `message of ${data.length} bytes exceeds ${maxBytes}`);
  }
  // RFC 3261 section 7.5: implementations should ignore CRLFs before the start line.
  let start = 0;
  while (start + 1 < data.length && data[start] === 0x0d && data[start + 1] === 0x0a) start += 2;
  const headEnd = data.indexOf('\r\n\r\n', start, 'latin1');
  if (headEnd < 0) throw badRequest('no empty line after the header section', data.length);
  const head = data.toString('utf8', start, headEnd);
  const lines = head.split('\r\n');
  const startLine = lines[0] ?? '';
  const headers = parseHeaderLines(lines.slice(1));
  const afterHead = headEnd + 4;

  const isResponse = startLine.startsWith('SIP/');
  const contentLength = readContentLength(headers, isResponse);
  let body: Buffer;
  if (contentLength === undefined) {
    body = data.subarray(afterHead);
  } else {
    if (afterHead + contentLength > data.length) {
      const err = new SipError('CS_SIP_BODY_LENGTH', 400, 'Bad Request',
        `Content-Length ${contentLength} exceeds the ${data.length - afterHead} bytes received`);
      if (isResponse) throw new ParseError('CS_SIP_BODY_LENGTH', err.message, data.length);
      throw err;
    }
    body = data.subarray(afterHead, afterHead + contentLength);
  }
  return isResponse ? parseStatusLine(startLine, headers, body) : parseRequestLine(startLine, headers, body);
}

function parseRequestLine(line: string, headers: SipHeader[], body: Buffer): SipRequest {
  // RFC 4475 sections 3.1.2.7-3.1.2.9: exactly one SP between the elements, none around them.
  const parts = line.split(' ');
  if (parts.length !== 3) throw badRequest(`malformed Request-Line "${printable(line)}"`);
  const [method = '', uri = '', version = ''] = parts;
  if (!TOKEN_RE.test(method)) throw badRequest(`malformed method "${printable(method)}"`);
  const v = VERSION_RE.exec(version);
  if (!v) throw badRequest(`malformed SIP-Version "${printable(version)}"`);
  if (v[1] !== '2' || v[2] !== '0') {
    throw new SipError('CS_SIP_VERSION', 505, 'Version Not Supported', `unsupported version ${version}`);
  }
  // RFC 4475 sections 3.1.2.5/3.1.2.6: no brackets or whitespace inside the Request-URI.
  if (uri.length === 0 || /[<>\s"]/.test(uri) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri)) {
    throw badRequest(`malformed Request-URI "${printable(uri)}"`);
  }
  // RFC 4475 section 3.1.2.12 (escruri): a SIP Request-URI carries no headers component.
  if (/^sips?:/i.test(uri) && uri.slice(uri.lastIndexOf('@') + 1).includes('?')) {
    throw badRequest(`Request-URI with a headers component "${printable(uri)}"`);
  }
  const msg: SipRequest = { kind: 'request', method, uri, version: 'SIP/2.0', headers, body };
  validateRequestHeaders(msg);
  return msg;
}

function parseStatusLine(line: string, headers: SipHeader[], body: Buffer): SipResponse {
  const m = /^(SIP\/\d+\.\d+) (\d+)(?: (.*))?$/.exec(line);
  if (!m) throw new ParseError('CS_SIP_PARSE', `malformed Status-Line "${printable(line)}"`);
  const status = Number(m[2]);
  // RFC 4475 sections 3.1.2.19/3.1.2.4 (bigcode, scalarlg): status codes are three digits.
  if (m[2]?.length !== 3 || status < 100 || status > 699) {
    throw new ParseError('CS_SIP_PARSE', `status code ${m[2] ?? ''} out of range`);
  }
  if (m[1]?.toUpperCase() !== 'SIP/2.0') throw new ParseError('CS_SIP_VERSION', `unsupported version ${m[1] ?? ''}`);
  // RFC 4475 section 3.1.2.4 (scalarlg): a response with out-of-range scalars is dropped.
  try {
    parseCSeq(getHeader({ headers }, 'cseq') ?? '');
  } catch (err) {
    throw new ParseError('CS_SIP_PARSE', `response dropped: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
  return { kind: 'response', status, reason: m[3] ?? '', version: 'SIP/2.0', headers, body };
}

function parseHeaderLines(lines: readonly string[]): SipHeader[] {
  // Unfold: a line starting with SP or HT continues the previous one (RFC 3261 section 7.3.1).
  const unfolded: string[] = [];
  for (const line of lines) {
    const previous = unfolded[unfolded.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && previous !== undefined) {
      unfolded[unfolded.length - 1] = `${previous} ${line.trim()}`;
    } else {
      unfolded.push(line);
    }
  }
  if (unfolded.length > MAX_HEADERS) {
    throw new SipError('CS_SIP_TOO_LARGE', 413, 'Request Entity Too Large', `more than ${MAX_HEADERS} header fields`);
  }
  const headers: SipHeader[] = [];
  unfolded.forEach((line, index) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw badRequest(`header line without a name "${printable(line)}"`, index + 1);
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN_RE.test(rawName)) throw badRequest(`malformed header name "${printable(rawName)}"`, index + 1);
    const name = canonicalName(rawName);
    const value = line.slice(colon + 1).trim();
    if (LIST_VALUED.has(name)) {
      for (const item of splitList(value)) headers.push({ name, value: item });
    } else {
      headers.push({ name, value });
    }
  });
  for (const name of SINGLE_VALUED) {
    if (headers.filter((h) => h.name === name).length > 1) throw badRequest(`more than one ${name} header field`);
  }
  return headers;
}

function readContentLength(headers: readonly SipHeader[], isResponse: boolean): number | undefined {
  const raw = headers.find((h) => h.name === 'content-length')?.value;
  if (raw === undefined) return undefined;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > INT32_MAX) {
    if (isResponse) throw new ParseError('CS_SIP_BODY_LENGTH', `malformed Content-Length "${printable(raw)}"`);
    throw new SipError('CS_SIP_BODY_LENGTH', 400, 'Bad Request', `malformed Content-Length "${printable(raw)}"`);
  }
  return Number(raw);
}

/** Checks the header fields every request needs (RFC 3261 section 8.1.1, RFC 4475 section 3.1.2). */
function validateRequestHeaders(msg: SipRequest): void {
  // Max-Forwards is absent in RFC 2543 requests, which RFC 4475 section 3.4 asks us to accept.
  for (const name of ['to', 'from', 'call-id', 'cseq', 'via']) {
    if (!msg.headers.some((h) => h.name === name)) throw badRequest(`missing ${name} header field`);
  }
  const cseq = parseCSeq(getHeader(msg, 'cseq') ?? '');
  if (cseq.method !== msg.method) throw badRequest(`CSeq method ${cseq.method} does not match ${msg.method}`);
  const maxForwards = getHeader(msg, 'max-forwards');
  if (maxForwards !== undefined && (!/^\d{1,10}$/.test(maxForwards) || Number(maxForwards) > 255)) {
    throw badRequest(`malformed Max-Forwards "${printable(maxForwards)}"`);
  }
  const expires = getHeader(msg, 'expires');
  if (expires !== undefined && /^\d+$/.test(expires) && (expires.length > 10 || Number(expires) > 2 ** 32 - 1)) {
    throw badRequest(`Expires value out of range`);
  }
  for (const h of msg.headers) {
    if (h.name === 'via') parseVia(h.value);
    if (h.name === 'to' || h.name === 'from') parseNameAddr(h.value);
    if (h.name === 'contact' && h.value !== '*') {
      const addr = parseNameAddr(h.value);
      const expiresParam = addr.params.get('expires');
      if (expiresParam !== undefined && (!/^\d{1,10}$/.test(expiresParam) || Number(expiresParam) > 2 ** 32 - 1)) {
        throw badRequest(`Contact expires parameter out of range`);
      }
    }
  }
  if (!getHeader(msg, 'call-id')) throw badRequest('empty Call-ID');
}

/** A parsed CSeq header. */
export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Parses `CSeq: 4711 INVITE`; the number must fit in 32 bits (RFC 3261 section 8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+(\S+)$/.exec(value);
  if (!m?.[1] || !m[2] || Number(m[1]) > INT32_MAX || !TOKEN_RE.test(m[2])) {
    throw badRequest(`malformed CSeq "${printable(value)}"`);
  }
  return { seq: Number(m[1]), method: m[2] };
}

/** A parsed Via header value. */
export interface Via {
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly params: ReadonlyMap<string, string>;
  readonly branch: string | undefined;
}

/** Parses one Via value, tolerating LWS around the slashes (RFC 4475 section 3.1.1.1). */
export function parseVia(value: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$/i.exec(value);
  if (!m?.[1] || !m[2]) throw badRequest(`malformed Via "${printable(value)}"`);
  const { host, port } = splitHostPort(m[2]);
  const params = parseParams(m[3] ?? '', 'Via');
  return { transport: m[1].toUpperCase(), host, port, params, branch: params.get('branch') };
}

function splitHostPort(hostport: string): { host: string; port: number | undefined } {
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(hostport);
  if (v6?.[1]) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined };
  const m = /^([A-Za-z0-9.\-_]+)(?::(\d{1,5}))?$/.exec(hostport);
  if (!m?.[1]) throw badRequest(`malformed sent-by "${printable(hostport)}"`);
  return { host: m[1], port: m[2] ? Number(m[2]) : undefined };
}

/** Parses `;a=b;c` generic parameters; empty parameters are an error (RFC 4475 section 3.1.2.1). */
function parseParams(text: string, where: string): Map<string, string> {
  const params = new Map<string, string>();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  if (!trimmed.startsWith(';')) throw badRequest(`unexpected text in ${where} "${printable(trimmed)}"`);
  for (const raw of splitOutsideQuotes(trimmed.slice(1), ';')) {
    const item = raw.trim();
    if (item === '') throw badRequest(`empty parameter in ${where}`);
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!TOKEN_RE.test(name)) throw badRequest(`malformed parameter name in ${where} "${printable(name)}"`);
    params.set(name, val.startsWith('"') && val.endsWith('"') && val.length >= 2 ? val.slice(1, -1) : val);
  }
  return params;
}

/** A parsed name-addr or addr-spec (From, To, Contact, Route). */
export interface NameAddr {
  readonly displayName: string;
  readonly uri: string;
  readonly params: ReadonlyMap<string, string>;
  readonly tag: string | undefined;
}

/**
 * Parses `"Display" <uri>;params`, `Display <uri>;params` or `uri;params`
 * (RFC 3261 section 20.10 and the rules checked by RFC 4475 sections 3.1.2.10-3.1.2.17).
 */
export function parseNameAddr(value: string): NameAddr {
  let rest = value.trim();
  let displayName = '';
  let uri: string;
  if (rest.startsWith('"')) {
    const end = findQuoteEnd(rest, 0);
    if (end < 0) throw badRequest(`unterminated quoted display name in "${printable(value)}"`);
    displayName = unquote(rest.slice(0, end + 1));
    rest = rest.slice(end + 1).trimStart();
    if (!rest.startsWith('<')) throw badRequest(`quoted display name without <uri> in "${printable(value)}"`);
  }
  const lt = rest.indexOf('<');
  if (lt >= 0) {
    const before = rest.slice(0, lt).trim();
    if (before !== '') {
      // Unquoted display names are tokens separated by LWS (RFC 3261 section 25.1).
      for (const word of before.split(/\s+/)) {
        if (!TOKEN_RE.test(word)) throw badRequest(`display name must be quoted in "${printable(value)}"`);
      }
      displayName = before;
    }
    const gt = rest.indexOf('>', lt);
    if (gt < 0) throw badRequest(`unterminated <uri> in "${printable(value)}"`);
    uri = rest.slice(lt + 1, gt);
    if (/\s/.test(uri) || uri === '') throw badRequest(`whitespace inside <uri> in "${printable(value)}"`);
    rest = rest.slice(gt + 1);
  } else {
    const semi = rest.indexOf(';');
    uri = (semi < 0 ? rest : rest.slice(0, semi)).trim();
    rest = semi < 0 ? '' : rest.slice(semi);
    // RFC 3261 section 20: an addr-spec with ',', '?' or ';' must be enclosed in brackets.
    if (uri === '' || /[\s,?<>"]/.test(uri)) throw badRequest(`malformed addr-spec "${printable(value)}"`);
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri)) throw badRequest(`URI without scheme in "${printable(value)}"`);
  const params = parseParams(rest, 'name-addr');
  return { displayName, uri, params, tag: params.get('tag') };
}

function findQuoteEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '"') return i;
  }
  return -1;
}

function unquote(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Splits on `sep` outside quoted strings and angle brackets. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inQuote = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === sep && depth === 0) {
      out.push(text.slice(from, i));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out;
}

function splitList(value: string): string[] {
  const items = splitOutsideQuotes(value, ',').map((s) => s.trim());
  // A trailing comma or ",," is tolerated for Accept-like lists but not for Via (badinv01).
  return items.filter((s, i) => s !== '' || i === 0);
}

