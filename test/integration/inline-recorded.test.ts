/**
 * A recorded in-line call end to end, callseal started as a process with the `inline` section on
 * and the default setting ("Record all calls"): sipp as the PBX calls through callseal to sipp as
 * the trunk, the trunk plays early media with its 183, the PBX speaks after the answer, BYE. The
 * media is anchored on the relay (both SDPs name callseal), the recording starts at the INVITE
 * (B3: the early media is in it), and it is sealed: sha256sum and verify.sh judge it, ffprobe and
 * sox read the WAV.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffprobe, freePort, run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { listFiles } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { parseInfo } from '../../src/recording/index.ts';
import { apiCall } from '../helpers/api.ts';
import { messagesStarting, pause, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasRecvInvite } from '../helpers/inline.ts';

const closers: (() => Promise<unknown> | undefined)[] = [];
let cs: CallsealProcess | undefined;
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cs?.stop();
  cs = undefined;
});

function play(pcap: string): string {
  return `  <nop>\n    <action>\n      <exec play_pcap_audio="${pcap}"/>\n    </action>\n  </nop>`;
}

function frequency(path: string, channel: 1 | 2): number {
  const text = run('bash', ['-c', `sox "${path}" -n remix ${channel} stat 2>&1`]);
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(text)?.[1] ?? 0);
}

/** callseal with the in-line section on: the PBX's sipp on 127.0.0.1, the trunk's on 127.0.0.2:`trunkPort`. */
async function inlineCallseal(trunkPort: number, extra: Record<string, unknown> = {}): Promise<{ cs: CallsealProcess; port: number }> {
  const port = await freePort();
  const started = await startCallseal({
    env: { CALLSEAL_API_TOKEN: TOKEN },
    config: {
      inline: {
        enabled: true, host: '127.0.0.1', port, tcp: false,
        pbx: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: 5999 } },
        trunk: { addresses: ['127.0.0.2'], hop: { host: '127.0.0.2', port: trunkPort } },
        ...extra,
      },
    },
  });
  return { cs: started, port };
}

const TOKEN = 'inline-test-token';
const SIPP_PCAPS = '/usr/share/sip-tester';

/** One setting that records every call, with `*1` as its stop code (B6). */
async function recordAllWithStopCode(c: CallsealProcess): Promise<void> {
  const put = await apiCall(c.httpPort, TOKEN, 'PUT', '/api/policy', {
    settings: [{ id: 'all', name: 'All calls', scope: { kind: 'all' }, stopCode: '*1' }],
  });
  expect(put.status, JSON.stringify(put.json)).toBe(200);
}

/** The PBX (internal caller) and the trunk in a call in which the PBX sends `middle` after the ACK. */
async function stopCall(dir: string, port: number, trunkPort: number, middle: readonly string[], trunkMiddle: readonly string[]): Promise<{ pbx: string; trunk: string }> {
  const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
    uasRecvInvite(), uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }), recvRequest('ACK'), ...trunkMiddle, recvRequest('BYE'), uasAnswer(200, 'OK'),
  ]), { ip: '127.0.0.2', port: trunkPort });
  closers.push(() => { trunk.child.kill(); return undefined; });
  const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
    pbxInvite('+4989765432'), recvResponse(100, { optional: true }), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
    pause(300), ...middle, pause(300), uacInDialog('BYE', 9), recvResponse(200),
  ]), { ip: '127.0.0.1', target: `127.0.0.1:${port}` });
  closers.push(() => { pbx.child.kill(); return undefined; });
  const [p, t] = await Promise.all([pbx.done, trunk.done]);
  expect(p.code, `pbx: ${p.out}`).toBe(0);
  expect(t.code, `trunk: ${t.out}`).toBe(0);
  return { pbx: pbx.messages(), trunk: trunk.messages() };
}

/** The end reason of the one recording in callseal's folder. */
async function endReason(c: CallsealProcess): Promise<string | undefined> {
  await c.waitForLog((l) => l['msg'] === 'recording stopped by DTMF', 30_000);
  await c.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
  const root = join(c.home, 'recordings');
  const wav = listFiles(root).filter((f) => f.endsWith('.wav'));
  expect(wav).toHaveLength(1);
  return parseInfo(readFileSync(join(root, (wav[0] ?? '').replace(/\.wav$/, '_info.txt')), 'utf8')).get('end-reason')?.[0];
}

function info(digit: string, cseq: number): string {
  return uacInDialog('INFO', cseq, { body: `Signal=${digit}\r\nDuration=160\r\n`, type: 'application/dtmf-relay' });
}

describe('a recorded in-line call', () => {
  it('B6: *1 by SIP INFO (application/dtmf-relay) from the internal caller stops the recording; the INFOs go on to the trunk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-rec-'));
    const trunkPort = await freePort(27000, 28999);
    const started = await inlineCallseal(trunkPort);
    cs = started.cs;
    await recordAllWithStopCode(cs);
    const r = await stopCall(dir, started.port, trunkPort,
      [info('*', 2), recvResponse(200), info('1', 3), recvResponse(200)],
      [recvRequest('INFO'), uasAnswer(200, 'OK'), recvRequest('INFO'), uasAnswer(200, 'OK')]);
    const infos = messagesStarting(r.trunk, 'INFO');
    expect(infos).toHaveLength(2);
    expect(infos[0]).toContain('Content-Type: application/dtmf-relay');
    expect(infos[0]).toContain('Signal=*');
    expect(await endReason(cs)).toMatch(/^stopped by DTMF \*1 from the caller at /);
  }, 120_000);

  it('B6: *1 as RFC 4733 events through the relay from the internal caller stops the recording', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-rec-'));
    const trunkPort = await freePort(27000, 28999);
    const started = await inlineCallseal(trunkPort);
    cs = started.cs;
    await recordAllWithStopCode(cs);
    await stopCall(dir, started.port, trunkPort, [play(join(SIPP_PCAPS, 'dtmf_2833_star.pcap')), pause(400), play(join(SIPP_PCAPS, 'dtmf_2833_1.pcap')), pause(400)], []);
    expect(await endReason(cs)).toMatch(/^stopped by DTMF \*1 from the caller at /);
  }, 120_000);

  it('fail-closed: a call that must be recorded but offers nothing recordable gets 503 with Warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-rec-'));
    const started = await inlineCallseal(5999);
    cs = started.cs;
    const g729 = 'v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 98\r\na=rtpmap:98 L16/16000\r\n';
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [pbxInvite('+4989765432', { sdp: g729 }), recvResponse(100, { optional: true }), recvResponse(503), '  <send>\n    <![CDATA[\n      ACK sip:+4989765432@carrier.example.net SIP/2.0\n      [last_Via:]\n      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]\n      [last_To:]\n      Call-ID: [call_id]\n      CSeq: 1 ACK\n      Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>']), { ip: '127.0.0.1', target: `127.0.0.1:${started.port}` });
    const p = await pbx.done;
    expect(p.code, `pbx: ${p.out}`).toBe(0);
    const refused = messagesStarting(pbx.messages(), 'SIP/2.0 503')[0] ?? '';
    expect(refused).toMatch(/Warning: 399 callseal "call must be recorded but cannot be/);
  }, 120_000);


  it('anchors the media, records from the INVITE (early media included) and seals the recording', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-rec-'));
    const trunkPort = await freePort(27000, 28999);
    const inlinePort = await freePort();
    cs = await startCallseal({
      config: {
        inline: {
          enabled: true, host: '127.0.0.1', port: inlinePort, tcp: false,
          pbx: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: 5999 } },
          trunk: { addresses: ['127.0.0.2'], hop: { host: '127.0.0.2', port: trunkPort } },
        },
      },
    });
    const callerPcap = join(dir, 'caller.pcap');
    const calleePcap = join(dir, 'callee.pcap');
    writeRtpPcap(callerPcap, [{ dstPort: 6000, payloadType: 8, ssrc: 0x11111111, audio: tone(440, 1, linearToAlaw) }]);
    writeRtpPcap(calleePcap, [{ dstPort: 6000, payloadType: 8, ssrc: 0x22222222, audio: tone(1000, 1, linearToAlaw, 12000) }]);
    const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
      uasRecvInvite(), uasAnswer(183, 'Session Progress', { body: sideSdp('[local_ip]') }), play(calleePcap), pause(1500),
      uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }), recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]), { ip: '127.0.0.2', port: trunkPort });
    closers.push(() => { trunk.child.kill(); return undefined; });
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('+4989765432', { headers: ['P-Asserted-Identity: "Alice Anders" <sip:+4930123201@pbx.example.com>'] }),
      recvResponse(100, { optional: true }), recvResponse(183), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      play(callerPcap), pause(1500), uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: '127.0.0.1', target: `127.0.0.1:${inlinePort}` });
    closers.push(() => { pbx.child.kill(); return undefined; });
    const [p, t] = await Promise.all([pbx.done, trunk.done]);
    expect(p.code, `pbx: ${p.out}`).toBe(0);
    expect(t.code, `trunk: ${t.out}`).toBe(0);
    // Anchored: the SDPs each end received name callseal's relay, not the other end's media port.
    const offer = messagesStarting(trunk.messages(), 'INVITE')[0] ?? '';
    const answer = messagesStarting(pbx.messages(), 'SIP/2.0 200')[0] ?? '';
    const [rtpMin, rtpMax] = cs.rtpPorts;
    for (const sdp of [offer, answer]) {
      const port = Number(/m=audio (\d+)/.exec(sdp)?.[1]);
      expect(port, sdp).toBeGreaterThanOrEqual(rtpMin);
      expect(port, sdp).toBeLessThanOrEqual(rtpMax);
      expect(sdp).toContain('a=rtpmap:101 telephone-event/8000');
    }

    await cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    const root = join(cs.home, 'recordings');
    const wav = listFiles(root).filter((f) => f.endsWith('.wav'));
    expect(wav).toHaveLength(1);
    const wavPath = join(root, wav[0] ?? '');
    const info = parseInfo(readFileSync(wavPath.replace(/\.wav$/, '_info.txt'), 'utf8'));
    const one = (k: string): string => info.get(k)?.[0] ?? '';
    expect(one('caller-number')).toBe('+4930123201');
    expect(one('caller-name')).toBe('Alice Anders');
    expect(one('callee-number')).toBe('+4989765432');
    expect(one('setting')).toBe('Record all calls');
    // B3: the callee's early media (before the answer) is in the recording, and the caller's speech after it.
    expect(one('stats-callee')).toMatch(/received=(4[5-9]|50)\b/);
    expect(one('stats-caller')).toMatch(/received=(4[5-9]|50)\b/);
    const probe = ffprobe(wavPath);
    expect(probe.channels).toBe(2);
    expect(probe.durationSec).toBeGreaterThan(2.5);
    expect(frequency(wavPath, 1)).toBeGreaterThan(300);
    expect(frequency(wavPath, 1)).toBeLessThan(600);
    expect(frequency(wavPath, 2)).toBeGreaterThan(800);
    expect(frequency(wavPath, 2)).toBeLessThan(1200);
    const base = wavPath.replace(/\.wav$/, '');
    expect(run('sha256sum', ['-c', `${base.split('/').pop() ?? ''}_hash.txt`], join(wavPath, '..'))).toMatch(/_info\.txt: OK/);
    expect(run(join(import.meta.dirname, '../../tools/verify.sh'), [base])).toContain('OK:');
  }, 120_000);
});
