/**
 * Issue 2 against the running callseal: a third party sends RTP to a leg's port during a call
 * (random SSRCs, 65,000-byte payloads, another tone) from another address and from another port
 * of the SRC's address. Only the SRC's stream is written: the WAV is no longer than the call
 * (ffprobe), the caller channel is the SRC's tone (sox), and the foreign packets are counted in
 * `_info.txt`. With `rtp.sourceCheck: first`, the first sender is latched when the SDP address is
 * not where the media comes from (NAT).
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startCallseal, ffprobe, run, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { RawSrc, RtpSender, offerSdp, siprecBody } from '../helpers/src.ts';
import { buildRtp } from '../../src/rtp/index.ts';
import { parseInfo } from '../../src/recording/index.ts';

let cs: CallsealProcess | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await cs?.stop();
  cs = undefined;
});

const one = (m: Map<string, string[]>, k: string): string => m.get(k)?.[0] ?? '';

/** A UDP socket bound to `address` (any 127/8 address is local on Linux). */
async function socketOn(address: string): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => { sock.bind(0, address, () => { r(); }); });
  closers.push(() => { sock.close(); });
  return sock;
}

/** Sends hostile RTP to `port` every 5 ms until `stop()`: random SSRCs, huge payloads, a 3 kHz tone. */
function attack(sock: dgram.Socket, port: number): { stop: () => void; sent: () => number } {
  const noise = tone(3000, 1, linearToAlaw);
  let sent = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < 4; k++) {
      const big = sent % 8 === 0;
      const payload = big ? Buffer.alloc(65_000, 0x2a) : noise.subarray((sent * 160) % 7840, ((sent * 160) % 7840) + 160);
      sock.send(buildRtp({ payloadType: 8, sequenceNumber: sent & 0xffff, timestamp: (sent * 0x80000000) >>> 0, ssrc: randomBytes(4).readUInt32BE(0), payload }), port, '127.0.0.1');
      sent++;
    }
  }, 5);
  return { stop: () => { clearInterval(timer); }, sent: () => sent };
}

async function finishedInfo(c: CallsealProcess): Promise<{ wav: string; info: Map<string, string[]> }> {
  await c.waitForLog((l) => l['msg'] === 'recording finished', 30000);
  const root = join(c.home, 'recordings');
  const files = listFiles(root);
  const info = parseInfo(readFileSync(join(root, files.find((f) => f.endsWith('_info.txt')) ?? ''), 'utf8'));
  return { wav: join(root, files.find((f) => f.endsWith('.wav')) ?? ''), info };
}

function roughFrequency(wav: string, channel: number): number {
  const text = run('bash', ['-c', `sox "${wav}" -n remix ${channel} trim 0.2 2 stat 2>&1`]);
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(text)?.[1] ?? 'NaN');
}

describe('issue 2: RTP is recorded only from the negotiated source', () => {
  it('a third party sending to a leg during a call is counted as foreign-source and never written', async () => {
    cs = await startCallseal();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    closers.push(() => { src.close(); });
    const { response, ports } = await src.invite([
      { label: '1', payloadType: 8, codec: 'PCMA' },
      { label: '2', payloadType: 8, codec: 'PCMA' },
    ], rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    const callerPort = ports[0] ?? 0;
    const callStartedMs = Date.now();
    const a = new RtpSender(callerPort, 8);
    const b = new RtpSender(ports[1] ?? 0, 8);
    closers.push(() => { a.close(); b.close(); });
    // The SRC's caller stream goes first and latches its port; then two attackers join: one on
    // another address, one on another port of the SRC's own address.
    const legit = Promise.all([a.play(tone(440, 3, linearToAlaw)), b.play(tone(1000, 3, linearToAlaw))]);
    await new Promise((r) => setTimeout(r, 300));
    const other = attack(await socketOn('127.0.0.2'), callerPort);
    const sameHost = attack(await socketOn('127.0.0.1'), callerPort);
    await legit;
    other.stop();
    sameHost.stop();
    expect((await src.bye()).status).toBe(200);
    const callMs = Date.now() - callStartedMs;
    const { wav, info } = await finishedInfo(cs);

    // No WAV is longer than its session (the old code wrote minutes of attacker audio here).
    const probe = ffprobe(wav);
    expect(probe.durationSec).toBeLessThanOrEqual(Number(one(info, 'duration-ms')) / 1000 + 0.01);
    expect(probe.durationSec).toBeLessThan(callMs / 1000 + 1);
    const caller = one(info, 'stats-caller');
    expect(caller).toMatch(/expected=150 received=150 lost=0 /);
    expect(Number(/foreign-source=(\d+)/.exec(caller)?.[1])).toBeGreaterThan(500);
    expect(caller).toMatch(/ssrc-changes=0 /);
    expect(one(info, 'stats-callee')).toMatch(/foreign-source=0 /);
    // The caller channel is the SRC's 440 Hz tone, not the attacker's 3 kHz.
    const f = roughFrequency(wav, 1);
    expect(f).toBeGreaterThan(300);
    expect(f).toBeLessThan(600);
    expect(run(join(import.meta.dirname, '../../tools/verify.sh'), [wav.replace(/\.wav$/, '')])).toContain('OK:');
  });

  it('with rtp.sourceCheck first, the first sender is latched when the SDP names another address (NAT)', async () => {
    cs = await startCallseal({ config: { rtp: { sourceCheck: 'first' } } });
    const src = await RawSrc.connect('UDP', cs.sipPort);
    closers.push(() => { src.close(); });
    // The SDP names a documentation address (the SRC's private side); media comes from 127.0.0.1.
    const { contentType, body } = siprecBody(offerSdp([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], '192.0.2.10'), rsMetadata(ALICE, BOB));
    const cseq = src.request('INVITE', { body, contentType, headers: ['Require: siprec'] });
    const response = await src.waitFinal(cseq, 'INVITE');
    expect(response.status).toBe(200);
    src.toTag = /;tag=([^;\s]+)/.exec(response.headers.find((h) => h.name === 'to')?.value ?? '')?.[1];
    src.request('ACK', { cseq });
    const ports = [...response.body.toString().matchAll(/^m=audio (\d+)/gm)].map((m) => Number(m[1]));
    const a = new RtpSender(ports[0] ?? 0, 8);
    const b = new RtpSender(ports[1] ?? 0, 8);
    closers.push(() => { a.close(); b.close(); });
    const legit = Promise.all([a.play(tone(440, 2, linearToAlaw)), b.play(tone(1000, 2, linearToAlaw))]);
    await new Promise((r) => setTimeout(r, 300));
    const other = attack(await socketOn('127.0.0.3'), ports[0] ?? 0);
    await legit;
    other.stop();
    expect((await src.bye()).status).toBe(200);
    const { wav, info } = await finishedInfo(cs);
    expect(one(info, 'stats-caller')).toMatch(/expected=100 received=100 lost=0 /);
    expect(Number(/foreign-source=(\d+)/.exec(one(info, 'stats-caller'))?.[1])).toBeGreaterThan(200);
    expect(ffprobe(wav).durationSec).toBeLessThanOrEqual(Number(one(info, 'duration-ms')) / 1000 + 0.01);
  });
});
