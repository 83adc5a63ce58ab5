/**
 * SIPREC features against a running callseal: sipp as the SRC where it can (µ-law, separate files,
 * re-INVITE with new metadata, OPTIONS, TCP, TLS), and a scripted SRC from Node where sipp cannot
 * (SRTP keys, precise hold, streams added and removed, CANCEL before answer, media timeout).
 * Files are judged by ffprobe and sox.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCallseal, ffprobe, run, freePort, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { linearToAlaw, linearToUlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { RawSrc, RtpSender, randomCrypto } from '../helpers/src.ts';
import { until } from '../helpers/api.ts';
import { parseInfo } from '../../src/recording/index.ts';
import { getHeader } from '../../src/sip/index.ts';

let cs: CallsealProcess | undefined;
const srcs: RawSrc[] = [];
afterEach(async () => {
  for (const s of srcs.splice(0)) s.close();
  await cs?.stop();
  cs = undefined;
});

const workdir = (): string => mkdtempSync(join(tmpdir(), 'callseal-feat-'));

function recordings(): { root: string; files: string[]; info: (i?: number) => Map<string, string[]> } {
  const root = join(cs?.home ?? '', 'recordings');
  const files = listFiles(root);
  const infos = files.filter((f) => f.endsWith('_info.txt'));
  return { root, files, info: (i = 0) => parseInfo(readFileSync(join(root, infos[i] ?? ''), 'utf8')) };
}

const one = (m: Map<string, string[]>, k: string): string => m.get(k)?.[0] ?? '';

/** RMS amplitude of a time window of one channel, measured by sox. */
function rms(path: string, channel: number, fromSec: number, lenSec: number): number {
  const text = run('bash', ['-c', `sox "${path}" -n remix ${channel} trim ${fromSec} ${lenSec} stat 2>&1`]);
  return Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(text)?.[1] ?? 'NaN');
}

async function recorded(count = 1): Promise<void> {
  for (let i = 0; i < count; i++) {
    const seen = (cs?.logs ?? []).filter((l) => l['msg'] === 'recording finished').length;
    if (seen >= count) return;
    await cs?.waitForLog((l) => l['msg'] === 'recording finished' && (cs?.logs ?? []).filter((x) => x['msg'] === 'recording finished').length >= count, 20000);
  }
}

function twoTonePcap(dir: string, codec: 'PCMA' | 'PCMU', seconds = 2): { pcap: string; durationMs: number } {
  const encode = codec === 'PCMA' ? linearToAlaw : linearToUlaw;
  const pt = codec === 'PCMA' ? 8 : 0;
  const pcap = join(dir, `tones-${codec}.pcap`);
  const { durationMs } = writeRtpPcap(pcap, [
    { dstPort: 6000, payloadType: pt, ssrc: 0x1234, audio: tone(440, seconds, encode) },
    { dstPort: 6002, payloadType: pt, ssrc: 0x5678, audio: tone(1000, seconds, encode) },
  ]);
  return { pcap, durationMs };
}

describe('sipp as the SRC', () => {
  it('µ-law call with separate files per party (pcm_mulaw, 1 channel each)', async () => {
    cs = await startCallseal({ config: { recording: { channels: 'separate' } } });
    const dir = workdir();
    const { pcap, durationMs } = twoTonePcap(dir, 'PCMU');
    const r = await runSipp(dir, siprecScenario({ codec: 'PCMU', metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 }), `127.0.0.1:${cs.sipPort}`);
    expect(r.code, r.errors + r.stderr).toBe(0);
    await recorded();
    const { root, files, info } = recordings();
    const wavs = files.filter((f) => f.endsWith('.wav'));
    expect(wavs.map((f) => f.replace(/^.*_/, ''))).toEqual(['callee.wav', 'caller.wav']);
    for (const w of wavs) {
      const p = ffprobe(join(root, w));
      expect(p).toMatchObject({ codec: 'pcm_mulaw', channels: 1, sampleRate: 8000 });
      expect(Math.abs(p.durationSec - Number(one(info(), 'duration-ms')) / 1000)).toBeLessThan(0.1);
    }
    expect(one(info(), 'channels')).toBe('separate');
    expect(one(info(), 'codec')).toBe('G.711 mu-law (pcm_mulaw)');
    expect(rms(join(root, wavs.find((w) => w.endsWith('_caller.wav')) ?? ''), 1, 0.5, 1)).toBeGreaterThan(0.1);
  });

  it('re-INVITE with changed metadata: the new parties are used and every version is kept', async () => {
    cs = await startCallseal();
    const dir = workdir();
    const { pcap, durationMs } = twoTonePcap(dir, 'PCMA');
    const carol = { id: 'cDM=', aor: 'tel:+4940111222', name: 'Carol Transfer', sends: BOB.sends };
    const r = await runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), reinviteMetadata: rsMetadata(ALICE, carol), pcap, holdMs: durationMs + 400 }), `127.0.0.1:${cs.sipPort}`);
    expect(r.code, r.errors + r.stderr).toBe(0);
    await recorded();
    const { root, files, info } = recordings();
    const meta = info();
    expect(one(meta, 'callee-number')).toBe('+4940111222');
    expect(one(meta, 'callee-name')).toBe('Carol Transfer');
    expect(meta.get('metadata-files')?.[0]?.split(' ')).toHaveLength(2);
    const xmls = files.filter((f) => f.endsWith('.xml'));
    expect(xmls).toHaveLength(2);
    expect(readFileSync(join(root, xmls[0] ?? ''), 'utf8')).toContain('Bob Berger');
    expect(readFileSync(join(root, xmls[1] ?? ''), 'utf8')).toContain('Carol Transfer');
    // The re-INVITE kept the ports: the recording is still one stereo file with both streams complete.
    expect(files.filter((f) => f.endsWith('.wav'))).toHaveLength(1);
    expect(one(meta, 'stats-caller')).toMatch(/lost=0/);
  });

  it('answers OPTIONS pings with 200, Allow and Supported', async () => {
    cs = await startCallseal();
    const dir = workdir();
    const scenario = `<?xml version="1.0" encoding="ISO-8859-1"?>
<scenario name="options">
  <send><![CDATA[
      OPTIONS sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sbc@[local_ip]:[local_port]>;tag=[pid]opt[call_number]
      To: <sip:srs@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200">
    <action>
      <ereg regexp="INVITE.*UPDATE" search_in="hdr" header="Allow:" check_it="true" assign_to="a"/>
      <ereg regexp="siprec" search_in="hdr" header="Supported:" check_it="true" assign_to="s"/>
    </action>
  </recv>
  <Reference variables="a,s"/>
</scenario>`;
    const r = await runSipp(dir, scenario, `127.0.0.1:${cs.sipPort}`, { calls: 5 });
    expect(r.code, r.errors + r.stderr + r.stdout).toBe(0);
  });

  it('records over TCP', async () => {
    cs = await startCallseal();
    const dir = workdir();
    const { pcap, durationMs } = twoTonePcap(dir, 'PCMA');
    const r = await runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 }), `127.0.0.1:${cs.sipPort}`, { transport: 't1' });
    expect(r.code, r.errors + r.stderr).toBe(0);
    await recorded();
    const { root, files, info } = recordings();
    expect(ffprobe(join(root, files.find((f) => f.endsWith('.wav')) ?? ''))).toMatchObject({ codec: 'pcm_alaw', channels: 2 });
    expect(one(info(), 'stats-callee')).toMatch(/expected=100 received=100 lost=0/);
  });

});

describe('scripted SRC (what sipp cannot send)', () => {
  it('SRTP with SDES keys (AES_CM_128_HMAC_SHA1_80 and _32) is decrypted before writing', async () => {
    cs = await startCallseal();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const k1 = randomCrypto('AES_CM_128_HMAC_SHA1_80');
    const k2 = randomCrypto('AES_CM_128_HMAC_SHA1_32');
    const { response, ports, answer } = await src.invite([
      { label: '1', payloadType: 8, codec: 'PCMA', crypto: k1 },
      { label: '2', payloadType: 8, codec: 'PCMA', crypto: k2 },
    ], rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    expect(answer).toMatch(/m=audio \d+ RTP\/SAVP 8 101/);
    expect(answer.match(/a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/g)).toHaveLength(1);
    expect(answer.match(/a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:/g)).toHaveLength(1);
    expect(ports[1]).toBe((ports[0] ?? 0) + 2);
    const a = new RtpSender(ports[0] ?? 0, 8, { crypto: k1 });
    const b = new RtpSender(ports[1] ?? 0, 8, { crypto: k2 });
    await Promise.all([a.play(tone(440, 1, linearToAlaw)), b.play(tone(1000, 1, linearToAlaw))]);
    // One forged packet per stream: counted as an authentication failure, never written.
    a.sendRaw(Buffer.concat([Buffer.from([0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.alloc(170, 3)]));
    await new Promise((r) => setTimeout(r, 200));
    a.close();
    b.close();
    expect((await src.bye()).status).toBe(200);
    await recorded();
    const { root, files, info } = recordings();
    const wav = join(root, files.find((f) => f.endsWith('.wav')) ?? '');
    expect(ffprobe(wav)).toMatchObject({ codec: 'pcm_alaw', channels: 2 });
    expect(one(info(), 'stats-caller')).toMatch(/expected=50 received=50 lost=0 .*auth-failures=1/);
    expect(one(info(), 'stats-callee')).toMatch(/expected=50 received=50 lost=0/);
    // Decrypted audio is a tone, not noise: sox sees the tone frequencies.
    const stat = run('bash', ['-c', `sox "${wav}" -n remix 1 trim 0.1 0.8 stat 2>&1`]);
    const freq = Number(/Rough\s+frequency:\s+(\d+)/.exec(stat)?.[1]);
    expect(freq).toBeGreaterThan(380);
    expect(freq).toBeLessThan(500);
  });

  it('records over TLS (SIPS signalling, B5) with a configured certificate; Debian sipp is built without TLS, so the scripted SRC signals', async () => {
    const dir = workdir();
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=callseal-test']);
    const tlsPort = await freePort();
    cs = await startCallseal({ config: { sip: { tls: { enabled: true, port: tlsPort, certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } } } });
    const src = await RawSrc.connect('TLS', tlsPort);
    srcs.push(src);
    const { response, ports } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    // The dialog stays on TLS: the SRC's BYE goes to a sips: Contact on the TLS port (RFC 3263, RFC 5630).
    expect(getHeader(response, 'contact')).toBe(`<sips:callseal@127.0.0.1:${tlsPort}>;+sip.srs`);
    const a = new RtpSender(ports[0] ?? 0, 8);
    const b = new RtpSender(ports[1] ?? 0, 8);
    await Promise.all([a.play(tone(440, 1, linearToAlaw)), b.play(tone(1000, 1, linearToAlaw))]);
    a.close();
    b.close();
    expect((await src.bye()).status).toBe(200);
    await recorded();
    const { info } = recordings();
    expect(one(info(), 'caller-number')).toBe('+4930123456');
    expect(one(info(), 'stats-caller')).toMatch(/expected=50 received=50 lost=0/);
    expect(one(info(), 'stats-callee')).toMatch(/expected=50 received=50 lost=0/);
  });

  it('hold (a=inactive re-INVITE, then resume) keeps the timeline: silence for the paused time, same file', async () => {
    cs = await startCallseal();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const streams = [{ label: 'a_leg', payloadType: 8, codec: 'PCMA' as const }, { label: 'b_leg', payloadType: 8, codec: 'PCMA' as const }];
    const { ports } = await src.invite(streams, rsMetadata(ALICE, BOB, { labels: ['a_leg', 'b_leg'] }));
    const a = new RtpSender(ports[0] ?? 0, 8);
    const b = new RtpSender(ports[1] ?? 0, 8);
    await Promise.all([a.play(tone(440, 1, linearToAlaw)), b.play(tone(1000, 1, linearToAlaw))]);
    const hold = await src.invite(streams.map((s) => ({ ...s, direction: 'inactive' as const })), undefined);
    expect(hold.answer.match(/a=inactive/g)).toHaveLength(2);
    expect(hold.ports).toEqual(ports);
    await new Promise((r) => setTimeout(r, 2000));
    const resume = await src.invite(streams, undefined);
    expect(resume.ports).toEqual(ports);
    // The SRC continues its RTP timestamps as if no time had passed: callseal must follow the wall clock.
    await Promise.all([a.play(tone(440, 1, linearToAlaw)), b.play(tone(1000, 1, linearToAlaw))]);
    a.close();
    b.close();
    await src.bye();
    await recorded();
    const { root, files, info } = recordings();
    const wav = join(root, files.find((f) => f.endsWith('.wav')) ?? '');
    const meta = info();
    const duration = Number(one(meta, 'duration-ms')) / 1000;
    expect(Math.abs(ffprobe(wav).durationSec - duration)).toBeLessThan(0.1);
    expect(duration).toBeGreaterThan(4);
    expect(rms(wav, 1, 0.3, 0.5)).toBeGreaterThan(0.1);
    // The paused middle is silence on both channels.
    expect(rms(wav, 1, 1.6, 1.2)).toBeLessThan(0.001);
    expect(rms(wav, 2, 1.6, 1.2)).toBeLessThan(0.001);
    expect(rms(wav, 2, duration - 0.8, 0.5)).toBeGreaterThan(0.1);
    expect(one(meta, 'stats-caller')).toMatch(/expected=100 received=100 lost=0/);
  });

  it('follows streams added and removed in re-INVITEs', async () => {
    cs = await startCallseal({ config: { recording: { channels: 'separate' } } });
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const s1 = { label: '1', payloadType: 0, codec: 'PCMU' as const };
    const s2 = { label: '2', payloadType: 0, codec: 'PCMU' as const };
    const s3 = { label: '3', payloadType: 0, codec: 'PCMU' as const };
    const first = await src.invite([s1, s2], rsMetadata(ALICE, BOB));
    const added = await src.invite([s1, s2, s3], undefined);
    expect(added.ports.slice(0, 2)).toEqual(first.ports);
    expect(added.ports[2]).toBeGreaterThan(0);
    const c = new RtpSender(added.ports[2] ?? 0, 0);
    await c.play(tone(300, 0.4, linearToUlaw));
    c.close();
    const removed = await src.invite([s1, s2, { ...s3, port: 0 }], undefined);
    expect(removed.ports[2]).toBe(0);
    await src.bye();
    await recorded();
    const { files, info } = recordings();
    expect(files.filter((f) => f.endsWith('.wav')).map((f) => f.replace(/^.*_/, ''))).toEqual(['callee.wav', 'caller.wav', 'stream-3.wav']);
    expect(one(info(), 'stats-stream-3')).toMatch(/received=20/);
  });

  it('G.722 is kept as G.722 (adpcm_g722, 16 kHz), one file per party since it cannot be interleaved', async () => {
    cs = await startCallseal();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const { ports, answer } = await src.invite([{ label: '1', payloadType: 9, codec: 'G722' }, { label: '2', payloadType: 9, codec: 'G722' }], rsMetadata(ALICE, BOB));
    expect(answer).toContain('a=rtpmap:9 G722/8000');
    const a = new RtpSender(ports[0] ?? 0, 9);
    const b = new RtpSender(ports[1] ?? 0, 9);
    await Promise.all([a.play(Buffer.alloc(8000, 0x33)), b.play(Buffer.alloc(8000, 0x44))]);
    a.close();
    b.close();
    await src.bye();
    await recorded();
    const { root, files, info } = recordings();
    const wavs = files.filter((f) => f.endsWith('.wav'));
    expect(wavs).toHaveLength(2);
    const meta = info();
    expect(one(meta, 'channels')).toBe('separate');
    for (const w of wavs) {
      const p = ffprobe(join(root, w));
      expect(p).toMatchObject({ codec: 'adpcm_g722', channels: 1, sampleRate: 16000 });
      expect(Math.abs(p.durationSec - Number(one(meta, 'duration-ms')) / 1000)).toBeLessThan(0.1);
    }
    // The payload bytes are in the file as sent (no transcoding, B2).
    const callerWav = readFileSync(join(root, wavs.find((w) => w.endsWith('_caller.wav')) ?? ''));
    expect(callerWav.includes(Buffer.alloc(160, 0x33))).toBe(true);
  });

  it('CANCEL before answer: 200 to the CANCEL, 487 to the INVITE, nothing recorded, ports returned', async () => {
    cs = await startCallseal({ config: { sip: { answerDelayMs: 1500 } } });
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const { offerSdp, siprecBody } = await import('../helpers/src.ts');
    const { contentType, body } = siprecBody(offerSdp([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }]), rsMetadata(ALICE, BOB));
    const branch = 'z9hG4bKcancelme1';
    const cseq = src.request('INVITE', { body, contentType, headers: ['Require: siprec'], branch });
    await new Promise((r) => setTimeout(r, 300));
    src.request('CANCEL', { cseq, branch });
    expect((await src.waitFinal(cseq, 'CANCEL')).status).toBe(200);
    expect((await src.waitFinal(cseq, 'INVITE')).status).toBe(487);
    await cs.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].includes('cancelled before answer'));
    await new Promise((r) => setTimeout(r, 2000));
    // Only the chain's own records (rollovers, checkpoints) may be there, no recording.
    expect(listFiles(join(cs.home, 'recordings')).filter((f) => f.includes('/') && !f.startsWith('chain/'))).toEqual([]);
    expect(listFiles(join(cs.home, 'spool'))).toEqual([]);
    const health = await (await fetch(`http://127.0.0.1:${cs.httpPort}/healthz`)).json() as { openLegs: number; siprec: { cancelled: number } };
    expect(health.openLegs).toBe(0);
    expect(health.siprec.cancelled).toBe(1);
  });

  it('ends the recording when media stops (media timeout), sends BYE to the SRC and keeps the files', async () => {
    cs = await startCallseal({ config: { recording: { mediaTimeoutSec: 5 } } });
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const { ports } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    const a = new RtpSender(ports[0] ?? 0, 8);
    await a.play(tone(440, 0.5, linearToAlaw));
    a.close();
    await recorded();
    await until('the BYE at the SRC', () => src.requests.includes('BYE'), 5000);
    const { info, files, root } = recordings();
    expect(one(info(), 'end-reason')).toBe('media-timeout');
    expect(ffprobe(join(root, files.find((f) => f.endsWith('.wav')) ?? '')).channels).toBe(2);
  });

  it('SIGTERM during a call: the recording is closed, complete and kept; BYE sent to the SRC', async () => {
    cs = await startCallseal();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    srcs.push(src);
    const { ports } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    const a = new RtpSender(ports[0] ?? 0, 8);
    await a.play(tone(440, 1, linearToAlaw));
    a.close();
    expect(await cs.stop('SIGTERM')).toBe(0);
    // The BYE left before the process ended; its datagram may be read after the exit event.
    await until('the BYE at the SRC', () => src.requests.includes('BYE'), 5000);
    const { info, files, root } = recordings();
    expect(one(info(), 'end-reason')).toBe('shutdown');
    expect(one(info(), 'stats-caller')).toMatch(/received=50 lost=0/);
    expect(ffprobe(join(root, files.find((f) => f.endsWith('.wav')) ?? '')).channels).toBe(2);
    expect(existsSync(join(cs.home, 'spool'))).toBe(true);
    expect(listFiles(join(cs.home, 'spool'))).toEqual([]);
  });
});
