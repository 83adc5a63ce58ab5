/**
 * Fuzz-style robustness: thousands of mutated SIP messages (UDP and TCP) and RTP packets thrown at
 * a running callseal, then a normal SIPREC call from sipp must still record. Deterministic: a
 * seeded generator makes the same inputs on every run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import { startCallseal, ffprobe, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { RawSrc, offerSdp, siprecBody } from '../helpers/src.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TORTURE = join(import.meta.dirname, '../../../shared/testdata/rfc4475');

function seeds(): Buffer[] {
  const { contentType, body } = siprecBody(offerSdp([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }]), rsMetadata(ALICE, BOB));
  const invite = Buffer.from(`INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKfuzz\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: fuzz@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:9>;+sip.src\r\nRequire: siprec\r\nMax-Forwards: 70\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return [invite, ...readdirSync(TORTURE).filter((f) => f.endsWith('.dat')).map((f) => readFileSync(join(TORTURE, f)))];
}

function mutate(input: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(input);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(rnd() * Math.max(1, b.length));
    switch (Math.floor(rnd() * 8)) {
      case 0: b[pos] = Math.floor(rnd() * 256); break;
      case 1: b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1 + Math.floor(rnd() * 20))]); break;
      case 2: b = Buffer.concat([b.subarray(0, pos), Buffer.from(['\r\n', ':', ';', ',', '<', '>', '"', '\0', '%', ' '][Math.floor(rnd() * 10)] ?? ''), b.subarray(pos)]); break;
      case 3: b = b.subarray(0, pos); break;
      case 4: b = Buffer.from(b.toString('latin1').replace(/Content-Length: \d+/i, `Content-Length: ${Math.floor(rnd() * 1e6) - 1000}`), 'latin1'); break;
      case 5: b = Buffer.from(b.toString('latin1').replace('\r\n', `\r\nX-Big: ${'A'.repeat(Math.floor(rnd() * 70000))}\r\n`), 'latin1'); break;
      case 6: b = Buffer.from(b.toString('latin1').replace(/(boundary=)(\S+)/, `$1${Math.floor(rnd() * 1e9)}`), 'latin1'); break;
      default: b = Buffer.concat([b, b.subarray(0, Math.floor(rnd() * b.length))]);
    }
  }
  return b.subarray(0, 65000);
}

let cs: CallsealProcess;
beforeAll(async () => {
  cs = await startCallseal({ env: { CALLSEAL_LOG_LEVEL: 'info' } });
});
afterAll(async () => {
  await cs.stop();
});

describe('fuzz', () => {
  it('survives 5,000 mutated SIP messages over UDP and 500 over TCP, and 10,000 hostile RTP packets', async () => {
    const rnd = prng(4475);
    const base = seeds();
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => { udp.bind(0, '127.0.0.1', () => { r(); }); });
    for (let i = 0; i < 5000; i++) {
      udp.send(mutate(base[i % base.length] ?? Buffer.alloc(0), rnd), cs.sipPort, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 50; i++) {
      const sock = net.connect({ host: '127.0.0.1', port: cs.sipPort });
      await new Promise<void>((r) => { sock.once('connect', () => { r(); }); sock.once('error', () => { r(); }); });
      for (let j = 0; j < 10; j++) sock.write(mutate(base[(i * 10 + j) % base.length] ?? Buffer.alloc(0), rnd));
      sock.on('error', () => undefined);
      sock.end();
    }
    // A real session, then hostile RTP at its ports.
    const src = await RawSrc.connect('UDP', cs.sipPort);
    const { ports } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    expect(ports).toHaveLength(2);
    for (let i = 0; i < 10000; i++) {
      const len = Math.floor(rnd() * 300);
      const pkt = Buffer.alloc(len);
      for (let k = 0; k < len; k++) pkt[k] = Math.floor(rnd() * 256);
      if (len > 0 && rnd() < 0.7) pkt[0] = 0x80 | Math.floor(rnd() * 0x40);
      if (len > 1 && rnd() < 0.5) pkt[1] = 8;
      udp.send(pkt, ports[i % 2] ?? 0, '127.0.0.1');
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await src.bye()).status).toBe(200);
    src.close();
    udp.close();
    await cs.waitForLog((l) => l['msg'] === 'recording finished');
    const health = await fetch(`http://127.0.0.1:${cs.httpPort}/healthz`);
    expect(health.status).toBe(200);
    const body = await health.json() as { sip: { malformed: number } };
    expect(body.sip.malformed).toBeGreaterThan(1000);
  });

  it('then records a normal call from sipp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-fuzz-'));
    const pcap = join(dir, 'p.pcap');
    const { durationMs } = writeRtpPcap(pcap, [
      { dstPort: 6000, payloadType: 8, ssrc: 1, audio: tone(440, 1, linearToAlaw) },
      { dstPort: 6002, payloadType: 8, ssrc: 2, audio: tone(880, 1, linearToAlaw) },
    ]);
    const before = listFiles(join(cs.home, 'recordings')).filter((f) => f.endsWith('.wav'));
    const r = await runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 }), `127.0.0.1:${cs.sipPort}`);
    expect(r.code, r.errors).toBe(0);
    await cs.waitForLog((l) => l['msg'] === 'recording finished' && cs.logs.filter((x) => x['msg'] === 'recording finished').length >= 2);
    const after = listFiles(join(cs.home, 'recordings')).filter((f) => f.endsWith('.wav'));
    const fresh = after.filter((f) => !before.includes(f));
    expect(fresh).toHaveLength(1);
    expect(ffprobe(join(cs.home, 'recordings', fresh[0] ?? ''))).toMatchObject({ codec: 'pcm_alaw', channels: 2, sampleRate: 8000 });
    expect(cs.child.exitCode).toBeNull();
  });
});
