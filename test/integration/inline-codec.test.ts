/**
 * The recording legs of an in-line call follow the answer's codec (RFC 3264): sipp as the PBX
 * offers PCMU and PCMA (PCMU first), sipp as the trunk answers PCMA only, both send A-law. The
 * legs opened with the offer's first codec (PCMU) go on in A-law files from the answer on, and
 * the recording of the speech is A-law (ffprobe) with each side's tone in its file (sox).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffprobe, freePort, run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { listFiles } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { messagesStarting, pause, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasRecvInvite } from '../helpers/inline.ts';

const closers: (() => Promise<unknown> | undefined)[] = [];
let cs: CallsealProcess | undefined;
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cs?.stop();
  cs = undefined;
});

const OFFER_PCMU_PCMA = [
  'v=0', 'o=pbx 4242 1 IN IP4 [local_ip]', 's=-', 'c=IN IP4 [local_ip]', 't=0 0',
  'm=audio [media_port] RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', '',
].join('\r\n');

function play(pcap: string): string {
  return `  <nop>\n    <action>\n      <exec play_pcap_audio="${pcap}"/>\n    </action>\n  </nop>`;
}

function frequency(path: string, channel: number): number {
  const text = run('bash', ['-c', `sox "${path}" -n remix ${channel} stat 2>&1`]);
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(text)?.[1] ?? 0);
}

describe('the recording codec of an in-line call', () => {
  it('offer PCMU+PCMA, answer PCMA: the recording is A-law', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-codec-'));
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
    writeRtpPcap(join(dir, 'caller.pcap'), [{ dstPort: 6000, payloadType: 8, ssrc: 0x11111111, audio: tone(440, 1.5, linearToAlaw) }]);
    writeRtpPcap(join(dir, 'callee.pcap'), [{ dstPort: 6000, payloadType: 8, ssrc: 0x22222222, audio: tone(1000, 1.5, linearToAlaw, 12000) }]);
    const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
      uasRecvInvite(), uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }), recvRequest('ACK'), play('callee.pcap'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]), { ip: '127.0.0.2', port: trunkPort });
    closers.push(() => { trunk.child.kill(); return undefined; });
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('+4989765432', { sdp: OFFER_PCMU_PCMA }), recvResponse(100, { optional: true }), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      play('caller.pcap'), pause(2000), uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: '127.0.0.1', target: `127.0.0.1:${inlinePort}` });
    closers.push(() => { pbx.child.kill(); return undefined; });
    const [p, t] = await Promise.all([pbx.done, trunk.done]);
    expect(p.code, `pbx: ${p.out}`).toBe(0);
    expect(t.code, `trunk: ${t.out}`).toBe(0);
    // The codecs stay a matter of the two ends: the trunk got both, the PBX the answer's one.
    expect(messagesStarting(trunk.messages(), 'INVITE')[0]).toMatch(/m=audio \d+ RTP\/AVP 0 8 101/);
    expect(messagesStarting(pbx.messages(), 'SIP/2.0 200')[0]).toMatch(/m=audio \d+ RTP\/AVP 8 101/);

    await cs.waitForLog((l) => l['msg'] === 'the answer changed the codec; the legs go on in new files', 30_000);
    await cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    const root = join(cs.home, 'recordings');
    const wavs = listFiles(root).filter((f) => f.endsWith('.wav')).map((f) => join(root, f));
    const probes = wavs.map((w) => ({ w, probe: ffprobe(w) }));
    const speech = probes.filter((x) => x.probe.durationSec > 1);
    expect(speech.length, JSON.stringify(probes)).toBeGreaterThanOrEqual(1);
    for (const { probe } of speech) expect(probe.codec).toBe('pcm_alaw');
    // Both legs changed codec, so each goes on in a file of its own (as SIPREC legs in different codecs do).
    const caller = speech.find((x) => x.w.endsWith('_caller.wav'))?.w ?? '';
    const callee = speech.find((x) => x.w.endsWith('_callee.wav'))?.w ?? '';
    expect(frequency(caller, 1)).toBeGreaterThan(350);
    expect(frequency(caller, 1)).toBeLessThan(550);
    expect(frequency(callee, 1)).toBeGreaterThan(800);
    expect(frequency(callee, 1)).toBeLessThan(1200);
    const info = readFileSync(caller.replace(/_caller\.wav$/, '_info.txt'), 'utf8');
    expect(info).toContain('stream-caller: label=caller codec=G.711%20A-law%20(pcm_alaw)');
    // The 200 reached the PBX once the legs took A-law: no packet went to a leg of the old codec.
    const stats = info.split('\n').filter((l) => l.startsWith('stats-'));
    expect(stats).toHaveLength(4);
    for (const line of stats) expect(line).toContain(' other-payload=0 ');
    expect(stats.filter((l) => / received=(6\d|7\d) /.test(l))).toHaveLength(2);
  }, 120_000);
});
