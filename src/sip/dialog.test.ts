/**
 * Dialogs on the fake clock (RFC 3261 sections 12, 13.2.2.4, 13.3.1.4, 14): callseal as UAS and as
 * UAC on an in-memory network, each side a real stack with its UAS core: 2xx retransmission until
 * the ACK and the end after 64*T1 without one, ACKs re-sent for retransmitted 2xx, in-dialog
 * requests built by the dialog, CSeq order, target refresh, timeouts as 408, BYE.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../common/fake-clock.ts';
import { silentLogger } from '../common/log.ts';
import { MemoryNetwork, type MemoryWire } from '../../test/helpers/sip-wire.ts';
import { DEFAULT_TIMERS, SipStack } from './stack.ts';
import { UasCore, type IncomingInvite } from './uas.ts';
import { sendInvite } from './uac.ts';
import { uacDialogInit, uasDialogInit, type Dialog, type DialogEndReason } from './dialog.ts';
import { getHeader, getHeaders, type SipRequest, type SipResponse } from './model.ts';
import { parseMessage } from './parse.ts';
import type { TransportName } from './transport.ts';

const SRS = '192.0.2.10';
const UA = '192.0.2.40';

let clock: FakeClock;
let net: MemoryNetwork;
let srsWire: MemoryWire;
let srs: UasCore;
let ua: UasCore;
let invites: IncomingInvite[];

function core(wire: MemoryWire, host: string): UasCore {
  const stack = new SipStack(wire, silentLogger(), DEFAULT_TIMERS, { scheduler: clock });
  return new UasCore({
    stack, log: silentLogger(), supported: ['timer'], accept: ['application/sdp'],
    contact: (remote) => `<sip:cs@${host}:5060${remote.transport === 'TCP' ? ';transport=tcp' : ''}>`,
  });
}

beforeEach(() => {
  clock = new FakeClock(0);
  net = new MemoryNetwork(clock);
  srsWire = net.endpoint(SRS);
  srs = core(srsWire, SRS);
  ua = core(net.endpoint(UA), UA);
  invites = [];
  srs.onInvite((i) => { invites.push(i); });
});

/** The UA calls the SRS; the SRS accepts at once. Returns both dialogs. */
async function call(transport: TransportName = 'UDP'): Promise<{ uac: Dialog; uas: Dialog; ended: DialogEndReason[] }> {
  const ended: DialogEndReason[] = [];
  srs.onInvite((i) => {
    invites.push(i);
    const d = i.accept();
    d?.on('terminated', (r) => { ended.push(r); });
  });
  const out = sendInvite(ua.context, {
    uri: `sip:srs@${SRS}${transport === 'TCP' ? ';transport=tcp' : ''}`, from: `<sip:ua@${UA}>`, to: `<sip:srs@${SRS}>`,
    remote: { transport, address: SRS, port: 5060 }, contact: `<sip:ua@${UA}:5060>`,
  });
  clock.advance(0);
  const { response, dialog } = await out.result;
  expect(response.status).toBe(200);
  const uas = [...srs.dialogs.values()][0];
  if (!dialog || !uas) throw new TypeError('no dialog');
  return { uac: dialog, uas, ended };
}

function sent(to: string, pick: (m: SipRequest | SipResponse) => boolean): { atMs: number; m: SipRequest | SipResponse; bytes: Buffer }[] {
  return net.to(to).filter((x) => pick(x.message)).map((x) => ({ atMs: x.atMs, m: x.message, bytes: x.bytes }));
}
const is = (method: string) => (m: SipRequest | SipResponse): boolean => m.kind === 'request' && m.method === method;
const ok2xx = (m: SipRequest | SipResponse): boolean => m.kind === 'response' && m.status === 200 && /INVITE/.test(getHeader(m, 'cseq') ?? '');

describe('dialog state (RFC 3261 section 12.1)', () => {
  const invite = parseMessage(Buffer.from([
    'INVITE sips:srs@192.0.2.10 SIP/2.0', 'Via: SIP/2.0/TLS 192.0.2.40:5061;branch=z9hG4bKd1', 'Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>',
    'From: "UA" <sip:ua@192.0.2.40>;tag=ua1', 'To: <sips:srs@192.0.2.10>', 'Call-ID: d1', 'CSeq: 41 INVITE',
    'Contact: <sips:ua@192.0.2.40:5061>', 'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest;

  it('as UAS: route set in order, remote target from Contact, remote CSeq, secure over TLS with sips', () => {
    const s = uasDialogInit(invite, { transport: 'TLS', address: UA, port: 40000 }, 'cs1', '<sips:cs@192.0.2.10>');
    expect(s).toMatchObject({ callId: 'd1', localTag: 'cs1', remoteTag: 'ua1', remoteSeq: 41, localSeq: undefined, secure: true, remoteTarget: 'sips:ua@192.0.2.40:5061' });
    expect(s.routeSet).toEqual(['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
    expect(s.local).toBe('<sips:srs@192.0.2.10>;tag=cs1');
  });

  it('as UAC: route set reversed from the 2xx Record-Route, remote target and tag from the 2xx', () => {
    const response = parseMessage(Buffer.from([
      'SIP/2.0 200 OK', 'Via: SIP/2.0/TLS 192.0.2.40:5061;branch=z9hG4bKd1', 'Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>',
      'From: "UA" <sip:ua@192.0.2.40>;tag=ua1', 'To: <sips:srs@192.0.2.10>;tag=srs9', 'Call-ID: d1', 'CSeq: 41 INVITE',
      'Contact: <sips:srs@192.0.2.10:5061>', 'Content-Length: 0', '', ''].join('\r\n'))) as SipResponse;
    const s = uacDialogInit(invite, response, { transport: 'TLS', address: SRS, port: 5061 }, '<sips:ua@192.0.2.40>');
    expect(s).toMatchObject({ localTag: 'ua1', remoteTag: 'srs9', localSeq: 41, remoteSeq: undefined, secure: true, remoteTarget: 'sips:srs@192.0.2.10:5061' });
    expect(s.routeSet).toEqual(['<sip:p2.example;lr>', '<sip:p1.example;lr>']);
  });
});

describe('UAS dialog: 2xx until the ACK', () => {
  it('stops retransmitting at the ACK and says so', async () => {
    const acks: number[] = [];
    const { uas } = await call();
    uas.on('ack', () => { acks.push(clock.monoMs()); });
    clock.advance(10_000);
    expect(sent(UA, ok2xx)).toHaveLength(1);
    expect(uas.awaitingAck).toBe(false);
    expect(uas.state).toBe('confirmed');
  });

  it('takes an ACK of the dialog whose CSeq is not its INVITE\'s (as published BroadWorks traces send) as the ACK', async () => {
    // The UAC's ACK is replaced by one with another CSeq number, as in the BroadWorks SIPREC trace.
    let replaced = 0;
    net.drop = (m) => {
      if (m.message.kind !== 'request' || m.message.method !== 'ACK' || replaced > 0) return false;
      replaced++;
      net.carry(m.from, m.to, Buffer.from(m.bytes.toString('latin1').replace(/^CSeq: \d+ ACK/m, 'CSeq: 832544241 ACK'), 'latin1'));
      return true;
    };
    const { uas, ended } = await call();
    clock.advance(40_000);
    expect(replaced).toBe(1);
    expect(sent(UA, ok2xx)).toHaveLength(1);
    expect(uas.state).toBe('confirmed');
    expect(ended).toEqual([]);
  });

  it('retransmits the same 2xx with T1 doubling to T2 when the ACK is lost, the UAC ACKs each, and the dialog ends with BYE after 64*T1', async () => {
    net.drop = (m) => m.message.kind === 'request' && m.message.method === 'ACK';
    const { uas, uac, ended } = await call();
    const uacEnded: DialogEndReason[] = [];
    uac.on('terminated', (r) => { uacEnded.push(r); });
    clock.advance(40_000);
    const oks = sent(UA, ok2xx);
    expect(oks.map((o) => o.atMs)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    for (const o of oks) expect(o.bytes.equals(oks[0]?.bytes ?? Buffer.alloc(0))).toBe(true);
    // One ACK per 2xx, each the very same request (RFC 3261 section 13.2.2.4).
    const acks = sent(SRS, is('ACK'));
    expect(acks).toHaveLength(oks.length);
    expect(new Set(acks.map((a) => a.bytes.toString())).size).toBe(1);
    expect(ended).toEqual(['no-ack']);
    expect(uas.state).toBe('terminated');
    const bye = sent(UA, is('BYE'))[0];
    expect(bye?.atMs).toBe(32_000);
    expect(getHeader(bye?.m ?? { headers: [] }, 'reason')).toMatch(/no ACK/);
    expect(uacEnded).toEqual(['bye']);
  });

  it('on TCP sends no retransmission and ends after 64*T1 without ACK', async () => {
    net.drop = (m) => m.message.kind === 'request' && m.message.method === 'ACK';
    const { ended } = await call('TCP');
    clock.advance(31_999);
    expect(ended).toEqual([]);
    clock.advance(1);
    expect(sent(UA, ok2xx)).toHaveLength(1);
    expect(ended).toEqual(['no-ack']);
  });
});

describe('in-dialog requests', () => {
  it('are built from the dialog: remote target, tags, CSeq counting up, Max-Forwards; the peer\'s dialog gets them', async () => {
    const { uac, uas } = await call();
    const seen: SipRequest[] = [];
    uas.on('request', (r) => { seen.push(r.message); r.respond(200, 'OK'); });
    const info = uac.request('INFO', { body: Buffer.from('x'), contentType: 'application/x-test' });
    clock.advance(0);
    expect((await info).status).toBe(200);
    const again = uac.request('INFO');
    clock.advance(0);
    await again;
    expect(seen.map((m) => getHeader(m, 'cseq'))).toEqual(['2 INFO', '3 INFO']);
    const first = seen[0];
    expect(first?.uri).toBe(`sip:cs@${SRS}:5060`);
    expect(getHeader(first ?? { headers: [] }, 'to')).toMatch(new RegExp(`;tag=${uas.localTag}$`));
    expect(getHeader(first ?? { headers: [] }, 'from')).toMatch(new RegExp(`;tag=${uac.localTag}$`));
    expect(getHeader(first ?? { headers: [] }, 'max-forwards')).toBe('70');
    expect(getHeaders(first ?? { headers: [] }, 'via')).toHaveLength(1);
    expect(uas.remoteSeq).toBe(3);
  });

  it('answers a request with a lower CSeq 500 (RFC 3261 section 12.2.2)', async () => {
    const { uac, uas } = await call();
    uas.on('request', (r) => { r.respond(200, 'OK'); });
    const p = uac.request('INFO');
    clock.advance(0);
    await p;
    srsWire.inject([
      `INFO sip:cs@${SRS}:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${UA}:5060;branch=z9hG4bKlow`, `From: <sip:ua@${UA}>;tag=${uac.localTag}`,
      `To: <sip:srs@${SRS}>;tag=${uas.localTag}`, `Call-ID: ${uac.callId}`, 'CSeq: 1 INFO', 'Content-Length: 0', '', ''], { transport: 'UDP', address: UA, port: 5060 });
    const r = sent(UA, (m) => m.kind === 'response' && getHeader(m, 'cseq') === '1 INFO')[0]?.m;
    expect(r?.kind === 'response' ? r.status : 0).toBe(500);
  });

  it('re-INVITE from callseal as UAS of the call: the peer\'s 2xx is ACKed by the dialog and the remote target follows its Contact', async () => {
    const { uac, uas } = await call();
    let acked = false;
    uac.on('request', (r) => { r.respond(200, 'OK', { headers: [{ name: 'contact', value: `<sip:moved@${UA}:5060>` }] }); });
    uac.on('ack', () => { acked = true; });
    const p = uas.request('INVITE');
    clock.advance(0);
    expect((await p).status).toBe(200);
    expect(acked).toBe(true);
    expect(uas.remoteTarget).toBe(`sip:moved@${UA}:5060`);
    expect(getHeader(sent(UA, is('INVITE'))[0]?.m ?? { headers: [] }, 'contact')).toBe(`<sip:cs@${SRS}:5060>`);
  });

  it('answers a second re-INVITE while the first waits 500 with Retry-After, and one crossing callseal\'s own 491', async () => {
    const { uac, uas } = await call();
    const held: ((s: number) => void)[] = [];
    uas.on('request', (r) => { held.push((s) => { r.respond(s, 'x'); }); });
    const a = uac.request('INVITE');
    clock.advance(0);
    const b = uac.request('INVITE');
    clock.advance(0);
    expect((await b).status).toBe(500);
    held[0]?.(200);
    clock.advance(0);
    expect((await a).status).toBe(200);
    uac.on('request', () => undefined);
    const mine = uac.request('INVITE');
    clock.advance(0);
    const crossing = uas.request('INVITE');
    clock.advance(0);
    expect((await crossing).status).toBe(491);
    held[1]?.(200);
    clock.advance(0);
    expect((await mine).status).toBe(200);
  });

  it('resolves with a local 408 when the peer is gone, and the dialog ends (RFC 3261 section 12.2.1.2)', async () => {
    const { uas } = await call();
    net.drop = () => true;
    const ended: DialogEndReason[] = [];
    uas.on('terminated', (r) => { ended.push(r); });
    const p = uas.request('INFO');
    clock.advance(32_000);
    expect((await p).status).toBe(408);
    expect(ended).toEqual(['gone']);
  });

  it('BYE from the peer: 200, the dialog ends with the BYE, later requests get 481', async () => {
    const { uac, uas } = await call();
    let byReason: string | undefined;
    uas.on('terminated', (r, req) => { byReason = `${r}:${getHeader(req ?? { headers: [] }, 'reason') ?? ''}`; });
    const bye = uac.bye({ headers: [{ name: 'reason', value: 'SIP;cause=200;text="done"' }] });
    expect(uac.state).toBe('terminated');
    clock.advance(0);
    expect((await bye).status).toBe(200);
    expect(byReason).toBe('bye:SIP;cause=200;text="done"');
    expect(srs.dialogs.size).toBe(0);
    await expect(uac.request('INFO')).rejects.toMatchObject({ code: 'CS_STATE_CLOSED' });
  });
});

describe('re-INVITE and UPDATE from the peer: the 2xx goes through the dialog', () => {
  /** The re-INVITE's 2xx responses sent to the UA (CSeq above the INVITE that made the dialog). */
  const reinvite2xx = (cseq: number) => (m: SipRequest | SipResponse): boolean => ok2xx(m) && getHeader(m, 'cseq') === `${cseq} INVITE`;

  it('retransmits a re-INVITE\'s 2xx with T1 doubling to T2 while its ACK is lost, then sends BYE with Reason after 64*T1', async () => {
    const { uac, uas, ended } = await call();
    uas.on('request', (r) => { r.respond(200, 'OK'); });
    clock.advance(1000);
    net.drop = (m) => m.message.kind === 'request' && m.message.method === 'ACK';
    const p = uac.request('INVITE');
    clock.advance(0);
    expect((await p).status).toBe(200);
    const cseq = uac.localSeq ?? 0;
    expect(uas.awaitingAck).toBe(true);
    clock.advance(40_000);
    const oks = sent(UA, reinvite2xx(cseq));
    expect(oks.map((o) => o.atMs)).toEqual([1000, 1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500]);
    for (const o of oks) expect(o.bytes.equals(oks[0]?.bytes ?? Buffer.alloc(0))).toBe(true);
    expect(ended).toEqual(['no-ack']);
    const bye = sent(UA, is('BYE'))[0];
    expect(bye?.atMs).toBe(33_000);
    expect(getHeader(bye?.m ?? { headers: [] }, 'reason')).toMatch(/^SIP;cause=408;text="no ACK"$/);
    expect(srs.dialogs.size).toBe(0);
  });

  it('stops at the re-INVITE\'s ACK, and the next re-INVITE is taken (the dialog is not left pending)', async () => {
    const { uac, uas, ended } = await call();
    const methods: string[] = [];
    uas.on('request', (r) => {
      methods.push(r.message.method);
      r.respond(200, 'OK');
    });
    const first = uac.request('INVITE');
    clock.advance(0);
    expect((await first).status).toBe(200);
    clock.advance(10_000);
    expect(uas.awaitingAck).toBe(false);
    expect(sent(UA, reinvite2xx(uac.localSeq ?? 0))).toHaveLength(1);
    const second = uac.request('INVITE');
    clock.advance(0);
    expect((await second).status).toBe(200);
    clock.advance(40_000);
    expect(methods).toEqual(['INVITE', 'INVITE']);
    expect(ended).toEqual([]);
    expect(uas.state).toBe('confirmed');
  });

  it('a re-INVITE refused (488) waits for no ACK beyond its transaction, and the dialog goes on', async () => {
    const { uac, uas, ended } = await call();
    uas.on('request', (r) => { r.respond(488, 'Not Acceptable Here'); });
    const p = uac.request('INVITE');
    clock.advance(0);
    expect((await p).status).toBe(488);
    expect(uas.awaitingAck).toBe(false);
    clock.advance(40_000);
    expect(ended).toEqual([]);
    expect(sent(UA, is('BYE'))).toHaveLength(0);
  });

  it('UPDATE: answered once through the dialog, which counts its CSeq and waits for no ACK (RFC 3311 section 5.2)', async () => {
    const { uac, uas, ended } = await call();
    uas.on('request', (r) => { r.respond(200, 'OK'); });
    const p = uac.request('UPDATE');
    clock.advance(0);
    expect((await p).status).toBe(200);
    clock.advance(40_000);
    expect(sent(UA, (m) => m.kind === 'response' && /UPDATE/.test(getHeader(m, 'cseq') ?? ''))).toHaveLength(1);
    expect(uas.awaitingAck).toBe(false);
    expect(ended).toEqual([]);
    expect(uas.remoteSeq).toBe(uac.localSeq);
  });
});
