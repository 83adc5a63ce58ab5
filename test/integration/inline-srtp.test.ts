/**
 * SRTP on an in-line leg (RFC 4568 SDES, RFC 3711), with real peers: baresip as an SRTP phone
 * behind the PBX (`mediaenc=srtp-mand`: RTP/SAVP, AES_CM_128_HMAC_SHA1_80) calls through callseal
 * to sipp as a plain-RTP trunk (`inline.trunk.srtp: 'rtp'`). callseal answers the phone with a key
 * of its own, decrypts the phone's audio with the phone's key, records it, and sends it on to the
 * trunk as plain RTP; the trunk's audio reaches the phone encrypted with callseal's key. A loopback
 * capture read by tshark shows that nothing callseal sent the trunk holds the phone's key. And the
 * reverse: a plain PBX (sipp) reaches an SRTP-only trunk (baresip, `inline.trunk.srtp: 'srtp'`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffprobe, freePort, run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { listFiles } from '../helpers/sipp.ts';
import { linearToUlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { startBaresip } from '../helpers/baresip.ts';
import { messagesStarting, pbxInvite, recvRequest, recvResponse, scenario, startSipp, uacInDialog, uasAnswer, uasInDialog, uasRecvInvite } from '../helpers/inline.ts';

const closers: (() => Promise<unknown> | undefined)[] = [];
let cs: CallsealProcess | undefined;
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cs?.stop();
  cs = undefined;
});

const PCMU_SDP = [
  'v=0', 'o=sipp 4242 1 IN IP4 [local_ip]', 's=-', 'c=IN IP4 [local_ip]', 't=0 0',
  'm=audio [media_port] RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', '',
].join('\r\n');

function frequency(path: string, channel: number): number {
  const text = run('bash', ['-c', `sox "${path}" -n remix ${channel} stat 2>&1`]);
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(text)?.[1] ?? 0);
}

/** A loopback capture written as classic pcap (so the test reads the raw frames itself). */
async function capture(filter: string, file: string): Promise<() => Promise<void>> {
  const child = spawn('tshark', ['-q', '-i', 'lo', '-F', 'pcap', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => { reject(new Error(`tshark did not start: ${err}`)); }, 15_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 500));
  return async () => {
    await new Promise((r) => setTimeout(r, 300));
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
  };
}

/** The frames of a classic pcap file (link-layer bytes). */
function pcapFrames(file: string): Buffer[] {
  const data = readFileSync(file);
  const frames: Buffer[] = [];
  for (let at = 24; at + 16 <= data.length;) {
    const length = data.readUInt32LE(at + 8);
    frames.push(data.subarray(at + 16, at + 16 + length));
    at += 16 + length;
  }
  return frames;
}

function tshark(file: string, args: readonly string[]): string[] {
  return execFileSync('tshark', ['-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter((l) => l !== '');
}

describe('SRTP on an in-line leg', () => {
  it('an SRTP phone (baresip) reaches a plain-RTP trunk (sipp): recorded with the right audio, the phone\'s key never sent to the trunk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-srtp-'));
    const trunkPort = await freePort(27000, 28999);
    const inlinePort = await freePort();
    cs = await startCallseal({
      config: {
        inline: {
          enabled: true, host: '127.0.0.1', port: inlinePort, tcp: false,
          pbx: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: 5999 } },
          trunk: { addresses: ['127.0.0.2'], hop: { host: '127.0.0.2', port: trunkPort }, srtp: 'rtp' },
        },
      },
    });
    const source = join(dir, 'caller.wav');
    run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', source, 'synth', '12', 'sine', '440', 'vol', '0.3']);
    const calleePcap = join(dir, 'callee.pcap');
    writeRtpPcap(calleePcap, [{ dstPort: 6000, payloadType: 0, ssrc: 0x22222222, audio: tone(1000, 2, linearToUlaw, 8000) }]);
    const pcap = join(dir, 'wire.pcap');
    // Other tests use the loopback addresses too: only callseal's SIP and relay ports are captured.
    const [rtpMin, rtpMax] = cs.rtpPorts;
    const stopCapture = await capture(`udp and (port ${inlinePort} or (host 127.0.0.2 and (port ${trunkPort} or portrange ${rtpMin}-${rtpMax})))`, pcap);
    closers.push(stopCapture);

    const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
      uasRecvInvite(true), uasAnswer(200, 'OK', { body: PCMU_SDP }), recvRequest('ACK'),
      '  <nop>\n    <action>\n      <exec play_pcap_audio="callee.pcap"/>\n    </action>\n  </nop>',
      '  <pause milliseconds="3000"/>', uasInDialog('BYE', 1), recvResponse(200),
    ]), { ip: '127.0.0.2', port: trunkPort });
    closers.push(() => { trunk.child.kill(); return undefined; });
    const phone = await startBaresip(join(dir), { ip: '127.0.0.1', source, accountParams: ';mediaenc=srtp-mand', codecs: 'PCMU' });
    closers.push(() => phone.stop());
    await phone.command('dial', `sip:+4989765432@127.0.0.1:${inlinePort}`);
    const t = await trunk.done;
    expect(t.code, `trunk: ${t.out}\nphone: ${phone.output.join('\n').slice(-3000)}`).toBe(0);
    await cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    await phone.stop();
    await stopCapture();

    // The phone offered SRTP and got an SRTP answer with another key; the trunk got plain RTP/AVP and no key.
    const sdp = tshark(pcap, ['-d', `udp.port==${inlinePort},sip`, '-d', `udp.port==${trunkPort},sip`, '-Y', 'sdp', '-T', 'fields', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'sdp.media', '-e', 'sdp.media_attr', '-E', 'occurrence=a', '-E', 'aggregator=|']);
    const fromPhone = sdp.find((l) => l.split('\t')[1] === String(inlinePort)) ?? '';
    const toPhone = sdp.find((l) => l.split('\t')[1] === String(phone.sipPort)) ?? '';
    const toTrunk = sdp.find((l) => l.split('\t')[0] === '127.0.0.1' && l.split('\t')[1] === String(trunkPort)) ?? '';
    const keyOf = (line: string): string | undefined => /crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]{40})/.exec(line)?.[1];
    const phoneKey = keyOf(fromPhone);
    expect(phoneKey, sdp.join('\n')).toBeDefined();
    expect(fromPhone).toContain('RTP/SAVP');
    expect(toPhone).toContain('RTP/SAVP');
    expect(keyOf(toPhone)).toBeDefined();
    expect(keyOf(toPhone)).not.toBe(phoneKey);
    expect(toTrunk).toContain('RTP/AVP');
    expect(toTrunk).not.toContain('RTP/SAVP');
    expect(toTrunk).not.toContain('crypto');

    // Nothing callseal sent the trunk holds the phone's key: neither its base64 text nor its 30 raw bytes.
    const raw = Buffer.from(phoneKey ?? '', 'base64');
    const fromCallseal = (port: number): boolean => port === inlinePort || (port >= rtpMin && port <= rtpMax);
    const toTrunkFrames = pcapFrames(pcap).filter((f) => f.length > 42 && f.readUInt32BE(30) === 0x7f000002 && fromCallseal(f.readUInt16BE(34)));
    expect(toTrunkFrames.length).toBeGreaterThan(50);
    for (const f of toTrunkFrames) {
      expect(f.includes(Buffer.from(phoneKey ?? ''))).toBe(false);
      expect(f.includes(raw.subarray(0, 16))).toBe(false);
    }
    // What callseal relayed to the trunk is plain RTP (tshark reads PCMU packets), the phone's 440 Hz tone.
    const rtp = tshark(pcap, ['-d', `udp.port==${trunkPort},sip`, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', `rtp && ip.dst==127.0.0.2 && udp.srcport >= ${rtpMin} && udp.srcport <= ${rtpMax}`, '-T', 'fields', '-e', 'rtp.p_type', '-e', 'rtp.payload']);
    expect(rtp.length).toBeGreaterThan(50);
    expect(rtp.every((l) => l.startsWith('0\t'))).toBe(true);

    const root = join(cs.home, 'recordings');
    const wav = listFiles(root).filter((f) => f.endsWith('.wav'));
    expect(wav).toHaveLength(1);
    const wavPath = join(root, wav[0] ?? '');
    const probe = ffprobe(wavPath);
    expect(probe.channels).toBe(2);
    expect(probe.codec).toBe('pcm_mulaw');
    // The phone's tone (decrypted with its key) on the caller's channel, the trunk's on the callee's.
    expect(frequency(wavPath, 1)).toBeGreaterThan(350);
    expect(frequency(wavPath, 1)).toBeLessThan(550);
    expect(frequency(wavPath, 2)).toBeGreaterThan(800);
    expect(frequency(wavPath, 2)).toBeLessThan(1200);
    // The trunk's audio reached the phone encrypted with callseal's key: baresip decrypted it.
    const heard = phone.received().find((f) => f.includes('dec')) ?? phone.received()[0] ?? '';
    expect(frequency(heard, 1), phone.received().join(',')).toBeGreaterThan(800);
    // No key of either leg in callseal's log.
    const log = JSON.stringify(cs.logs);
    expect(log).not.toContain(phoneKey ?? '');
    expect(log).not.toContain(keyOf(toPhone) ?? '');
  }, 120_000);

  it('the reverse: a plain-RTP PBX (sipp) reaches an SRTP trunk (baresip) with trunk.srtp "srtp"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-srtp-'));
    const inlinePort = await freePort();
    const source = join(dir, 'callee.wav');
    run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', source, 'synth', '12', 'sine', '1000', 'vol', '0.3']);
    // baresip's RTP leaves from 127.0.0.1 whatever its SIP address (its socket is not bound to it),
    // so here the phone is the trunk on 127.0.0.1 and the PBX's sipp is on 127.0.0.3.
    const phone = await startBaresip(dir, { ip: '127.0.0.1', source, accountParams: ';mediaenc=srtp-mand', codecs: 'PCMU', user: 'alice', autoAnswer: true });
    closers.push(() => phone.stop());
    cs = await startCallseal({
      config: {
        inline: {
          enabled: true, host: '127.0.0.1', port: inlinePort, tcp: false,
          pbx: { addresses: ['127.0.0.3'], hop: { host: '127.0.0.3', port: 5999 } },
          trunk: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: phone.sipPort }, srtp: 'srtp' },
        },
      },
    });
    writeRtpPcap(join(dir, 'caller.pcap'), [{ dstPort: 6000, payloadType: 0, ssrc: 0x11111111, audio: tone(440, 2, linearToUlaw, 8000) }]);
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('alice', { sdp: PCMU_SDP.replace('o=sipp', 'o=pbx') }), recvResponse(100, { optional: true }), recvResponse(180, { optional: true }),
      recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      '  <nop>\n    <action>\n      <exec play_pcap_audio="caller.pcap"/>\n    </action>\n  </nop>', '  <pause milliseconds="3000"/>',
      uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: '127.0.0.3', target: `127.0.0.1:${inlinePort}` });
    closers.push(() => { pbx.child.kill(); return undefined; });
    const p = await pbx.done;
    expect(p.code, `pbx: ${p.out}\nphone: ${phone.output.join('\n').slice(-3000)}`).toBe(0);
    await cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    await phone.stop();
    // The PBX got a plain answer, without any key.
    const answer = messagesStarting(pbx.messages(), 'SIP/2.0 200')[0] ?? '';
    expect(answer).toMatch(/m=audio \d+ RTP\/AVP 0/);
    expect(answer).not.toContain('a=crypto');

    const root = join(cs.home, 'recordings');
    const wav = listFiles(root).filter((f) => f.endsWith('.wav'));
    expect(wav).toHaveLength(1);
    const wavPath = join(root, wav[0] ?? '');
    expect(ffprobe(wavPath).channels).toBe(2);
    // The PBX's tone on the caller's channel; the phone's (decrypted with its key) on the callee's.
    expect(frequency(wavPath, 1)).toBeGreaterThan(350);
    expect(frequency(wavPath, 1)).toBeLessThan(550);
    expect(frequency(wavPath, 2)).toBeGreaterThan(800);
    expect(frequency(wavPath, 2)).toBeLessThan(1200);
    // The phone decrypted what callseal sent it with the key callseal offered.
    const heard = phone.received().find((f) => f.includes('dec')) ?? phone.received()[0] ?? '';
    expect(frequency(heard, 1), phone.received().join(',')).toBeGreaterThan(350);
    expect(frequency(heard, 1)).toBeLessThan(550);
  }, 120_000);
});
