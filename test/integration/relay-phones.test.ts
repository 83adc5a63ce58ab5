/**
 * The relay between real RTP peers: sipp sending a capture (`play_pcap_audio`) and baresip, a real
 * phone speaking SRTP (SDES, `mediaenc=srtp-mand`). The test itself plays the signalling part of
 * the in-line mode with a minimal SIP UAS: it opens the relay from the caller's offer and answers
 * with the relay's port (and callseal's own key). The other side is a UDP socket of the test. The
 * audio that crossed the relay is checked with sox, the tap's WAV with ffprobe.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import { MediaEngine } from '../../src/media/index.ts';
import { buildRtp, newSdesCrypto, parseRtp } from '../../src/rtp/index.ts';
import { silentLogger } from '../../src/common/log.ts';
import { ffprobe, freePort, freeUdpBlock, run } from '../helpers/callseal.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { linearToAlaw, linearToUlaw, tone } from '../helpers/g711.ts';

/** What the test's UAS does with an offer: returns the answer's SDP. */
type OnOffer = (offer: sdpTransform.SessionDescription) => Promise<string>;

/** A minimal SIP UAS on UDP: 200 to INVITE (the same again for a retransmission), 200 to BYE. */
async function miniUas(onOffer: OnOffer): Promise<{ port: number; byes: () => number; close: () => void }> {
  const sock = dgram.createSocket('udp4');
  const answered = new Map<string, string>();
  let byes = 0;
  sock.on('message', (data, rinfo) => {
    const text = data.toString();
    const [head = '', body = ''] = text.split('\r\n\r\n');
    const lines = head.split('\r\n');
    const method = (lines[0] ?? '').split(' ')[0];
    const header = (name: string): string[] => lines.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    const callId = header('Call-ID')[0] ?? '';
    const reply = (extra: string[], sdp?: string): void => {
      const to = (header('To')[0] ?? '').includes('tag=') ? header('To')[0] ?? '' : `${header('To')[0] ?? ''};tag=uas1`;
      const msg = ['SIP/2.0 200 OK', ...header('Via'), header('From')[0] ?? '', to, callId, header('CSeq')[0] ?? '', ...extra,
        `Content-Length: ${sdp ? Buffer.byteLength(sdp) : 0}`, '', sdp ?? ''].join('\r\n');
      if (method === 'INVITE') answered.set(callId, msg);
      sock.send(msg, rinfo.port, rinfo.address);
    };
    if (method === 'INVITE') {
      const cached = answered.get(callId);
      if (cached !== undefined) {
        sock.send(cached, rinfo.port, rinfo.address);
        return;
      }
      answered.set(callId, '');
      void onOffer(sdpTransform.parse(body)).then((sdp) => {
        reply([`Contact: <sip:uas@127.0.0.1:${sock.address().port}>`, 'Content-Type: application/sdp'], sdp);
      });
    } else if (method === 'BYE') {
      byes++;
      reply([]);
    }
  });
  await new Promise<void>((r) => { sock.bind(0, '127.0.0.1', () => { r(); }); });
  return { port: sock.address().port, byes: () => byes, close: () => { sock.close(); } };
}

/** The answer SDP pointing the caller at the relay. */
function answerSdp(port: number, proto: string, payloadType: number, codec: string, crypto?: string): string {
  return ['v=0', 'o=callseal 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} ${proto} ${payloadType}`,
    `a=rtpmap:${payloadType} ${codec}/8000`, ...(crypto ? [`a=crypto:${crypto}`] : []), 'a=sendrecv', ''].join('\r\n');
}

/** The test's side b: a UDP socket that keeps the payloads it receives and can talk back. */
async function sideB(): Promise<{ sock: dgram.Socket; port: number; payloads: Buffer[]; headers: ReturnType<typeof parseRtp>[] }> {
  const sock = dgram.createSocket('udp4');
  const payloads: Buffer[] = [];
  const headers: ReturnType<typeof parseRtp>[] = [];
  sock.on('message', (d) => {
    const p = parseRtp(d);
    headers.push(p);
    payloads.push(Buffer.from(p.payload));
  });
  await new Promise<void>((r) => { sock.bind(0, '127.0.0.1', () => { r(); }); });
  return { sock, port: sock.address().port, payloads, headers };
}

/** sox's rough frequency of raw 8 kHz G.711 audio. */
function roughHz(path: string, type: 'al' | 'ul' | 'wav'): number {
  const args = type === 'wav' ? [path, '-n', 'stat'] : ['-t', type, '-r', '8000', '-c', '1', path, '-n', 'stat'];
  // sox prints `stat` on stderr.
  const out = spawnSync('sox', args, { encoding: 'utf8' }).stderr;
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(out)?.[1] ?? NaN);
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let engine: MediaEngine;
let dir: string;
const cleanups: (() => void)[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-relay-phones-'));
  const base = await freeUdpBlock(15000, 26999, 20);
  engine = new MediaEngine({ host: '127.0.0.1', portMin: base, portMax: base + 19, workers: 1, log: silentLogger() });
  await engine.start();
});

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('relay with sipp', () => {
  it('relays the audio of a capture sipp plays, and a tap records it', async () => {
    const b = await sideB();
    cleanups.push(() => { b.sock.close(); });
    let relayId = '';
    const uas = await miniUas(async (offer) => {
      const m = offer.media[0];
      relayId = `sipp-${Date.now()}`;
      const ports = await engine.openRelay({ relayId, a: { remoteHost: offer.connection?.ip ?? m?.connection?.ip ?? '', remotePort: m?.port ?? 0 }, b: { remoteHost: '127.0.0.1', remotePort: b.port } });
      await engine.openLeg(0, { legId: 'tap', host: '127.0.0.1', port: 0, codec: 'PCMA', audioPayloadType: 8, path: join(dir, 'tap.wav'), startMs: Date.now(), reorderMs: 60, tap: { relayId, side: 'a' } });
      return answerSdp(ports.aPort, 'RTP/AVP', 8, 'PCMA');
    });
    cleanups.push(uas.close);
    const pcap = join(dir, 'tone.pcap');
    const { packets } = writeRtpPcap(pcap, [{ dstPort: 6000, payloadType: 8, ssrc: 77, audio: tone(440, 2, linearToAlaw) }]);
    writeFileSync(join(dir, 'uac.xml'), sippUac(pcap, 2600));
    const mediaPort = await freePort(29000, 32000);
    const sipp = spawn('sipp', ['-sf', join(dir, 'uac.xml'), '-m', '1', '-i', '127.0.0.1', '-p', String(await freePort(27000, 28999)), '-mi', '127.0.0.1', '-mp', String(mediaPort), '-nostdin', '-timeout', '30s', `127.0.0.1:${uas.port}`], { cwd: dir, stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => { sipp.on('close', r); });
    expect(code).toBe(0);
    await until(() => b.payloads.length >= packets - 2, 'the relayed capture');
    const leg = await engine.closeLeg('tap', Date.now());
    const result = await engine.closeRelay(relayId);
    expect(result.a.forwarded).toBe(b.payloads.length);
    expect(result.a.foreignSource).toBe(0);
    writeFileSync(join(dir, 'relayed.al'), Buffer.concat(b.payloads));
    expect(Math.abs(roughHz(join(dir, 'relayed.al'), 'al') - 440)).toBeLessThan(20);
    // What crossed the relay is byte for byte what sipp sent.
    expect(Buffer.concat(b.payloads).equals(tone(440, 2, linearToAlaw).subarray(0, 160 * b.payloads.length))).toBe(true);
    expect(leg.stats.received).toBe(b.payloads.length);
    const probe = ffprobe(join(dir, 'tap.wav'));
    expect(probe.codec).toBe('pcm_alaw');
    expect(probe.durationSec).toBeGreaterThan(1.9);
    expect(Math.abs(roughHz(join(dir, 'tap.wav'), 'wav') - 440)).toBeLessThan(20);
  });
});

/** A sipp UAC that offers A-law, plays a capture after the ACK, and hangs up after `holdMs`. */
function sippUac(pcap: string, holdMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="relay-uac">
  <send retrans="500"><![CDATA[
      INVITE sip:bob@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:bob@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:alice@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=alice 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
  ]]></send>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
      ACK sip:bob@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <nop><action><exec play_pcap_audio="${pcap}"/></action></nop>
  <pause milliseconds="${holdMs}"/>
  <send retrans="500"><![CDATA[
      BYE sip:bob@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
`;
}

/** Sends one baresip ctrl_tcp command (netstring JSON); resolves with the reply. */
async function baresipCommand(port: number, command: string, params: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        const msg = JSON.stringify({ command, params, token: 't1' });
        let buf = '';
        s.on('connect', () => { s.write(`${Buffer.byteLength(msg)}:${msg},`); });
        s.on('data', (d) => {
          buf += d.toString();
          if (buf.includes('"response":true')) {
            s.end();
            resolve(buf);
          }
        });
        s.on('error', reject);
      });
    } catch (err) {
      if (attempt > 40) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('relay with baresip over SRTP', () => {
  it('decrypts what the phone sends, encrypts what it gets with callseal\'s own key, plays it a prompt, and a tap records it', async () => {
    const b = await sideB();
    cleanups.push(() => { b.sock.close(); });
    let relayId = '';
    let bPort = 0;
    let offerCrypto = '';
    const ownKey = newSdesCrypto(1);
    const uas = await miniUas(async (offer) => {
      const m = offer.media[0];
      const c = m?.crypto?.find((x) => x.suite === 'AES_CM_128_HMAC_SHA1_80');
      offerCrypto = c ? `${c.id} ${c.suite} ${c.config}` : '';
      relayId = `baresip-${Date.now()}`;
      const ports = await engine.openRelay({
        relayId,
        a: { remoteHost: m?.connection?.ip ?? offer.connection?.ip ?? '', remotePort: m?.port ?? 0, srtp: { receive: offerCrypto, send: ownKey.replace(/^1 /, `${c?.id ?? 1} `) } },
        b: { remoteHost: '127.0.0.1', remotePort: b.port },
      });
      bPort = ports.bPort;
      await engine.openLeg(0, { legId: 'tap-a', host: '127.0.0.1', port: 0, codec: 'PCMU', audioPayloadType: 0, path: join(dir, 'tap-a.wav'), startMs: Date.now(), reorderMs: 60, tap: { relayId, side: 'a' } });
      await engine.openLeg(0, { legId: 'tap-b', host: '127.0.0.1', port: 0, codec: 'PCMU', audioPayloadType: 0, path: join(dir, 'tap-b.wav'), startMs: Date.now(), reorderMs: 60, tap: { relayId, side: 'b' } });
      return answerSdp(ports.aPort, 'RTP/SAVP', 0, 'PCMU', ownKey.replace(/^1 /, `${c?.id ?? 1} `));
    });
    cleanups.push(uas.close);

    // The phone: baresip (G.711, a WAV file as microphone, sndfile keeping what it plays), sending a 440 Hz tone, SRTP mandatory.
    const sipPort = await freePort(27000, 28999);
    const ctrlPort = await freePort();
    const rtpBase = await freeUdpBlock(29000, 32000, 20);
    run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', join(dir, 'speech.wav'), 'synth', '8', 'sine', '440', 'gain', '-6']);
    const config = [
      'poll_method epoll', `sip_listen 127.0.0.1:${sipPort}`, 'audio_player aubridge,nil', `audio_source aufile,${join(dir, 'speech.wav')}`,
      'audio_alert aubridge,nil', 'ausrc_srate 8000', 'auplay_srate 8000', 'ausrc_channels 1', 'auplay_channels 1',
      `rtp_ports ${rtpBase}-${rtpBase + 19}`, 'rtp_timeout 0', 'module_path /usr/lib/baresip/modules',
      ...['g711', 'aufile', 'aubridge', 'sndfile', 'srtp', 'ctrl_tcp'].map((m) => `module ${m}.so`),
      'module_app account.so', 'module_app menu.so', `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`, `snd_path ${join(dir, 'rec')}`, 'net_interface 127.0.0.1', '',
    ].join('\n');
    writeFileSync(join(dir, 'config'), config);
    writeFileSync(join(dir, 'accounts'), `<sip:alice@127.0.0.1:${sipPort}>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand\n`);
    mkdirSync(join(dir, 'rec'));
    const phone: ChildProcess = spawn('baresip', ['-f', dir], { cwd: dir, stdio: 'ignore' });
    cleanups.push(() => { phone.kill('SIGKILL'); });
    await baresipCommand(ctrlPort, 'dial', `sip:bob@127.0.0.1:${uas.port}`);
    await until(() => b.payloads.length >= 100, 'the phone\'s audio through the relay');
    expect(offerCrypto).toMatch(/AES_CM_128_HMAC_SHA1_80 inline:/);

    // Side b talks back: 1000 Hz, which reaches the phone encrypted under callseal's key.
    const back = tone(1000, 3, linearToUlaw);
    for (let i = 0; i < 100; i++) {
      b.sock.send(buildRtp({ payloadType: 0, sequenceNumber: 200 + i, timestamp: 32000 + 160 * i, ssrc: 0xb0b, payload: back.subarray(160 * i, 160 * (i + 1)) }), bPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    // A prompt to the phone: a 700 Hz announcement of one second.
    const prompt = tone(700, 1, linearToUlaw);
    await engine.playRelay(relayId, 'a', Array.from({ length: 50 }, (_, i) => prompt.subarray(160 * i, 160 * (i + 1))), 0, 20);
    await new Promise((r) => setTimeout(r, 300));
    await baresipCommand(ctrlPort, 'hangup', '');
    await until(() => uas.byes() > 0, 'the phone\'s BYE');
    const tapA = await engine.closeLeg('tap-a', Date.now());
    const tapB = await engine.closeLeg('tap-b', Date.now());
    const result = await engine.closeRelay(relayId);
    expect(result.a.authFailures).toBe(0);
    expect(result.a.foreignSource).toBe(0);
    expect(result.b.forwarded).toBe(100);
    expect(result.a.promptPackets).toBe(50);

    // What the phone sent, decrypted: its 440 Hz tone.
    writeFileSync(join(dir, 'from-phone.ul'), Buffer.concat(b.payloads.slice(20)));
    expect(Math.abs(roughHz(join(dir, 'from-phone.ul'), 'ul') - 440)).toBeLessThan(30);
    // What the phone played (sndfile's record of its decoder): callseal's SRTP decrypted by baresip.
    const decoded = readdirSync(join(dir, 'rec')).filter((f) => f.includes('dec')).map((f) => join(dir, 'rec', f));
    expect(decoded.length).toBeGreaterThan(0);
    const heard = decoded[0] ?? '';
    expect(ffprobe(heard).durationSec).toBeGreaterThan(2);
    // Silence off at the start: b's two seconds of 1000 Hz come first; and at the end (reversed):
    // the prompt's second of 700 Hz comes last. Inner windows, so a slow machine stretching either keeps them.
    run('sox', [heard, join(dir, 'heard-b.wav'), 'silence', '1', '0.02', '1%', 'trim', '0.3', '0.9']);
    run('sox', [heard, join(dir, 'heard-prompt.wav'), 'reverse', 'silence', '1', '0.02', '1%', 'trim', '0.2', '0.5']);
    expect(Math.abs(roughHz(join(dir, 'heard-b.wav'), 'wav') - 1000)).toBeLessThan(40);
    expect(Math.abs(roughHz(join(dir, 'heard-prompt.wav'), 'wav') - 700)).toBeLessThan(40);
    // The tap of b holds b's tone and then the prompt the phone heard instead.
    expect(tapA.stats.received).toBeGreaterThan(100);
    expect(tapB.stats.received).toBeGreaterThanOrEqual(148);
    expect(ffprobe(join(dir, 'tap-a.wav')).codec).toBe('pcm_mulaw');
    expect(Math.abs(roughHz(join(dir, 'tap-a.wav'), 'wav') - 440)).toBeLessThan(30);
  });
});
