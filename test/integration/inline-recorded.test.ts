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
import { messagesStarting, pause, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasRecvInvite } from '../helpers/inline.ts';

const closers: (() => Promise<unknown> | void)[] = [];
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

describe('a recorded in-line call', () => {
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
    closers.push(() => { trunk.child.kill(); });
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('+4989765432', { headers: ['P-Asserted-Identity: "Alice Anders" <sip:+4930123201@pbx.example.com>'] }),
      recvResponse(100, { optional: true }), recvResponse(183), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      play(callerPcap), pause(1500), uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: '127.0.0.1', target: `127.0.0.1:${inlinePort}` });
    closers.push(() => { pbx.child.kill(); });
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
