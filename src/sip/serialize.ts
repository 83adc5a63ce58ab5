/**
 * Writes SIP messages: serialization with proper-case header names and a computed
 * Content-Length, and responses built from their request (RFC 3261 section 8.2.6). Does no I/O.
 */
import { randomBytes } from 'node:crypto';
import { SipError } from '../common/errors.ts';
import type { SipHeader, SipMessage, SipRequest, SipResponse } from './model.ts';

/** Proper-case names used when callseal writes a message. */
const WIRE_NAMES: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID', cseq: 'CSeq', via: 'Via', to: 'To', from: 'From', contact: 'Contact',
  'content-type': 'Content-Type', 'content-length': 'Content-Length', 'max-forwards': 'Max-Forwards',
  'record-route': 'Record-Route', route: 'Route', require: 'Require', supported: 'Supported',
  allow: 'Allow', accept: 'Accept', unsupported: 'Unsupported', server: 'Server', 'user-agent': 'User-Agent',
  'content-disposition': 'Content-Disposition', 'www-authenticate': 'WWW-Authenticate', 'retry-after': 'Retry-After',
  warning: 'Warning', reason: 'Reason', 'session-expires': 'Session-Expires', 'min-se': 'Min-SE', rseq: 'RSeq', rack: 'RAck',
};

function wireName(name: string): string {
  return WIRE_NAMES[name] ?? name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** Serializes a message; Content-Length is always written from the body. */
export function serializeMessage(msg: SipMessage): Buffer {
  const startLine = msg.kind === 'request'
    ? `${msg.method} ${msg.uri} SIP/2.0`
    : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const lines = [startLine];
  for (const h of msg.headers) {
    if (h.name === 'content-length') continue;
    if (/[\r\n]/.test(h.value)) throw new SipError('CS_SIP_HEADER_VALUE', 500, 'Server Internal Error', `line break in ${h.name} value`);
    lines.push(`${wireName(h.name)}: ${h.value}`);
  }
  lines.push(`Content-Length: ${msg.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), msg.body]);
}

/**
 * Builds a response to `req` (RFC 3261 section 8.2.6): Via, From, To, Call-ID and CSeq copied.
 * Every response but 100 carries a To tag (section 8.2.6.2): `toTag` when given (the dialog's
 * tag), otherwise a fresh random one, unless the request's To already has a tag.
 */
export function buildResponse(
  req: SipRequest,
  status: number,
  reason: string,
  options: { toTag?: string; headers?: readonly SipHeader[]; body?: Buffer } = {},
): SipResponse {
  const headers: SipHeader[] = [];
  for (const h of req.headers) {
    if (h.name === 'via' || h.name === 'from' || h.name === 'call-id' || h.name === 'cseq') headers.push(h);
    else if (h.name === 'to') {
      const hasTag = /;\s*tag\s*=/i.test(h.value);
      headers.push(!hasTag && status > 100 ? { name: 'to', value: `${h.value};tag=${options.toTag ?? responseTag()}` } : h);
    }
  }
  headers.push({ name: 'server', value: 'callseal' });
  headers.push(...(options.headers ?? []));
  return { kind: 'response', status, reason, version: 'SIP/2.0', headers, body: options.body ?? Buffer.alloc(0) };
}

/** A random To tag for a response that creates no dialog (RFC 3261 section 19.3: at least 32 random bits). */
function responseTag(): string {
  return randomBytes(6).toString('hex');
}
