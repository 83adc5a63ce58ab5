/**
 * The in-line B2BUA's call flows with real peers (sipp as PBX on 127.0.0.1, sipp as trunk on
 * 127.0.0.2): CANCEL during ringing (487 to the caller, CANCEL to the callee), a 407 challenge
 * passed back unchanged and the caller's retried INVITE reaching the trunk with valid credentials,
 * early media (183 with SDP), a re-INVITE to hold, BYE from the callee, and glare (491 either way).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/log.ts';
import { inlineSchema } from '../../src/config/index.ts';
import { InlineServer, type InlineCall } from '../../src/b2bua/index.ts';
import { freePort } from '../helpers/callseal.ts';
import {
  messagesStarting, pause, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasInDialog, uasRecvInvite, type Step,
} from '../helpers/inline.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const PBX_IP = '127.0.0.1';
const TRUNK_IP = '127.0.0.2';

async function b2bua(trunkPort: number): Promise<{ port: number; calls: InlineCall[] }> {
  const port = await freePort();
  const config = inlineSchema.parse({
    enabled: true, host: '127.0.0.1', port, tcp: false,
    pbx: { addresses: [PBX_IP], hop: { host: PBX_IP, port: 5999 } },
    trunk: { addresses: [TRUNK_IP], hop: { host: TRUNK_IP, port: trunkPort } },
  });
  if (!config.pbx || !config.trunk) throw new TypeError('both sides expected');
  const server = new InlineServer({ config: { ...config, pbx: config.pbx, trunk: config.trunk }, log: silentLogger(), advertisedAddress: '127.0.0.1' });
  await server.listen();
  closers.push(() => server.close());
  const calls: InlineCall[] = [];
  server.on('call', (c) => { calls.push(c); });
  return { port, calls };
}

/** Runs one call: the trunk's scenario, then the PBX's against callseal; both must succeed. */
async function call(pbxSteps: readonly Step[], trunkSteps: readonly Step[]): Promise<{ pbx: string; trunk: string; calls: InlineCall[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-'));
  const trunkPort = await freePort(27000, 28999);
  const trunk = await startSipp(dir, 'trunk', scenario('trunk', trunkSteps), { ip: TRUNK_IP, port: trunkPort });
  closers.push(() => { trunk.child.kill(); });
  const { port, calls } = await b2bua(trunkPort);
  const pbx = await startSipp(dir, 'pbx', scenario('pbx', pbxSteps), { ip: PBX_IP, target: `127.0.0.1:${port}` });
  closers.push(() => { pbx.child.kill(); });
  const [p, t] = await Promise.all([pbx.done, trunk.done]);
  expect(p.code, `pbx: ${p.out}`).toBe(0);
  expect(t.code, `trunk: ${t.out}`).toBe(0);
  return { pbx: pbx.messages(), trunk: trunk.messages(), calls };
}

/** A response of sipp as UAC, for a request it sent ([last_Via:] is the request's own Via). */
function uacAckNon2xx(cseq: number): Step {
  return `  <send>
    <![CDATA[
      ACK sip:+4989765432@carrier.example.net SIP/2.0
      [last_Via:]
      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`;
}

const ANSWER = sideSdp('[local_ip]');

/** Whether a Digest Authorization value (qop=auth, MD5) is right for `method` and `password`. */
function digestValid(value: string, method: string, password: string): boolean {
  const p = new Map([...value.replace(/^Digest\s+/i, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1] ?? '', m[2] ?? m[3] ?? '']));
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
  const ha1 = md5(`${p.get('username') ?? ''}:${p.get('realm') ?? ''}:${password}`);
  const ha2 = md5(`${method}:${p.get('uri') ?? ''}`);
  const expected = md5(`${ha1}:${p.get('nonce') ?? ''}:${p.get('nc') ?? ''}:${p.get('cnonce') ?? ''}:${p.get('qop') ?? ''}:${ha2}`);
  return expected === p.get('response');
}

describe('in-line B2BUA call flows with sipp on both sides', () => {
  it('CANCEL during ringing: 487 to the caller, CANCEL to the callee, which answers 487', async () => {
    const r = await call([
      pbxInvite('+4989765432'), recvResponse(100, { optional: true }), recvResponse(180),
      `  <send>
    <![CDATA[
      CANCEL sip:+4989765432@carrier.example.net SIP/2.0
      [last_Via:]
      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+4989765432@carrier.example.net>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`,
      recvResponse(200), recvResponse(487), uacAckNon2xx(1),
    ], [
      uasRecvInvite(), uasAnswer(180, 'Ringing'), recvRequest('CANCEL'), uasAnswer(200, 'OK'),
      `  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: 1 INVITE
      Content-Length: 0

    ]]>
  </send>`,
      recvRequest('ACK'),
    ]);
    expect(messagesStarting(r.trunk, 'CANCEL')).toHaveLength(1);
    expect(r.calls[0]?.ended).toBe(true);
  });

  it('passes a 407 challenge back unchanged; the retried INVITE with Proxy-Authorization reaches the trunk with valid credentials on the challenged leg', async () => {
    const r = await call([
      pbxInvite('+4989765432'), recvResponse(100, { optional: true }),
      '  <recv response="407" auth="true"/>', uacAckNon2xx(1),
      pbxInvite('+4989765432', { cseq: 2, headers: ['[authentication username=alice password=s3cret]'] }),
      recvResponse(100, { optional: true }), recvResponse(200, { rrs: true }), uacInDialog('ACK', 2), pause(200), uacInDialog('BYE', 3), recvResponse(200),
    ], [
      uasRecvInvite(),
      uasAnswer(407, 'Proxy Authentication Required', { headers: ['Proxy-Authenticate: Digest realm="carrier.example.net", nonce="4c9f0a1b2c3d", algorithm=MD5, qop="auth"'] }),
      recvRequest('ACK'),
      uasRecvInvite(),
      uasAnswer(200, 'OK', { body: ANSWER }), recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]);
    const challenge = messagesStarting(r.pbx, 'SIP/2.0 407')[0] ?? '';
    expect(challenge).toContain('Proxy-Authenticate: Digest realm="carrier.example.net", nonce="4c9f0a1b2c3d", algorithm=MD5, qop="auth"');
    const retried = messagesStarting(r.trunk, 'INVITE');
    expect(retried).toHaveLength(2);
    // The credentials reach the trunk as the PBX sent them, and they check out (RFC 2617 section 3.2.2.1).
    const sentAuth = /Proxy-Authorization: (.*)/.exec(messagesStarting(r.pbx, 'INVITE')[1] ?? '')?.[1];
    const gotAuth = /Proxy-Authorization: (.*)/.exec(retried[1] ?? '')?.[1];
    expect(gotAuth).toBeDefined();
    expect(gotAuth).toBe(sentAuth);
    expect(digestValid(gotAuth ?? '', 'INVITE', 's3cret')).toBe(true);
    // The retry continues the challenged leg: same Call-ID and From tag, the next CSeq.
    expect(/Call-ID: (.*)/.exec(retried[1] ?? '')?.[1]).toBe(/Call-ID: (.*)/.exec(retried[0] ?? '')?.[1]);
    expect(retried[1]).toMatch(/CSeq: 2 INVITE/);
    expect(r.calls).toHaveLength(2);
  });

  it('relays early media (183 with SDP) before the answer, a re-INVITE to hold and BYE from the callee', async () => {
    const hold = sideSdp('[local_ip]', 'sendonly', 2);
    const r = await call([
      pbxInvite('+4989765432'), recvResponse(100, { optional: true }), recvResponse(183), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      pause(200), uacInDialog('INVITE', 2, { body: hold }), recvResponse(100, { optional: true }), recvResponse(200), uacInDialog('ACK', 2),
      recvRequest('BYE'), uasAnswer(200, 'OK'),
    ], [
      uasRecvInvite(true), uasAnswer(183, 'Session Progress', { body: ANSWER }), pause(300), uasAnswer(200, 'OK', { body: ANSWER }), recvRequest('ACK'),
      recvRequest('INVITE'), uasAnswer(200, 'OK', { body: sideSdp('[local_ip]', 'recvonly', 2) }), recvRequest('ACK'),
      pause(200), uasInDialog('BYE', 1), recvResponse(200),
    ]);
    const early = messagesStarting(r.pbx, 'SIP/2.0 183')[0] ?? '';
    expect(early).toContain('Content-Type: application/sdp');
    expect(early).toMatch(/m=audio \d+ RTP\/AVP 8 101/);
    const reinvite = messagesStarting(r.trunk, 'INVITE')[1] ?? '';
    expect(reinvite).toContain('a=sendonly');
    expect(reinvite).toMatch(/To: .*tag=/);
    const held = messagesStarting(r.pbx, 'SIP/2.0 200').find((m) => m.includes('CSeq: 2 INVITE')) ?? '';
    expect(held).toContain('a=recvonly');
    expect(r.calls[0]?.ended).toBe(true);
  });

  it('100rel: a reliable 180 reaches the caller with Require and RSeq, its PRACK goes on in the callee\'s early dialog with the callee leg\'s RAck', async () => {
    const r = await call([
      pbxInvite('+4989765432', { headers: ['Supported: 100rel'] }), recvResponse(100, { optional: true }), recvResponse(180, { rrs: true }),
      `  <send retrans="500">
    <![CDATA[
      PRACK sip:callseal@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 PRACK
      RAck: 1 1 INVITE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`,
      recvResponse(200), recvResponse(200), uacInDialog('ACK', 1), pause(200), uacInDialog('BYE', 3), recvResponse(200),
    ], [
      `  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="ivia"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="ifrom"/>
    </action>
  </recv>`,
      uasAnswer(180, 'Ringing', { headers: ['Require: 100rel', 'RSeq: 1'] }),
      recvRequest('PRACK'), uasAnswer(200, 'OK'),
      `  <send>
    <![CDATA[
      SIP/2.0 200 OK
      Via:[$ivia]
      From:[$ifrom]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 INVITE
      Contact: <sip:trunk@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

${ANSWER}
    ]]>
  </send>`,
      recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]);
    const reliable = messagesStarting(r.pbx, 'SIP/2.0 180')[0] ?? '';
    expect(reliable).toContain('Require: 100rel');
    expect(reliable).toContain('RSeq: 1');
    const prack = messagesStarting(r.trunk, 'PRACK')[0] ?? '';
    expect(prack).toMatch(/RAck: 1 1 INVITE/);
    expect(prack).toMatch(/CSeq: 2 PRACK/);
    // The BYE after the PRACK goes above its CSeq in the callee's dialog.
    expect(messagesStarting(r.trunk, 'BYE')[0]).toMatch(/CSeq: 3 BYE/);
  });

  it('glare: a re-INVITE while one is pending on that leg gets 491, and the other side\'s 491 is relayed', async () => {
    const r = await call([
      pbxInvite('+4989765432'), recvResponse(100, { optional: true }), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      pause(200), uacInDialog('INVITE', 2, { body: sideSdp('[local_ip]', 'sendonly', 2) }), recvResponse(100, { optional: true }), recvResponse(491), uacAckNon2xx(2),
      pause(300), uacInDialog('BYE', 3), recvResponse(200),
    ], [
      uasRecvInvite(true), uasAnswer(200, 'OK', { body: ANSWER }), recvRequest('ACK'),
      // callseal's re-INVITE is pending toward the trunk when the trunk sends its own.
      `  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="rvia"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="rfrom"/>
      <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="rcseq"/>
    </action>
  </recv>`,
      uasInDialog('INVITE', 1, { body: sideSdp('[local_ip]', 'sendonly', 2) }),
      recvResponse(100, { optional: true }), recvResponse(491),
      `  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      [last_Via:]
      From: <sip:trunk@carrier.example.net>;tag=[pid]SIPpTag01[call_number]
      To: [$peer]
      Call-ID: [$cid]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`,
      // The trunk's own 491 to callseal's re-INVITE, from the headers it kept.
      `  <send>
    <![CDATA[
      SIP/2.0 491 Request Pending
      Via:[$rvia]
      From:[$rfrom]
      To: <sip:+4989765432@carrier.example.net>;tag=[pid]SIPpTag01[call_number]
      Call-ID: [$cid]
      CSeq:[$rcseq]
      Content-Length: 0

    ]]>
  </send>`,
      recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]);
    // The trunk's log holds the 491 callseal sent it and its own.
    expect(messagesStarting(r.trunk, 'SIP/2.0 491')).toHaveLength(2);
    expect(messagesStarting(r.pbx, 'SIP/2.0 491')).toHaveLength(1);
  });
});
