/**
 * Server transactions on the fake clock (RFC 3261 section 17.2, RFC 6026): timer values,
 * retransmission counts, absorbed request retransmissions, lost ACKs, matching and admission.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../common/fake-clock.ts';
import { silentLogger } from '../common/log.ts';
import { MemoryNetwork, type MemoryWire } from '../../test/helpers/sip-wire.ts';
import { DEFAULT_TIMERS, SipStack, type ServerRequest, type SipStackOptions } from './stack.ts';
import { SourceAllowlist } from './admission.ts';
import { getHeader, type SipResponse } from './model.ts';
import type { Remote, TransportName } from './transport.ts';

const PEER = '192.0.2.20';

let clock: FakeClock;
let net: MemoryNetwork;
let wire: MemoryWire;
let stack: SipStack;
let requests: ServerRequest[];

function setup(options: SipStackOptions = {}): void {
  clock = new FakeClock(0);
  net = new MemoryNetwork(clock);
  wire = net.endpoint('192.0.2.10');
  stack = new SipStack(wire, silentLogger(), DEFAULT_TIMERS, { scheduler: clock, ...options });
  requests = [];
  stack.setUser({ onRequest: (r) => { requests.push(r); } });
}

beforeEach(() => { setup(); });

function peer(transport: TransportName = 'UDP', address = PEER): Remote {
  return { transport, address, port: 5070 };
}

interface Req { branch?: string; cseq?: number; callId?: string; toTag?: string; transport?: TransportName; sentBy?: string; from?: string }

function request(method: string, o: Req = {}): string[] {
  const transport = o.transport ?? 'UDP';
  return [
    `${method} sip:srs@192.0.2.10 SIP/2.0`,
    `Via: SIP/2.0/${transport} ${o.sentBy ?? `${PEER}:5070`};branch=${o.branch ?? 'z9hG4bKa1'}`,
    `From: <sip:src@${PEER}>;tag=${o.from ?? 'f1'}`, `To: <sip:srs@192.0.2.10>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? 'call-1'}`, `CSeq: ${o.cseq ?? 1} ${method}`, 'Max-Forwards: 70', 'Content-Length: 0', '', '',
  ];
}

/** Responses callseal sent to the peer, with the fake time they left. */
function responses(status?: number): { status: number; atMs: number; response: SipResponse }[] {
  return net.to(PEER).flatMap((m) => (m.message.kind === 'response' && (status === undefined || m.message.status === status)
    ? [{ status: m.message.status, atMs: m.atMs, response: m.message }] : []));
}

describe('timer values', () => {
  it('are RFC 3261 defaults: T1 500 ms, T2 4 s, T4 5 s', () => {
    expect(DEFAULT_TIMERS).toEqual({ t1: 500, t2: 4000, t4: 5000 });
  });
});

describe('non-INVITE server transaction', () => {
  it('answers retransmissions with the final response and leaves after timer J = 64*T1 on UDP', () => {
    wire.inject(request('OPTIONS'), peer());
    expect(requests).toHaveLength(1);
    requests[0]?.respond(200, 'OK');
    clock.advance(1000);
    wire.inject(request('OPTIONS'), peer());
    expect(requests).toHaveLength(1);
    expect(responses(200).map((r) => r.atMs)).toEqual([0, 1000]);
    expect(stack.stats.retransmissions).toBe(1);
    clock.advance(30_999);
    expect(stack.serverTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.serverTransactionCount).toBe(0);
  });

  it('absorbs retransmissions before any response (Trying) and answers them with a provisional one in Proceeding', () => {
    wire.inject(request('INFO'), peer());
    wire.inject(request('INFO'), peer());
    expect(responses()).toEqual([]);
    requests[0]?.respond(180, 'Ringing');
    wire.inject(request('INFO'), peer());
    expect(responses().map((r) => r.status)).toEqual([180, 180]);
    expect(requests).toHaveLength(1);
  });

  it('leaves at once on a reliable transport (timer J = 0)', () => {
    wire.inject(request('OPTIONS', { transport: 'TCP' }), peer('TCP'));
    expect(stack.serverTransactionCount).toBe(1);
    requests[0]?.respond(200, 'OK');
    expect(stack.serverTransactionCount).toBe(0);
  });

  it('answers 500 when the user never answers (after 360*T1) and then leaves', () => {
    wire.inject(request('OPTIONS'), peer());
    clock.advance(360 * 500 - 1);
    expect(responses()).toEqual([]);
    clock.advance(1);
    expect(responses().map((r) => r.status)).toEqual([500]);
    expect(stack.stats.stale).toBe(1);
    clock.advance(64 * 500);
    expect(stack.serverTransactionCount).toBe(0);
  });
});

describe('INVITE server transaction', () => {
  it('sends 100 Trying at once and repeats the last provisional response to retransmissions', () => {
    wire.inject(request('INVITE'), peer());
    expect(responses().map((r) => r.status)).toEqual([100]);
    expect(getHeader(responses()[0]?.response ?? { headers: [] }, 'to')).not.toMatch(/tag=/);
    requests[0]?.respond(180, 'Ringing', { toTag: 'srs1' });
    wire.inject(request('INVITE'), peer());
    expect(responses().map((r) => r.status)).toEqual([100, 180, 180]);
    expect(requests).toHaveLength(1);
  });

  it('retransmits a non-2xx final response on UDP with timer G (T1 doubling to T2) until timer H = 64*T1 when the ACK is lost', () => {
    wire.inject(request('INVITE'), peer());
    requests[0]?.respond(486, 'Busy Here');
    clock.advance(40_000);
    // 500, 1000, 2000, then 4000 each: 0.5, 1.5, 3.5, 7.5, ... 31.5 s after the response.
    expect(responses(486).map((r) => r.atMs)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(stack.serverTransactionCount).toBe(0);
  });

  it('stops retransmitting at the ACK (Confirmed) and absorbs ACKs for timer I = T4', () => {
    wire.inject(request('INVITE'), peer());
    requests[0]?.respond(486, 'Busy Here');
    clock.advance(2000);
    wire.inject(request('ACK'), peer());
    wire.inject(request('ACK'), peer());
    clock.advance(4999);
    expect(responses(486)).toHaveLength(3);
    expect(stack.serverTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.serverTransactionCount).toBe(0);
    // The ACK for a non-2xx response is the transaction's own: the user never sees it.
    expect(requests.map((r) => r.message.method)).toEqual(['INVITE']);
  });

  it('answers a retransmitted INVITE in Completed with the final response again', () => {
    wire.inject(request('INVITE'), peer());
    requests[0]?.respond(603, 'Decline');
    clock.advance(100);
    wire.inject(request('INVITE'), peer());
    expect(responses(603).map((r) => r.atMs)).toEqual([0, 100]);
  });

  it('on TCP sends no retransmissions, waits for the ACK until timer H, and ends at the ACK (timer I = 0)', () => {
    wire.inject(request('INVITE', { transport: 'TCP' }), peer('TCP'));
    requests[0]?.respond(486, 'Busy Here');
    clock.advance(31_999);
    expect(responses(486)).toHaveLength(1);
    expect(stack.serverTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.serverTransactionCount).toBe(0);

    wire.inject(request('INVITE', { transport: 'TCP', branch: 'z9hG4bKa2' }), peer('TCP'));
    requests[1]?.respond(486, 'Busy Here');
    wire.inject(request('ACK', { transport: 'TCP', branch: 'z9hG4bKa2' }), peer('TCP'));
    expect(stack.serverTransactionCount).toBe(0);
  });

  it('in Accepted absorbs INVITE retransmissions, sends the user\'s 2xx retransmissions byte for byte, passes ACKs to the user, leaves after timer L', () => {
    wire.inject(request('INVITE'), peer());
    const first = requests[0]?.respond(200, 'OK', { toTag: 'srs1' });
    wire.inject(request('INVITE'), peer());
    expect(responses(200)).toHaveLength(1);
    requests[0]?.respond(200, 'OK', { toTag: 'other' });
    const sent = net.to(PEER).filter((m) => m.message.kind === 'response' && m.message.status === 200);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.bytes.equals(sent[0]?.bytes ?? Buffer.alloc(0))).toBe(true);
    expect(getHeader(first ?? { headers: [] }, 'to')).toMatch(/tag=srs1/);
    // An ACK with the INVITE's branch matches the transaction (RFC 6026 section 8.7) and goes up.
    wire.inject(request('ACK', { toTag: 'srs1' }), peer());
    expect(requests.map((r) => r.message.method)).toEqual(['INVITE', 'ACK']);
    clock.advance(64 * 500 - 1);
    expect(stack.serverTransactionCount).toBe(1);
    clock.advance(1);
    expect(stack.serverTransactionCount).toBe(0);
  });

  it('ignores responses after the final one, and a 2xx ACK with its own branch reaches the user without a transaction', () => {
    wire.inject(request('INVITE'), peer());
    requests[0]?.respond(404, 'Not Found');
    requests[0]?.respond(200, 'OK');
    expect(responses().map((r) => r.status)).toEqual([100, 404]);
    wire.inject(request('ACK', { branch: 'z9hG4bKfresh', toTag: 'x' }), peer());
    expect(requests.map((r) => r.message.method)).toEqual(['INVITE', 'ACK']);
  });
});

describe('matching (RFC 3261 section 17.2.3)', () => {
  it('tells transactions apart by branch, sent-by and method; CANCEL finds its INVITE', () => {
    wire.inject(request('INVITE'), peer());
    wire.inject(request('INVITE', { sentBy: '198.51.100.1:5060' }), peer());
    wire.inject(request('OPTIONS'), peer());
    expect(requests).toHaveLength(3);
    expect(stack.serverTransactionCount).toBe(3);
    wire.inject(request('CANCEL'), peer());
    const cancel = requests[3]?.message;
    if (cancel?.method !== 'CANCEL') throw new TypeError('no CANCEL delivered');
    const pending = stack.pendingInviteFor(cancel);
    expect(pending?.message.method).toBe('INVITE');
    expect(getHeader(pending?.message ?? cancel, 'via')).toMatch(/192\.0\.2\.20:5070/);
    pending?.respond(487, 'Request Terminated');
    expect(stack.pendingInviteFor(cancel)).toBeUndefined();
  });

  it('matches RFC 2543 requests (no magic cookie) by Call-ID, CSeq, From tag and Via', () => {
    wire.inject(request('OPTIONS', { branch: 'old1' }), peer());
    wire.inject(request('OPTIONS', { branch: 'old1' }), peer());
    wire.inject(request('OPTIONS', { branch: 'old1', from: 'f2' }), peer());
    expect(requests).toHaveLength(2);
  });
});

describe('admission', () => {
  it('answers sources outside the allowlist with a stateless 403 and keeps no state', () => {
    setup({ allow: new SourceAllowlist(['192.0.2.99/32']) });
    wire.inject(request('INVITE'), peer());
    expect(responses().map((r) => r.status)).toEqual([403]);
    expect(stack.serverTransactionCount).toBe(0);
    expect(requests).toEqual([]);
    expect(stack.stats.refusedNotAllowed).toBe(1);
  });

  it('answers 503 with Retry-After beyond the table and beyond a source\'s share', () => {
    setup({ maxServerTransactions: 4, maxServerTransactionsPerSource: 2 });
    for (let i = 0; i < 3; i++) wire.inject(request('OPTIONS', { branch: `z9hG4bKs${i}` }), peer());
    expect(responses(503)).toHaveLength(1);
    expect(getHeader(responses(503)[0]?.response ?? { headers: [] }, 'retry-after')).toBe('5');
    for (let i = 0; i < 3; i++) wire.inject(request('OPTIONS', { branch: `z9hG4bKt${i}` }), peer('UDP', '192.0.2.21'));
    expect(stack.serverTransactionCount).toBe(4);
    expect(stack.stats.overloaded).toBe(2);
  });

  it('answers a malformed request with the parser\'s status and a Warning', () => {
    const lines = request('OPTIONS');
    lines[5] = 'CSeq: 1 INFO';
    wire.inject(lines, peer());
    const r = responses()[0];
    expect(r?.status).toBe(400);
    expect(getHeader(r?.response ?? { headers: [] }, 'warning')).toMatch(/^399 callseal "CSeq method INFO/);
    expect(stack.stats.malformed).toBe(1);
  });

  it('answers 500 when the user throws', () => {
    stack.setUser({ onRequest: () => { throw new RangeError('boom'); } });
    wire.inject(request('OPTIONS'), peer());
    expect(responses().map((r) => r.status)).toEqual([500]);
  });
});
