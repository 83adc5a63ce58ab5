/**
 * The in-line B2BUA between two real sipp instances: sipp as the PBX (UAC, 127.0.0.1) calls
 * through callseal to sipp as the trunk (UAS, 127.0.0.2). A call that is not recorded reaches
 * the far end with its SDP byte for byte, callseal's own Call-ID and tags on the outgoing leg
 * and the caller's identity headers relayed, every message callseal sent well-formed for tshark;
 * a request from a third address gets 403.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/log.ts';
import { inlineSchema } from '../../src/config/index.ts';
import { InlineServer, type InlineCall } from '../../src/b2bua/index.ts';
import { freePort } from '../helpers/callseal.ts';
import { SipCapture } from '../helpers/tshark.ts';
import {
  messagesStarting, pause, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasRecvInvite,
} from '../helpers/inline.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const PBX_IP = '127.0.0.1';
const TRUNK_IP = '127.0.0.2';

/** callseal in line, the trunk's sipp on `trunkPort`; the PBX's sipp reaches it on the returned port. */
async function b2bua(trunkPort: number, setUp?: (call: InlineCall) => Promise<void>): Promise<{ server: InlineServer; port: number; calls: InlineCall[] }> {
  const port = await freePort();
  const config = inlineSchema.parse({
    enabled: true, host: '127.0.0.1', port, tcp: false,
    pbx: { addresses: [PBX_IP], hop: { host: PBX_IP, port: 5999 } },
    trunk: { addresses: [TRUNK_IP], hop: { host: TRUNK_IP, port: trunkPort } },
  });
  if (!config.pbx || !config.trunk) throw new TypeError('both sides expected');
  const server = new InlineServer({
    config: { ...config, pbx: config.pbx, trunk: config.trunk }, log: silentLogger(), advertisedAddress: '127.0.0.1',
    ...(setUp ? { setUp } : {}),
  });
  await server.listen();
  closers.push(() => server.close());
  const calls: InlineCall[] = [];
  server.on('call', (c) => { calls.push(c); });
  return { server, port, calls };
}

describe('in-line B2BUA between sipp as PBX and sipp as trunk', () => {
  it('relays an unrecorded call: SDP byte-identical at the far end, own Call-ID and tags, identities relayed, BYE end to end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-'));
    const trunkPort = await freePort(27000, 28999);
    const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
      uasRecvInvite(), uasAnswer(180, 'Ringing'), pause(200), uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }),
      recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]), { ip: TRUNK_IP, port: trunkPort });
    closers.push(() => { trunk.child.kill(); });
    const { port, calls } = await b2bua(trunkPort);
    const capture = await SipCapture.start(port);
    closers.push(() => capture.stop());
    const offer = 'v=0\r\no=pbx 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n';
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('+4989765432', { sdp: offer, headers: ['P-Asserted-Identity: "Alice Anders" <sip:+4930123456@pbx.example.com>', 'Diversion: <sip:+4930999@pbx.example.com>;reason=unconditional', 'Privacy: none', 'User-Agent: PBX/1.0', 'X-Internal: secret'] }),
      recvResponse(100, { optional: true }), recvResponse(180), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1), pause(300), uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: PBX_IP, target: `127.0.0.1:${port}` });
    const [p, t] = await Promise.all([pbx.done, trunk.done]);
    expect(p.code, p.out).toBe(0);
    expect(t.code, t.out).toBe(0);
    const invite = messagesStarting(trunk.messages(), 'INVITE')[0] ?? '';
    expect(invite.endsWith(offer), invite).toBe(true);
    expect(invite).toContain('From: "Alice Anders" <sip:201@pbx.example.com>;tag=');
    expect(invite).toContain('P-Asserted-Identity: "Alice Anders" <sip:+4930123456@pbx.example.com>');
    expect(invite).toContain('Diversion: <sip:+4930999@pbx.example.com>;reason=unconditional');
    expect(invite).toContain('User-Agent: PBX/1.0');
    expect(invite).not.toContain('X-Internal');
    expect(invite).toMatch(/Contact: <sip:callseal@127\.0\.0\.1:\d+>/);
    const callId = /Call-ID: (\S+)/.exec(invite)?.[1];
    expect(callId).toBeDefined();
    expect(callId).not.toBe(calls[0]?.callId);
    expect(calls[0]?.route.direction).toBe('out');
    // On the wire, read by tshark: both legs' messages from callseal are well-formed, each request with exactly one Via of callseal's.
    await capture.stop();
    expect(capture.findings()).toEqual([]);
    const vias = capture.requestVias();
    expect(vias.map((v) => v.method)).toEqual(expect.arrayContaining(['INVITE', 'ACK', 'BYE']));
    for (const v of vias) {
      expect(v.vias).toHaveLength(1);
      expect(v.sentBy).toBe(`127.0.0.1:${port}`);
    }
    expect(capture.sent()).toEqual(expect.arrayContaining(['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing', 'SIP/2.0 200 OK']));
    expect(calls[0]?.ended).toBe(true);
  });

  it('answers 403 to a request from an address of neither side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-'));
    const { port, calls } = await b2bua(5999);
    const stranger = await startSipp(dir, 'stranger', scenario('stranger', [pbxInvite('123'), recvResponse(403)]), { ip: '127.0.0.3', target: `127.0.0.1:${port}` });
    const s = await stranger.done;
    expect(s.code, s.out).toBe(0);
    expect(calls).toHaveLength(0);
  });
});
