/**
 * Answers a strict SRC accepts: a To tag on every response but 100 (RFC 3261 section 8.2.6.2),
 * a Contact that keeps a TCP dialog on TCP (RFC 3263), `Supported` listing only what callseal
 * implements, RFC 4028 session timers as UAS (422 with Min-SE, refresher=uac, BYE and a sealed
 * recording when the SRC stops refreshing), and tshark's SIP and SDP dissectors finding nothing
 * malformed in anything callseal sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { RawSrc, offerSdp, siprecBody } from '../helpers/src.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { SipCapture } from '../helpers/tshark.ts';
import { getHeader, getHeaders, parseNameAddr, type SipResponse } from '../../src/sip/index.ts';
import { parseInfo } from '../../src/recording/index.ts';

/** The smallest session interval callseal accepts in this file: short, so expiry is seen in seconds. */
const MIN_SE_SEC = 3;

let cs: CallsealProcess;
let capture: SipCapture;
const srcs: RawSrc[] = [];

beforeAll(async () => {
  cs = await startCallseal({ config: { sip: { minSessionExpiresSec: MIN_SE_SEC } } });
  capture = await SipCapture.start(cs.sipPort);
}, 90_000);

afterAll(async () => {
  for (const s of srcs) s.close();
  await capture.stop();
  await cs.stop();
});

async function connect(transport: 'UDP' | 'TCP'): Promise<RawSrc> {
  const src = await RawSrc.connect(transport, cs.sipPort);
  srcs.push(src);
  return src;
}

const STREAMS = [{ label: '1', payloadType: 8, codec: 'PCMA' as const }, { label: '2', payloadType: 8, codec: 'PCMA' as const }];

function toTag(r: SipResponse): string | undefined {
  return parseNameAddr(getHeader(r, 'to') ?? '').tag;
}

/** Sends an INVITE with a SIPREC body and returns its final response (ACKed when 2xx). */
async function invite(src: RawSrc, headers: string[], metadata: string | undefined = rsMetadata(ALICE, BOB)): Promise<SipResponse> {
  return (await src.invite(STREAMS, metadata, headers)).response;
}

async function finishedInfo(callId: string): Promise<Map<string, string[]>> {
  const done = await cs.waitForLog((l) => l['msg'] === 'recording finished' && l['callId'] === callId, 20_000);
  const files = (done['files'] as string[]).map((f) => f.split('/').pop() ?? f);
  return parseInfo(readFileSync(join(String(done['dir']), files.find((f) => f.endsWith('_info.txt')) ?? ''), 'utf8'));
}

describe('To tags', () => {
  it('puts a To tag on every refusal: 488, 406, 400, 415, 420, 416, 405, 481, and the parser\'s 400', async () => {
    const sdp = offerSdp(STREAMS);
    const metadata = rsMetadata(ALICE, BOB);
    const broken = siprecBody(sdp, metadata);
    // Each INVITE is its own call (a new Call-ID), as a refused SRC would retry.
    const attempts: ((src: RawSrc) => Promise<SipResponse>)[] = [
      // 488: an INVITE without an SDP offer.
      (src) => src.waitFinal(src.request('INVITE', { body: metadata, contentType: 'application/rs-metadata+xml', headers: ['Require: siprec'] }), 'INVITE'),
      // 406: a peer that is no SIPREC client (no Require: siprec, no +sip.src) and accepts no SDP.
      (src) => {
        src.sendRaw(`INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${src.localPort};branch=z9hG4bKnotsdp\r\nFrom: <sip:ua@127.0.0.1>;tag=${src.fromTag}\r\n` +
          `To: <sip:srs@127.0.0.1>\r\nCall-ID: ${src.callId}\r\nCSeq: 5 INVITE\r\nContact: <sip:ua@127.0.0.1:${src.localPort}>\r\nAccept: text/plain\r\nMax-Forwards: 70\r\n` +
          `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`);
        return src.waitFinal(5, 'INVITE');
      },
      // 400: a multipart body whose boundary is not the one announced.
      (src) => src.waitFinal(src.request('INVITE', { body: broken.body, contentType: 'multipart/mixed;boundary=other', headers: ['Require: siprec'] }), 'INVITE'),
      // 415: a body callseal cannot record.
      (src) => src.waitFinal(src.request('INVITE', { body: 'hello', contentType: 'text/plain', headers: ['Require: siprec'] }), 'INVITE'),
      // 420: an extension callseal does not implement (RFC 3261 section 8.2.2.3).
      (src) => invite(src, ['Require: siprec, 100rel']),
      // 416: a Request-URI scheme callseal does not know.
      (src) => src.waitFinal(src.request('OPTIONS', { uri: 'mailto:srs@127.0.0.1' }), 'OPTIONS'),
      // 405 and 481.
      (src) => src.waitFinal(src.request('REGISTER'), 'REGISTER'),
      (src) => src.waitFinal(src.request('BYE'), 'BYE'),
      // 400 from src/sip: a CSeq whose method does not match the request.
      (src) => {
        src.sendRaw(`OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${src.localPort};branch=z9hG4bKbadcseq\r\nFrom: <sip:sbc@127.0.0.1>;tag=${src.fromTag}\r\n` +
          `To: <sip:srs@127.0.0.1>\r\nCall-ID: ${src.callId}\r\nCSeq: 77 INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
        return src.waitFinal(77, 'INFO');
      },
    ];
    const refusals: SipResponse[] = [];
    const all: SipResponse[] = [];
    for (const attempt of attempts) {
      const src = await connect('UDP');
      refusals.push(await attempt(src));
      all.push(...src.responses);
    }
    expect(refusals.map((r) => r.status)).toEqual([488, 406, 400, 415, 420, 416, 405, 481, 400]);
    for (const r of refusals) expect(toTag(r), `${r.status} ${r.reason}`).toMatch(/^[0-9a-f]{8,}$/);
    // Every response but 100 Trying carries one; 100 never does.
    expect(all.some((r) => r.status === 100)).toBe(true);
    for (const r of all) {
      if (r.status === 100) expect(toTag(r)).toBeUndefined();
      else expect(toTag(r), `${r.status} ${r.reason}`).toBeDefined();
    }
  });
});

describe('Supported and Contact', () => {
  it('advertises only siprec and timer, never replaces (200 to INVITE and OPTIONS)', async () => {
    const src = await connect('UDP');
    const ok = await invite(src, ['Require: siprec']);
    expect(ok.status).toBe(200);
    expect(getHeaders(ok, 'supported')).toEqual(['siprec', 'timer']);
    expect(getHeader(ok, 'contact')).toBe(`<sip:callseal@127.0.0.1:${cs.sipPort}>;+sip.srs`);
    const options = await src.waitFinal(src.request('OPTIONS'), 'OPTIONS');
    expect(getHeaders(options, 'supported')).toEqual(['siprec', 'timer']);
    expect((await src.bye()).status).toBe(200);
  });

  it('keeps a TCP dialog on TCP: Contact has transport=tcp, the SRC\'s BYE to it goes over TCP', async () => {
    const src = await connect('TCP');
    const ok = await invite(src, ['Require: siprec']);
    expect(ok.status).toBe(200);
    const contact = parseNameAddr(getHeader(ok, 'contact') ?? '');
    expect(contact.uri).toBe(`sip:callseal@127.0.0.1:${cs.sipPort};transport=tcp`);
    // A real UA sends its in-dialog requests to the remote target (RFC 3261 section 12.2.1.1),
    // over the transport the URI names, here the open connection to that address and port.
    expect(/;transport=(\w+)/.exec(contact.uri)?.[1]).toBe('tcp');
    const bye = await src.bye(contact.uri);
    expect(bye.status).toBe(200);
    const info = await finishedInfo(src.callId);
    expect(info.get('end-reason')).toEqual(['bye']);
  });
});

describe('2xx retransmission', () => {
  it('retransmits the same 200 over UDP until the ACK comes (RFC 3261 section 13.3.1.4)', async () => {
    const src = await connect('UDP');
    const { contentType, body } = siprecBody(offerSdp(STREAMS), rsMetadata(ALICE, BOB));
    const cseq = src.request('INVITE', { body, contentType, headers: ['Require: siprec'] });
    const first = await src.waitFinal(cseq, 'INVITE');
    expect(first.status).toBe(200);
    // T1 is 500 ms: the first retransmission comes after 0.5 s, the second 1 s later.
    await new Promise((r) => setTimeout(r, 1800));
    const oks = src.responses.filter((r) => r.status === 200 && getHeader(r, 'cseq') === `${cseq} INVITE`);
    expect(oks.length).toBeGreaterThanOrEqual(3);
    for (const r of oks) {
      expect(toTag(r)).toBe(toTag(first));
      expect(r.body.equals(first.body)).toBe(true);
    }
    src.toTag = toTag(first);
    src.request('ACK', { cseq });
    await new Promise((r) => setTimeout(r, 1200));
    const after = src.responses.filter((r) => r.status === 200 && getHeader(r, 'cseq') === `${cseq} INVITE`).length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(src.responses.filter((r) => r.status === 200 && getHeader(r, 'cseq') === `${cseq} INVITE`).length).toBe(after);
    expect((await src.bye()).status).toBe(200);
  });
});

describe('session timers (RFC 4028)', () => {
  it('answers 422 with Min-SE when Session-Expires is below the minimum', async () => {
    const src = await connect('UDP');
    const r = await invite(src, ['Require: siprec', 'Supported: timer', `Session-Expires: ${MIN_SE_SEC - 1}`]);
    expect(r.status).toBe(422);
    expect(getHeader(r, 'min-se')).toBe(String(MIN_SE_SEC));
    expect(toTag(r)).toBeDefined();
  });

  it('answers without Session-Expires when the SRC does not support timer, and keeps the session', async () => {
    const src = await connect('UDP');
    const ok = await invite(src, ['Require: siprec', `Session-Expires: ${MIN_SE_SEC}`]);
    expect(ok.status).toBe(200);
    expect(getHeader(ok, 'session-expires')).toBeUndefined();
    await new Promise((r) => setTimeout(r, MIN_SE_SEC * 1000 + 500));
    expect(src.requests).toEqual([]);
    expect((await src.bye()).status).toBe(200);
  });

  it('lets the SRC refresh (refresher=uac), and ends a session it stops refreshing with BYE, sealed with the reason', async () => {
    const src = await connect('UDP');
    const timer = ['Supported: timer', `Session-Expires: ${MIN_SE_SEC};refresher=uac`];
    const ok = await invite(src, ['Require: siprec', ...timer]);
    expect(ok.status).toBe(200);
    expect(getHeader(ok, 'session-expires')).toBe(`${MIN_SE_SEC};refresher=uac`);
    expect(getHeaders(ok, 'require')).toContain('timer');
    const answeredAt = performance.now();
    // Refresh once with a bodyless UPDATE (RFC 4028 section 7.4) before the BYE would be due.
    await new Promise((r) => setTimeout(r, 1000));
    const refresh = await src.waitFinal(src.request('UPDATE', { headers: timer }), 'UPDATE');
    const refreshedAt = performance.now();
    expect(refresh.status).toBe(200);
    expect(getHeader(refresh, 'session-expires')).toBe(`${MIN_SE_SEC};refresher=uac`);
    expect(getHeader(refresh, 'contact')).toBe(`<sip:callseal@127.0.0.1:${cs.sipPort}>;+sip.srs`);
    // No further refresh: the BYE comes min(32 s, interval/3) before expiry, counted from the refresh.
    const byeDueMs = MIN_SE_SEC * 1000 - Math.min(32_000, (MIN_SE_SEC * 1000) / 3);
    const info = await finishedInfo(src.callId);
    const byeAt = performance.now();
    expect(src.requests).toEqual(['BYE']);
    expect(byeAt - refreshedAt).toBeGreaterThan(byeDueMs - 300);
    expect(byeAt - answeredAt).toBeGreaterThan(1000 + byeDueMs - 300);
    expect(getHeader(src.received[0] ?? { headers: [] }, 'reason')).toMatch(/session-timer-expired/);
    expect(info.get('end-reason')).toEqual(['session-timer-expired']);
  });
});

describe('_info.txt', () => {
  it('says why a stereo setting got one file per stream (layout-note) and who decided the caller', async () => {
    const src = await connect('UDP');
    const { response } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 9, codec: 'G722' }], rsMetadata(ALICE, BOB), ['Require: siprec']);
    expect(response.status).toBe(200);
    expect((await src.bye()).status).toBe(200);
    const info = await finishedInfo(src.callId);
    expect(info.get('channels')).toEqual(['separate']);
    expect(info.get('layout-note')?.[0]).toMatch(/^no recordable codec is offered on every stream \(1: PCMA; 2: G722\)/);
    expect(info.get('caller-by')).toEqual(['document order']);
    expect(info.get('channels-by')).toEqual(['stream association']);
  });
});

describe('BYE from callseal on its own', () => {
  it('sends the BYE of a TCP dialog over that TCP connection at shutdown', async () => {
    const src = await connect('TCP');
    const ok = await invite(src, ['Require: siprec']);
    expect(ok.status).toBe(200);
    await cs.stop('SIGTERM');
    expect(src.requests).toEqual(['BYE']);
    const bye = src.received[0];
    expect(getHeader(bye ?? { headers: [] }, 'via')).toMatch(/^SIP\/2\.0\/TCP /);
    // The BYE goes to the SRC's Contact, the remote target of the dialog.
    expect(bye && 'uri' in bye ? bye.uri : '').toBe(`sip:sbc@127.0.0.1:${src.localPort};transport=tcp`);
  });
});

describe('an outside parser', () => {
  it('tshark\'s SIP and SDP dissectors find nothing malformed in what callseal sent', async () => {
    await capture.stop();
    const sent = capture.sent();
    expect(sent.some((l) => l.startsWith('SIP/2.0 200 OK'))).toBe(true);
    expect(sent.some((l) => l.startsWith('SIP/2.0 422'))).toBe(true);
    expect(sent.some((l) => l.startsWith('BYE '))).toBe(true);
    expect(capture.findings()).toEqual([]);
  });
});
