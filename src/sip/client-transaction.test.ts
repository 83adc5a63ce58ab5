/**
 * Client transactions on the fake clock (RFC 3261 section 17.1, RFC 6026): callseal's Via,
 * timers A/B/D and E/F/K with their retransmission counts, 1xx then 2xx, 2xx retransmissions
 * passed to the user, the ACK of a non-2xx response, CANCEL, and timeouts as a local 408.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../common/fake-clock.ts';
import { silentLogger } from '../common/log.ts';
import { MemoryNetwork, type MemoryWire } from '../../test/helpers/sip-wire.ts';
import { DEFAULT_TIMERS, SipStack, isLocalResponse } from './stack.ts';
import { getHeader, getHeaders, type SipRequest, type SipResponse } from './model.ts';
import { parseVia } from './parse.ts';
import type { Remote, TransportName } from './transport.ts';

const PEER = '192.0.2.30';

let clock: FakeClock;
let net: MemoryNetwork;
let wire: MemoryWire;
let stack: SipStack;
let strays: SipResponse[];

beforeEach(() => {
  clock = new FakeClock(0);
  net = new MemoryNetwork(clock);
  wire = net.endpoint('192.0.2.10', 5080);
  stack = new SipStack(wire, silentLogger(), DEFAULT_TIMERS, { scheduler: clock });
  strays = [];
  stack.setUser({ onRequest: () => undefined, onStrayResponse: (r) => { strays.push(r); } });
});

function peer(transport: TransportName = 'UDP'): Remote {
  return { transport, address: PEER, port: 5060 };
}

function outgoing(method: string, cseq = 1): SipRequest {
  return {
    kind: 'request', method, uri: `sip:uas@${PEER}`, version: 'SIP/2.0', body: Buffer.alloc(0),
    headers: [
      { name: 'route', value: `<sip:${PEER};lr>` },
      { name: 'max-forwards', value: '70' }, { name: 'from', value: '<sip:callseal@192.0.2.10>;tag=cs1' },
      { name: 'to', value: `<sip:uas@${PEER}>` }, { name: 'call-id', value: 'uac-1' }, { name: 'cseq', value: `${cseq} ${method}` },
    ],
  };
}

/** Requests callseal put on the wire, by method. */
function sent(method: string): { atMs: number; request: SipRequest }[] {
  return net.to(PEER).flatMap((m) => (m.message.kind === 'request' && m.message.method === method ? [{ atMs: m.atMs, request: m.message }] : []));
}

/** The peer answers `req` with `status` (To tag `uas1` on everything but 100). */
function answer(req: SipRequest, status: number, reason: string, transport: TransportName = 'UDP'): void {
  const to = getHeader(req, 'to') ?? '';
  wire.inject([
    `SIP/2.0 ${status} ${reason}`, ...getHeaders(req, 'via').map((v) => `Via: ${v}`), `From: ${getHeader(req, 'from') ?? ''}`,
    `To: ${status > 100 && !to.includes('tag=') ? `${to};tag=uas1` : to}`, `Call-ID: ${getHeader(req, 'call-id') ?? ''}`,
    `CSeq: ${getHeader(req, 'cseq') ?? ''}`, ...(status >= 200 && status < 300 && req.method === 'INVITE' ? [`Contact: <sip:uas@${PEER}:5060>`] : []),
    'Content-Length: 0', '', '',
  ], peer(transport));
}

describe('the Via callseal writes', () => {
  it('is the only Via: sent-by of the transport, a fresh branch with the magic cookie, rport', () => {
    const req = outgoing('OPTIONS');
    const withForeignVia = { ...req, headers: [{ name: 'via', value: 'SIP/2.0/UDP 10.9.9.9:1;branch=z9hG4bKmine' }, ...req.headers] };
    const a = stack.request(withForeignVia, peer());
    const b = stack.request(outgoing('OPTIONS', 2), peer('TCP'));
    const vias = [a.request, b.request].map((r) => getHeaders(r, 'via'));
    expect(vias.map((v) => v.length)).toEqual([1, 1]);
    const [va, vb] = vias.map((v) => parseVia(v[0] ?? ''));
    expect(va).toMatchObject({ transport: 'UDP', host: '192.0.2.10', port: 5080 });
    expect(vb).toMatchObject({ transport: 'TCP', host: '192.0.2.10', port: 5080 });
    expect(va?.branch).toMatch(/^z9hG4bK[0-9a-f]{20}$/);
    expect(va?.branch).not.toBe(vb?.branch);
    expect(va?.params.has('rport')).toBe(true);
  });
});

describe('non-INVITE client transaction', () => {
  it('retransmits with timer E (T1 doubling to T2) and times out with timer F = 64*T1 as a local 408', async () => {
    const r = stack.request(outgoing('OPTIONS'), peer());
    clock.advance(40_000);
    expect(sent('OPTIONS').map((s) => s.atMs)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    const final = await r.final;
    expect(final.status).toBe(408);
    expect(isLocalResponse(final)).toBe(true);
    expect(stack.clientTransactionCount).toBe(0);
    expect(stack.stats.clientTimeouts).toBe(1);
  });

  it('retransmits every T2 once a provisional response came', () => {
    const r = stack.request(outgoing('INFO'), peer());
    clock.advance(600);
    answer(r.request, 100, 'Trying');
    clock.advance(10_000);
    // 500 (Trying), then 1000 and 2000 doubling were cut by Proceeding: T2 from the retransmission at 1.5 s.
    expect(sent('INFO').map((s) => s.atMs)).toEqual([0, 500, 1500, 5500, 9500]);
  });

  it('resolves with the final response, absorbs its retransmissions, and leaves after timer K = T4 (UDP) or at once (TCP)', async () => {
    const seen: number[] = [];
    const r = stack.request(outgoing('BYE'), peer(), { onResponse: (x) => { seen.push(x.status); } });
    answer(r.request, 200, 'OK');
    expect((await r.final).status).toBe(200);
    answer(r.request, 200, 'OK');
    expect(seen).toEqual([200]);
    clock.advance(4999);
    expect(stack.clientTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.clientTransactionCount).toBe(0);
    expect(strays).toHaveLength(0);

    const t = stack.request(outgoing('BYE', 2), peer('TCP'));
    clock.advance(31_999);
    expect(sent('BYE').filter((s) => s.request.headers.some((h) => h.value.startsWith('SIP/2.0/TCP')))).toHaveLength(1);
    answer(t.request, 200, 'OK', 'TCP');
    expect(stack.clientTransactionCount).toBe(0);
  });

  it('times out on TCP after 64*T1 without retransmitting', async () => {
    const r = stack.request(outgoing('BYE'), peer('TCP'));
    clock.advance(31_999);
    expect(sent('BYE')).toHaveLength(1);
    clock.advance(1);
    expect((await r.final).status).toBe(408);
  });

  it('keeps the legacy sendRequest: undefined on timeout', async () => {
    const p = stack.sendRequest(outgoing('BYE'), peer());
    clock.advance(32_000);
    expect(await p).toBeUndefined();
  });
});

describe('INVITE client transaction', () => {
  it('retransmits with timer A doubling without cap and times out with timer B = 64*T1', async () => {
    const r = stack.request(outgoing('INVITE'), peer());
    clock.advance(40_000);
    expect(sent('INVITE').map((s) => s.atMs)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect((await r.final).status).toBe(408);
  });

  it('stops retransmitting at a provisional response; passes 1xx, 2xx and 2xx retransmissions to the user until timer M', async () => {
    const seen: number[] = [];
    const r = stack.request(outgoing('INVITE'), peer(), { onResponse: (x) => { seen.push(x.status); } });
    answer(r.request, 180, 'Ringing');
    clock.advance(60_000);
    expect(sent('INVITE')).toHaveLength(1);
    answer(r.request, 200, 'OK');
    expect((await r.final).status).toBe(200);
    clock.advance(1000);
    answer(r.request, 200, 'OK');
    expect(seen).toEqual([180, 200, 200]);
    // The transaction sends no ACK for a 2xx: that is the dialog's (RFC 3261 section 13.2.2.4).
    expect(sent('ACK')).toEqual([]);
    clock.advance(64 * 500 - 1000);
    expect(stack.clientTransactionCount).toBe(0);
    answer(r.request, 200, 'OK');
    expect(strays.map((x) => x.status)).toEqual([200]);
  });

  it('ACKs a non-2xx final response itself (RFC 3261 section 17.1.1.3), again for each retransmission, until timer D', async () => {
    const seen: number[] = [];
    const r = stack.request(outgoing('INVITE', 7), peer(), { onResponse: (x) => { seen.push(x.status); } });
    answer(r.request, 486, 'Busy Here');
    expect((await r.final).status).toBe(486);
    const ack = sent('ACK')[0]?.request;
    expect(ack?.uri).toBe(r.request.uri);
    expect(getHeaders(ack ?? r.request, 'via')).toEqual(getHeaders(r.request, 'via').slice(0, 1));
    expect(getHeader(ack ?? r.request, 'to')).toMatch(/;tag=uas1$/);
    expect(getHeader(ack ?? r.request, 'cseq')).toBe('7 ACK');
    expect(getHeader(ack ?? r.request, 'from')).toBe(getHeader(r.request, 'from'));
    expect(getHeaders(ack ?? r.request, 'route')).toEqual([`<sip:${PEER};lr>`]);
    answer(r.request, 486, 'Busy Here');
    expect(sent('ACK')).toHaveLength(2);
    expect(seen).toEqual([486]);
    clock.advance(31_999);
    expect(stack.clientTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.clientTransactionCount).toBe(0);
  });

  it('on TCP leaves at once after a non-2xx (timer D = 0)', () => {
    const r = stack.request(outgoing('INVITE'), peer('TCP'));
    answer(r.request, 503, 'Service Unavailable', 'TCP');
    expect(sent('ACK')).toHaveLength(1);
    expect(stack.clientTransactionCount).toBe(0);
  });

  it('cancels after the first provisional response with the INVITE\'s branch (RFC 3261 section 9.1)', async () => {
    const r = stack.request(outgoing('INVITE'), peer());
    r.cancel();
    expect(sent('CANCEL')).toEqual([]);
    answer(r.request, 180, 'Ringing');
    const cancel = sent('CANCEL')[0]?.request;
    expect(getHeader(cancel ?? r.request, 'via')).toBe(getHeader(r.request, 'via'));
    expect(getHeader(cancel ?? r.request, 'cseq')).toBe('1 CANCEL');
    expect(getHeader(cancel ?? r.request, 'to')).toBe(getHeader(r.request, 'to'));
    r.cancel();
    expect(sent('CANCEL')).toHaveLength(1);
    if (cancel) answer(cancel, 200, 'OK');
    answer(r.request, 487, 'Request Terminated');
    expect((await r.final).status).toBe(487);
    expect(sent('ACK')).toHaveLength(1);
  });

  it('gives up on an INVITE that rings for ever (timer C, 360*T1) with a 408', async () => {
    const r = stack.request(outgoing('INVITE'), peer());
    answer(r.request, 180, 'Ringing');
    clock.advance(360 * 500);
    expect((await r.final).status).toBe(408);
  });

  it('rejects pending requests with InvalidStateError when the stack closes', async () => {
    const r = stack.request(outgoing('INVITE'), peer());
    stack.close();
    await expect(r.final).rejects.toMatchObject({ code: 'CS_STATE_CLOSED' });
    expect(clock.pending).toBe(0);
  });
});
