/**
 * The UAS core (RFC 3261 section 8.2) on the fake clock: method, URI scheme, Require, dialog,
 * merged-request and body checks, OPTIONS, CANCEL of a pending INVITE, and the one mapping of
 * errors to responses.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../common/fake-clock.ts';
import { silentLogger } from '../common/log.ts';
import { CallsealError } from '../common/errors.ts';
import { MemoryNetwork, type MemoryWire } from '../../test/helpers/sip-wire.ts';
import { DEFAULT_TIMERS, SipStack } from './stack.ts';
import { UasCore, type IncomingInvite } from './uas.ts';
import { RetryAfterError, SessionIntervalError, errorResponse } from './error-response.ts';
import { getHeader, getHeaders, type SipResponse } from './model.ts';

const PEER = { transport: 'UDP' as const, address: '192.0.2.50', port: 5060 };

let clock: FakeClock;
let net: MemoryNetwork;
let wire: MemoryWire;
let uas: UasCore;
let invites: IncomingInvite[];

beforeEach(() => {
  clock = new FakeClock(0);
  net = new MemoryNetwork(clock);
  wire = net.endpoint('192.0.2.10');
  const stack = new SipStack(wire, silentLogger(), DEFAULT_TIMERS, { scheduler: clock });
  uas = new UasCore({ stack, log: silentLogger(), supported: ['siprec', 'timer'], accept: ['application/sdp', 'multipart/mixed'], contact: () => '<sip:cs@192.0.2.10>' });
  invites = [];
  uas.onInvite((i) => { invites.push(i); });
});

interface R { uri?: string; branch?: string; toTag?: string; cseq?: number; callId?: string; extra?: string[]; body?: string }

function send(method: string, o: R = {}): void {
  const body = o.body ?? '';
  wire.inject([
    `${method} ${o.uri ?? 'sip:srs@192.0.2.10'} SIP/2.0`, `Via: SIP/2.0/UDP 192.0.2.50:5060;branch=${o.branch ?? 'z9hG4bKu1'}`,
    'From: <sip:src@192.0.2.50>;tag=src1', `To: <sip:srs@192.0.2.10>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? 'uas-1'}`, `CSeq: ${o.cseq ?? 1} ${method}`, 'Max-Forwards: 70', ...(o.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ], PEER);
}

function finals(): SipResponse[] {
  return net.to(PEER.address).flatMap((m) => (m.message.kind === 'response' && m.message.status >= 200 ? [m.message] : []));
}

function last(): SipResponse {
  const r = finals().at(-1);
  if (!r) throw new TypeError('no final response');
  return r;
}

describe('RFC 3261 section 8.2 checks', () => {
  it('405 with Allow for known methods not allowed, 501 for unknown ones', () => {
    send('REGISTER');
    expect(last().status).toBe(405);
    expect(getHeaders(last(), 'allow').join(', ')).toBe('INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO');
    send('FROBNICATE', { branch: 'z9hG4bKu2' });
    expect(last().status).toBe(501);
  });

  it('416 for an unknown Request-URI scheme', () => {
    send('OPTIONS', { uri: 'mailto:srs@192.0.2.10' });
    expect(last().status).toBe(416);
  });

  it('420 with Unsupported for a Require not supported', () => {
    send('INVITE', { extra: ['Require: siprec, 100rel'] });
    expect(last().status).toBe(420);
    expect(getHeader(last(), 'unsupported')).toBe('100rel');
    expect(getHeader(last(), 'warning')).toMatch(/^399 callseal "unsupported extension 100rel"$/);
    expect(invites).toEqual([]);
  });

  it('481 for in-dialog requests of no dialog and for BYE, INFO, UPDATE outside one', () => {
    send('BYE', { toTag: 'nope' });
    expect(last().status).toBe(481);
    send('INFO', { branch: 'z9hG4bKu2' });
    expect(last().status).toBe(481);
  });

  it('415 with Accept for an INVITE body not understood', () => {
    send('INVITE', { extra: ['Content-Type: text/plain'], body: 'hello' });
    expect(last().status).toBe(415);
    expect(getHeaders(last(), 'accept').join(', ')).toBe('application/sdp, multipart/mixed');
  });

  it('answers OPTIONS with Allow, Accept and Supported', () => {
    send('OPTIONS');
    expect(last().status).toBe(200);
    expect(getHeaders(last(), 'supported').join(', ')).toBe('siprec, timer');
    expect(getHeaders(last(), 'accept').join(', ')).toBe('application/sdp, multipart/mixed');
    expect(getHeaders(last(), 'allow')).toContain('INVITE');
  });

  it('482 for a merged request: the same INVITE by another path while the first is pending', () => {
    send('INVITE');
    send('INVITE', { branch: 'z9hG4bKother' });
    expect(invites).toHaveLength(1);
    expect(last().status).toBe(482);
  });
});

describe('the order of the checks (RFC 3261 section 8.2: "starting with authentication, then inspecting the method, the header fields, and so on")', () => {
  it('method first (8.2.1): a method not allowed gets 405 even with an unknown URI scheme or Require', () => {
    send('REGISTER', { uri: 'mailto:srs@192.0.2.10' });
    expect(last().status).toBe(405);
    send('SUBSCRIBE', { branch: 'z9hG4bKo2', extra: ['Require: nothingSupportsThis'] });
    expect(last().status).toBe(405);
    send('FROBNICATE', { branch: 'z9hG4bKo3', uri: 'mailto:srs@192.0.2.10' });
    expect(last().status).toBe(501);
  });

  it('Request-URI (8.2.2.1) before Require (8.2.2.3), merged requests (8.2.2.2) before Require, Require before the body (8.2.3)', () => {
    send('OPTIONS', { uri: 'mailto:srs@192.0.2.10', extra: ['Require: nothingSupportsThis'] });
    expect(last().status).toBe(416);
    send('INVITE', { branch: 'z9hG4bKo4', callId: 'order-2' });
    send('INVITE', { branch: 'z9hG4bKo5', callId: 'order-2', extra: ['Require: nothingSupportsThis'] });
    expect(last().status).toBe(482);
    send('INVITE', { branch: 'z9hG4bKo6', callId: 'order-3', extra: ['Require: nothingSupportsThis', 'Content-Type: text/plain'], body: 'hello' });
    expect(last().status).toBe(420);
    send('INVITE', { branch: 'z9hG4bKo7', callId: 'order-4', toTag: 'nope', extra: ['Require: nothingSupportsThis'] });
    expect(last().status).toBe(420);
  });
});

describe('new INVITEs', () => {
  it('go to the handler; responses carry one local tag; a rejection maps the error (422 with Min-SE)', () => {
    send('INVITE');
    const invite = invites[0];
    invite?.respond(180, 'Ringing');
    invite?.reject(new SessionIntervalError(30, 90));
    const tags = net.to(PEER.address).flatMap((m) => (m.message.kind === 'response' && m.message.status > 100 ? [/tag=(\w+)/.exec(getHeader(m.message, 'to') ?? '')?.[1]] : []));
    expect(tags).toEqual([invite?.localTag, invite?.localTag]);
    expect(last().status).toBe(422);
    expect(getHeader(last(), 'min-se')).toBe('90');
    expect(invite?.accept()).toBeUndefined();
  });

  it('get 480 without a handler and 500 with a Warning when the handler throws', () => {
    uas.onInvite(() => { throw new RangeError('handler broke'); });
    send('INVITE');
    expect(last().status).toBe(500);
    expect(getHeader(last(), 'warning')).toBe('399 callseal "handler broke"');
  });
});

describe('CANCEL', () => {
  it('of a pending INVITE: 200 to the CANCEL, 487 to the INVITE, an event; later accept does nothing', () => {
    const cancelled: IncomingInvite[] = [];
    uas.on('cancelled', (i) => { cancelled.push(i); });
    send('INVITE');
    send('CANCEL');
    expect(finals().map((r) => `${r.status} ${getHeader(r, 'cseq') ?? ''}`)).toEqual(['200 1 CANCEL', '487 1 INVITE']);
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]?.cancelled).toBe(true);
    expect(invites[0]?.accept()).toBeUndefined();
    expect(uas.dialogs.size).toBe(0);
  });

  it('after the answer: 200 and no effect; of no INVITE: 481', () => {
    send('INVITE');
    invites[0]?.accept();
    send('CANCEL');
    expect(last().status).toBe(200);
    expect(uas.dialogs.size).toBe(1);
    send('CANCEL', { branch: 'z9hG4bKnone' });
    expect(last().status).toBe(481);
  });
});

describe('errorResponse', () => {
  it('maps SipErrors with their headers, temporary failures to 503, anything else to 500', () => {
    const retry = errorResponse(new RetryAfterError('CS_STORAGE_LOW', 30, 'storage low'), []);
    expect(retry.status).toBe(503);
    expect(retry.headers).toContainEqual({ name: 'retry-after', value: '30' });
    expect(errorResponse(new CallsealError('CS_PORTS_EXHAUSTED', 'no ports'), []).status).toBe(503);
    const other = errorResponse(new RangeError('a "quoted"\r\nline'), []);
    expect(other.status).toBe(500);
    expect(other.headers[0]?.value).toBe(`399 callseal "a 'quoted'''line"`);
  });
});
