import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '../sip/index.ts';
import { forwardedFrom, inlineFacts, inlineParties, splitList } from './facts.ts';
import type { InlineRoute } from './routing.ts';

const OUT: InlineRoute = { from: 'pbx', to: 'trunk', direction: 'out', hop: { transport: 'UDP', address: '192.0.2.1', port: 5060 } };

function invite(headers: readonly string[], uri = 'sip:+491701234567@trunk.example.net'): SipRequest {
  const text = [
    `INVITE ${uri} SIP/2.0`, 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1', 'From: "Alice" <sip:201@pbx>;tag=1', 'To: <sip:+491701234567@trunk.example.net>',
    'Call-ID: c1', 'CSeq: 1 INVITE', 'Max-Forwards: 70', ...headers, 'Content-Length: 0', '', '',
  ].join('\r\n');
  const m = parseMessage(Buffer.from(text));
  if (m.kind !== 'request') throw new TypeError('request expected');
  return m;
}

describe('in-line call facts', () => {
  it('takes direction from the route, the caller from P-Asserted-Identity, the callee from the Request-URI', () => {
    const msg = invite(['P-Asserted-Identity: "Alice Anders" <sip:+4930123201@pbx.example.com>']);
    expect(inlineFacts('c1', msg, OUT, 5)).toEqual({ callId: 'c1', caller: '+4930123201', callee: '+491701234567', diversions: [], directionHint: 'out', atMs: 5 });
    expect(inlineParties(msg, OUT)).toMatchObject({ callerBy: 'P-Asserted-Identity', caller: { name: 'Alice Anders' }, direction: 'out', callerLabel: 'caller' });
    expect(inlineParties(invite([]), { ...OUT, direction: 'in' })).toMatchObject({ callerBy: 'From', caller: { number: '201', name: 'Alice' }, direction: 'in' });
  });

  it('B4: a call the PBX forwarded to a mobile names the user it was forwarded from, oldest first', () => {
    expect(forwardedFrom(invite(['Diversion: <sip:202@pbx>;reason=unconditional, <sip:201@pbx>;reason=no-answer']))).toEqual(['201', '202']);
    expect(forwardedFrom(invite(['Diversion: <sip:202@pbx>', 'Diversion: <sip:201@pbx>']))).toEqual(['201', '202']);
    expect(forwardedFrom(invite([
      'History-Info: <sip:201@pbx>;index=1, <sip:+491701234567@trunk;cause=302>;index=1.1',
      'Diversion: <sip:999@pbx>',
    ]))).toEqual(['201']);
  });

  it('bounds and survives hostile values', () => {
    const many = Array.from({ length: 50 }, (_, i) => `<sip:${i}@pbx>`).join(', ');
    expect(forwardedFrom(invite([`Diversion: ${many}`]))).toHaveLength(10);
    expect(forwardedFrom(invite(['Diversion: "unterminated <sip:1@x>']))).toEqual([]);
    expect(splitList(['"a, b" <sip:1@x>, <sip:2@x;p=","> , '])).toEqual(['"a, b" <sip:1@x>', '<sip:2@x;p=",">']);
  });
});
