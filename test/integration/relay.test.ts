/**
 * The in-line mode's media relay through a real MediaEngine and its worker thread, with real UDP
 * sockets on 127.0.0.1 as the two phones: forwarding both ways, the source check, SRTP on one side,
 * a tap leg whose WAV ffprobe reads, a prompt with continuity, RFC 4733 digits, and a worker that
 * dies under a relay.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MediaEngine, TEST_CRASH_ENV, type WorkerFailure } from '../../src/media/index.ts';
import { SrtpReceiver, SrtpSender, buildRtp, newSdesCrypto, parseRtp, parseSdesCrypto, type RtpPacket } from '../../src/rtp/index.ts';
import { silentLogger } from '../../src/common/log.ts';
import { InvalidStateError } from '../../src/common/errors.ts';
import { ffprobe, freeUdpBlock } from '../helpers/callseal.ts';

/** A phone: a UDP socket that records what it receives. */
interface Phone {
  readonly socket: dgram.Socket;
  readonly port: number;
  readonly received: Buffer[];
  send(packet: Buffer, port: number): void;
}

async function phone(): Promise<Phone> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (d) => { received.push(d); });
  await new Promise<void>((r) => { socket.bind(0, '127.0.0.1', () => { r(); }); });
  return { socket, port: socket.address().port, received, send: (p, port) => { socket.send(p, port, '127.0.0.1'); } };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `count` 20 ms A-law packets, paced in real time. */
async function talk(from: Phone, toPort: number, count: number, opts: { ssrc: number; firstSeq?: number; byte?: number; protect?: SrtpSender }): Promise<void> {
  for (let i = 0; i < count; i++) {
    const seq = ((opts.firstSeq ?? 1) + i) & 0xffff;
    const p = buildRtp({ payloadType: 8, sequenceNumber: seq, timestamp: seq * 160, ssrc: opts.ssrc, payload: Buffer.alloc(160, opts.byte ?? 0x55) });
    from.send(opts.protect ? opts.protect.protect(p) : p, toPort);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let engine: MediaEngine;
let dir: string;
const phones: Phone[] = [];

async function startEngine(): Promise<void> {
  const base = await freeUdpBlock(15000, 26999, 40);
  engine = new MediaEngine({ host: '127.0.0.1', portMin: base, portMax: base + 39, workers: 1, log: silentLogger() });
  await engine.start();
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-relay-'));
  await startEngine();
});

afterEach(async () => {
  for (const p of phones.splice(0)) p.socket.close();
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

async function twoPhones(): Promise<[Phone, Phone]> {
  const a = await phone();
  const b = await phone();
  phones.push(a, b);
  return [a, b];
}

describe('relay: forwarding', () => {
  it('relays both ways once both SDP addresses are known, drops a foreign sender, and counts', async () => {
    const [a, b] = await twoPhones();
    const intruder = await phone();
    phones.push(intruder);
    const ports = await engine.openRelay({ relayId: 'r1', a: { remoteHost: '127.0.0.1', remotePort: a.port }, b: {} });
    expect(ports.host).toBe('127.0.0.1');
    expect(ports.bPort).toBe(ports.aPort + 2);
    // b's answer has not come: a's packets go nowhere, b's are not accepted.
    await talk(a, ports.aPort, 5, { ssrc: 1 });
    b.send(buildRtp({ payloadType: 8, sequenceNumber: 1, timestamp: 0, ssrc: 2, payload: Buffer.alloc(160) }), ports.bPort);
    // The worker must have seen them before the answer's SDP reaches it (the activity report, every second).
    await until(() => engine.relayActivity('r1')?.b.foreignSource === 1 && engine.relayActivity('r1')?.a.notForwarded === 5, 'the early packets counted');
    engine.updateRelay('r1', 'b', { remoteHost: '127.0.0.1', remotePort: b.port });
    await talk(a, ports.aPort, 10, { ssrc: 1, firstSeq: 6 });
    await talk(b, ports.bPort, 10, { ssrc: 2, byte: 0x33 });
    await talk(intruder, ports.aPort, 3, { ssrc: 3 });
    await until(() => b.received.length >= 10 && a.received.length >= 10, 'relayed packets');
    expect(b.received.map((p) => parseRtp(p).sequenceNumber)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(a.received.every((p) => parseRtp(p).ssrc === 2 && p[20] === 0x33)).toBe(true);
    const result = await engine.closeRelay('r1');
    expect(result.a).toMatchObject({ received: 18, forwarded: 10, notForwarded: 5, foreignSource: 3 });
    expect(result.b).toMatchObject({ received: 11, forwarded: 10, foreignSource: 1 });
    // Idempotent; a relay never opened is an error.
    expect(await engine.closeRelay('r1')).toEqual(result);
    await expect(engine.closeRelay('nope')).rejects.toThrow(InvalidStateError);
    expect(engine.ports.inUse).toBe(0);
  });

  it('SRTP on a, plain RTP on b: decrypts with the phone\'s key and encrypts to it with callseal\'s own', async () => {
    const [a, b] = await twoPhones();
    const phoneKey = newSdesCrypto();
    const ownKey = newSdesCrypto();
    const ports = await engine.openRelay({ relayId: 'r2', a: { remoteHost: '127.0.0.1', remotePort: a.port, srtp: { receive: phoneKey, send: ownKey } }, b: { remoteHost: '127.0.0.1', remotePort: b.port } });
    await talk(a, ports.aPort, 10, { ssrc: 11, firstSeq: 65530, protect: new SrtpSender(parseSdesCrypto(phoneKey)) });
    await talk(b, ports.bPort, 10, { ssrc: 12 });
    await until(() => b.received.length >= 10 && a.received.length >= 10, 'relayed packets');
    // b gets plain RTP across the sequence number wrap; a gets SRTP under callseal's key.
    expect(b.received.map((p) => parseRtp(p).sequenceNumber)).toEqual([65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3]);
    const rx = new SrtpReceiver(parseSdesCrypto(ownKey));
    expect(a.received.map((p) => parseRtp(rx.unprotect(p)).sequenceNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // A packet under another key is refused and counted.
    a.send(new SrtpSender(parseSdesCrypto(newSdesCrypto())).protect(buildRtp({ payloadType: 8, sequenceNumber: 4, timestamp: 0, ssrc: 11, payload: Buffer.alloc(160) })), ports.aPort);
    await until(() => (engine.relayActivity('r2')?.a.authFailures ?? 0) > 0, 'the auth failure in the activity report', 5000);
    expect((await engine.closeRelay('r2')).a).toMatchObject({ forwarded: 10, authFailures: 1 });
  });
});

describe('relay: taps, prompts and DTMF', () => {
  it('a tap leg records what one side sends to a WAV, opened after the relay and closed while it goes on', async () => {
    const [a, b] = await twoPhones();
    const ports = await engine.openRelay({ relayId: 'r3', a: { remoteHost: '127.0.0.1', remotePort: a.port }, b: { remoteHost: '127.0.0.1', remotePort: b.port } });
    await talk(a, ports.aPort, 10, { ssrc: 21 });
    const startMs = Date.now();
    await engine.openLeg(0, { legId: 'tap-a', host: '127.0.0.1', port: 0, codec: 'PCMA', audioPayloadType: 8, path: join(dir, 'tap-a.wav'), startMs, reorderMs: 60, tap: { relayId: 'r3', side: 'a' } });
    await talk(a, ports.aPort, 50, { ssrc: 21, firstSeq: 11 });
    const leg = await engine.closeLeg('tap-a', Date.now());
    expect(leg.stats.received).toBeGreaterThanOrEqual(49);
    expect(leg.stats.foreignSource).toBe(0);
    const probe = ffprobe(join(dir, 'tap-a.wav'));
    expect(probe.codec).toBe('pcm_alaw');
    expect(probe.durationSec).toBeGreaterThan(0.9);
    expect(probe.durationSec).toBeLessThan(1.5);
    // The relay went on after the tap closed.
    await talk(a, ports.aPort, 5, { ssrc: 21, firstSeq: 61 });
    await until(() => b.received.length >= 65, 'packets after the tap closed');
    await expect(engine.openLeg(0, { legId: 'tap-x', host: '127.0.0.1', port: 0, codec: 'PCMA', audioPayloadType: 8, path: join(dir, 'x.wav'), startMs, reorderMs: 60, tap: { relayId: 'none', side: 'a' } })).rejects.toThrow(/not open/);
    await engine.closeRelay('r3');
  });

  it('a prompt to a continues a\'s stream, replaces b meanwhile, is recorded by the tap of b, and resolves when played', async () => {
    const [a, b] = await twoPhones();
    const ports = await engine.openRelay({ relayId: 'r4', a: { remoteHost: '127.0.0.1', remotePort: a.port }, b: { remoteHost: '127.0.0.1', remotePort: b.port } });
    const startMs = Date.now();
    await engine.openLeg(0, { legId: 'tap-b', host: '127.0.0.1', port: 0, codec: 'PCMA', audioPayloadType: 8, path: join(dir, 'tap-b.wav'), startMs, reorderMs: 60, tap: { relayId: 'r4', side: 'b' } });
    await talk(b, ports.bPort, 10, { ssrc: 31, firstSeq: 500, byte: 0x33 });
    await until(() => a.received.length >= 10, 'b before the prompt');
    const frames = Array.from({ length: 50 }, () => Buffer.alloc(160, 0x77));
    const t0 = Date.now();
    const playing = engine.playRelay('r4', 'a', frames, 8, 20);
    // b goes on talking once the prompt is heard: a hears only the prompt until it ends.
    await until(() => a.received.some((p) => p[12] === 0x77), 'the first prompt frame');
    await talk(b, ports.bPort, 10, { ssrc: 31, firstSeq: 510, byte: 0x33 });
    await playing;
    const playedMs = Date.now() - t0;
    await talk(b, ports.bPort, 5, { ssrc: 31, firstSeq: 540, byte: 0x33 });
    await until(() => a.received.length >= 65, 'b after the prompt');
    const got = a.received.map((p) => parseRtp(p));
    const prompt = got.filter((p) => p.payload[0] === 0x77);
    expect(prompt).toHaveLength(50);
    expect(playedMs).toBeGreaterThanOrEqual(20 * 49 - 5);
    // One stream throughout: same SSRC, sequence numbers without a gap or a repeat, marker on the first prompt frame.
    expect(new Set(got.map((p) => p.ssrc))).toEqual(new Set([31]));
    const seqs = got.map((p) => p.sequenceNumber);
    expect(seqs).toEqual(seqs.map((_, i) => (500 + i) & 0xffff));
    expect(prompt[0]?.marker).toBe(true);
    expect(got.indexOf(prompt[0] as RtpPacket)).toBe(10);
    expect(got.slice(60).every((p) => p.payload[0] === 0x33)).toBe(true);
    expect(got[60]?.marker).toBe(true);
    for (let i = 1; i < got.length; i++) expect(((got[i]?.timestamp ?? 0) - (got[i - 1]?.timestamp ?? 0)) >>> 0).toBeGreaterThan(0);
    const leg = await engine.closeLeg('tap-b', Date.now());
    // The tap of b: b's packets, the prompt in place of the ten a did not hear, b again.
    expect(leg.stats.received).toBe(10 + 50 + 5);
    const result = await engine.closeRelay('r4');
    expect(result.a.promptPackets).toBe(50);
    expect(result.b.notForwarded).toBe(10);
    expect(ffprobe(join(dir, 'tap-b.wav')).codec).toBe('pcm_alaw');
    // The file holds every byte of the prompt and of what b said while a heard it.
    const wav = readFileSync(join(dir, 'tap-b.wav'));
    const countOf = (byte: number): number => wav.reduce((n, x) => n + (x === byte ? 1 : 0), 0);
    expect(countOf(0x77)).toBe(50 * 160);
    expect(countOf(0x33)).toBe(15 * 160);
  });

  it('raises relayDtmf once per RFC 4733 event per side, and a prompt resolves when its relay closes', async () => {
    const [a, b] = await twoPhones();
    const ports = await engine.openRelay({ relayId: 'r5', a: { remoteHost: '127.0.0.1', remotePort: a.port, dtmfPayloadType: 101 }, b: { remoteHost: '127.0.0.1', remotePort: b.port, dtmfPayloadType: 96 } });
    const digits: string[] = [];
    engine.on('relayDtmf', (relayId, fromSide, digit) => { digits.push(`${relayId}:${fromSide}:${digit}`); });
    const event = (pt: number, code: number, ts: number, seq: number, end: boolean): Buffer => buildRtp({ payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: 41, payload: Buffer.from([code, end ? 0x8a : 0x0a, 0, 160]) });
    let seq = 1;
    for (const [code, ts] of [[10, 1000], [1, 3000]] as const) {
      for (let i = 0; i < 3; i++) a.send(event(101, code, ts, seq++, false), ports.aPort);
      for (let i = 0; i < 3; i++) a.send(event(101, code, ts, seq++, true), ports.aPort);
    }
    b.send(event(96, 5, 7000, 1, true), ports.bPort);
    b.send(event(96, 5, 7000, 2, true), ports.bPort);
    await until(() => digits.length >= 3, 'digits');
    await new Promise((r) => setTimeout(r, 100));
    expect(digits).toEqual(['r5:a:*', 'r5:a:1', 'r5:b:5']);
    const long = engine.playRelay('r5', 'b', Array.from({ length: 500 }, () => Buffer.alloc(160)), 8, 20);
    await new Promise((r) => setTimeout(r, 100));
    await engine.closeRelay('r5');
    await long;
  });
});

describe('relay: worker failure', () => {
  it('names the relay in workerFailed, and closeRelay answers with the last counts and the reason', async () => {
    await engine.close();
    process.env[TEST_CRASH_ENV] = '40';
    try {
      await startEngine();
    } finally {
      Reflect.deleteProperty(process.env, TEST_CRASH_ENV);
    }
    const [a, b] = await twoPhones();
    const failures: WorkerFailure[] = [];
    engine.on('workerFailed', (f) => { failures.push(f); });
    const ports = await engine.openRelay({ relayId: 'r6', a: { remoteHost: '127.0.0.1', remotePort: a.port }, b: { remoteHost: '127.0.0.1', remotePort: b.port } });
    await talk(a, ports.aPort, 60, { ssrc: 51 });
    await until(() => failures.length > 0, 'the worker failure');
    expect(failures[0]?.relayIds).toEqual(['r6']);
    const result = await engine.closeRelay('r6');
    expect(result.workerFailed).toMatch(/test-only crash/);
    expect(engine.ports.inUse).toBe(0);
    expect(b.received.length).toBeGreaterThan(0);
  });
});
