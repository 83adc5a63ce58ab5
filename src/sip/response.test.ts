/** Responses built by `buildResponse` (RFC 3261 section 8.2.6). */
import { describe, expect, it } from 'vitest';
import { buildResponse, getHeader, parseMessage, parseNameAddr, serializeMessage, type SipRequest } from './message.ts';

function request(to: string): SipRequest {
  const msg = parseMessage(Buffer.from([
    'OPTIONS sip:srs@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKresp', 'From: <sip:a@b>;tag=f1',
    `To: ${to}`, 'Call-ID: resp@x', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n')));
  if (msg.kind !== 'request') throw new Error('not a request');
  return msg;
}

const tagOf = (r: ReturnType<typeof buildResponse>): string | undefined => parseNameAddr(getHeader(r, 'to') ?? '').tag;

describe('buildResponse To tag (RFC 3261 section 8.2.6.2)', () => {
  it('adds a random tag to every response but 100 when the request has none', () => {
    const req = request('<sip:srs@127.0.0.1>');
    expect(tagOf(buildResponse(req, 100, 'Trying'))).toBeUndefined();
    for (const status of [180, 200, 400, 403, 420, 481, 500, 503]) expect(tagOf(buildResponse(req, status, 'x'))).toMatch(/^[0-9a-f]{12}$/);
    expect(tagOf(buildResponse(req, 400, 'Bad Request'))).not.toBe(tagOf(buildResponse(req, 400, 'Bad Request')));
  });

  it('uses the dialog tag when given, and keeps a tag the request already has', () => {
    expect(tagOf(buildResponse(request('<sip:srs@127.0.0.1>'), 200, 'OK', { toTag: 'dlg1' }))).toBe('dlg1');
    expect(tagOf(buildResponse(request('<sip:srs@127.0.0.1>;tag=old'), 200, 'OK', { toTag: 'dlg1' }))).toBe('old');
    expect(tagOf(buildResponse(request('<sip:srs@127.0.0.1>;tag=old'), 481, 'Call/Transaction Does Not Exist'))).toBe('old');
  });

  it('writes Min-SE with its RFC 4028 spelling', () => {
    const r = buildResponse(request('<sip:srs@127.0.0.1>'), 422, 'Session Interval Too Small', { headers: [{ name: 'min-se', value: '90' }] });
    expect(serializeMessage(r).toString()).toContain('\r\nMin-SE: 90\r\n');
  });
});
