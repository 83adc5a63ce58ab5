import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest, type SipResponse } from '../sip/index.ts';
import { earlyDialogOf, isReliable, prackFor, rackResponseNum } from './prack.ts';

function parse(lines: readonly string[]): SipRequest | SipResponse {
  return parseMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n')));
}

const INVITE = parse([
  'INVITE sip:+4989@trunk SIP/2.0', 'Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx', 'From: <sip:201@pbx>;tag=ours', 'To: <sip:+4989@trunk>',
  'Call-ID: leg-b@callseal', 'CSeq: 7 INVITE', 'Max-Forwards: 70',
]) as SipRequest;

function ringing(extra: readonly string[]): SipResponse {
  return parse(['SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx', 'From: <sip:201@pbx>;tag=ours', 'To: <sip:+4989@trunk>;tag=theirs',
    'Call-ID: leg-b@callseal', 'CSeq: 7 INVITE', 'Contact: <sip:sbc@192.0.2.1:5060>', ...extra]) as SipResponse;
}

describe('PRACK through the B2BUA (RFC 3262)', () => {
  it('knows a reliable provisional response by Require: 100rel and an RSeq', () => {
    expect(isReliable(ringing(['Require: 100rel', 'RSeq: 4711']))).toBe(true);
    expect(isReliable(ringing(['Require: timer, 100rel', 'RSeq: 1']))).toBe(true);
    expect(isReliable(ringing(['RSeq: 1']))).toBe(false);
    expect(isReliable(ringing(['Require: 100rel', 'RSeq: x']))).toBe(false);
  });

  it('builds the PRACK of the callee\'s early dialog with the callee leg\'s RAck', () => {
    const early = earlyDialogOf(INVITE, ringing(['Require: 100rel', 'RSeq: 4711', 'Record-Route: <sip:p1;lr>', 'Record-Route: <sip:p2;lr>']));
    expect(early).toMatchObject({ callId: 'leg-b@callseal', remoteTarget: 'sip:sbc@192.0.2.1:5060', inviteCseq: 7, routes: ['<sip:p2;lr>', '<sip:p1;lr>'] });
    if (!early) return;
    const prack = prackFor(early, 4711, 8, [{ name: 'supported', value: '100rel' }], Buffer.alloc(0));
    const h = (n: string): string | undefined => prack.headers.find((x) => x.name === n)?.value;
    expect(prack.uri).toBe('sip:sbc@192.0.2.1:5060');
    expect(h('rack')).toBe('4711 7 INVITE');
    expect(h('cseq')).toBe('8 PRACK');
    expect(h('to')).toBe('<sip:+4989@trunk>;tag=theirs');
    expect(h('route')).toBe('<sip:p2;lr>');
  });

  it('refuses what it cannot use', () => {
    expect(earlyDialogOf(INVITE, parse(['SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: x', 'CSeq: 7 INVITE']) as SipResponse)).toBeUndefined();
    expect(rackResponseNum('1 1 INVITE')).toBe(1);
    expect(rackResponseNum('1 INVITE')).toBeUndefined();
    expect(rackResponseNum('1 1 BYE')).toBeUndefined();
    expect(rackResponseNum(undefined)).toBeUndefined();
  });
});
