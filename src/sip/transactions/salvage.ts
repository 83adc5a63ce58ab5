/**
 * Salvage of unparsable requests: enough of the header (Via, From, To, Call-ID, CSeq) to send the
 * parser's error back (RFC 3261 section 16.3, RFC 4475). Pure; anything that cannot be answered
 * yields undefined and is dropped by the caller.
 */
import type { SipHeader, SipRequest } from '../model.ts';

/** Best-effort extraction of the headers needed to answer an unparsable request. */
export function salvageRequest(raw: Buffer): SipRequest | undefined {
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8', 0, Math.min(raw.length, 64 * 1024));
  const headEnd = text.indexOf('\r\n\r\n');
  const lines = (headEnd >= 0 ? text.slice(0, headEnd) : text).split(/\r?\n/);
  const first = lines[0] ?? '';
  if (first.startsWith('SIP/')) return undefined;
  const method = /^([A-Za-z]+)/.exec(first)?.[1];
  if (!method || method.toUpperCase() === 'ACK') return undefined;
  const wanted = ['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq'];
  const kept: string[] = [];
  for (const line of lines.slice(1)) {
    const previous = kept[kept.length - 1];
    if (/^[ \t]/.test(line) && previous !== undefined) {
      kept[kept.length - 1] = `${previous} ${line.trim()}`;
      continue;
    }
    const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
    if (wanted.includes(name)) kept.push(line);
  }
  return salvageLoose(kept);
}

function salvageLoose(lines: readonly string[]): SipRequest | undefined {
  const headers: SipHeader[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const short: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id' };
    const rawName = line.slice(0, colon).trim().toLowerCase();
    const name = short[rawName] ?? rawName;
    const value = line.slice(colon + 1).trim();
    if (/[\r\n]/.test(value)) return undefined;
    headers.push({ name, value });
  }
  // RFC 4475 section 3.3.1 (insuf): answer 400 even when Call-ID, From or To are missing; the Via is enough to route it.
  if (!headers.some((h) => h.name === 'via')) return undefined;
  return { kind: 'request', method: 'OPTIONS', uri: 'sip:salvage.invalid', version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
}
