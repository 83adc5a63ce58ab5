/**
 * The relay's forwarding core with plain buffers: source check, SRTP per side, RTCP, DTMF,
 * prompts and the continuity of each side's outgoing stream.
 */
import { describe, expect, it } from 'vitest';
import { RelayCore } from './relay-core.ts';
import { SrtpReceiver, SrtpSender, buildRtp, newSdesCrypto, parseRtp, parseSdesCrypto } from '../rtp/index.ts';

const A = { remoteHost: '192.0.2.10', remotePort: 4000 };
const B = { remoteHost: '198.51.100.20', remotePort: 6000 };

function rtp(seq: number, opts: { ssrc?: number; pt?: number; payload?: Buffer; ts?: number } = {}): Buffer {
  return buildRtp({ payloadType: opts.pt ?? 8, sequenceNumber: seq, timestamp: opts.ts ?? seq * 160, ssrc: opts.ssrc ?? 0x1111, payload: opts.payload ?? Buffer.alloc(160, seq & 0xff) });
}

describe('RelayCore: forwarding', () => {
  it('forwards a to b and b to a, each to the SDP address until a source is latched, then to the latched source', () => {
    const core = new RelayCore(A, B, 'sdp');
    const fromA = core.receive('a', rtp(1), '192.0.2.10', 4002, 1000);
    // b has sent nothing yet: its SDP address and port.
    expect(fromA.send).toMatchObject({ to: 'b', host: '198.51.100.20', port: 6000 });
    expect(fromA.send?.packet.equals(rtp(1))).toBe(true);
    const fromB = core.receive('b', rtp(7, { ssrc: 0x2222 }), '198.51.100.20', 6000, 1001);
    // a sent from 4002 (not its SDP port 4000): symmetric RTP answers where it came from.
    expect(fromB.send).toMatchObject({ to: 'a', host: '192.0.2.10', port: 4002 });
    expect(core.counts.a).toMatchObject({ received: 1, forwarded: 1 });
    expect(core.counts.b).toMatchObject({ received: 1, forwarded: 1 });
  });

  it('accepts nothing from a side before its SDP, sends nothing to it, and counts both', () => {
    const core = new RelayCore(A, {}, 'sdp');
    expect(core.receive('b', rtp(1), '198.51.100.20', 6000, 1000).send).toBeUndefined();
    const r = core.receive('a', rtp(1), '192.0.2.10', 4000, 1000);
    expect(r.send).toBeUndefined();
    expect(r.rtp?.sequenceNumber).toBe(1);
    expect(core.counts.b.foreignSource).toBe(1);
    expect(core.counts.a.notForwarded).toBe(1);
    core.update('b', B);
    expect(core.receive('a', rtp(2), '192.0.2.10', 4000, 1020).send?.port).toBe(6000);
  });

  it('drops packets from another address or a second port beside a live one, and RTCP, with counts', () => {
    const core = new RelayCore(A, B, 'sdp');
    core.receive('a', rtp(1), '192.0.2.10', 4000, 1000);
    expect(core.receive('a', rtp(2), '203.0.113.5', 4000, 1010).send).toBeUndefined();
    expect(core.receive('a', rtp(3), '192.0.2.10', 4999, 1020).send).toBeUndefined();
    const rtcp = Buffer.from([0x81, 200, 0, 6, 0, 0, 0x11, 0x11, ...Buffer.alloc(20)]);
    expect(core.receive('a', rtcp, '192.0.2.10', 4000, 1030).send).toBeUndefined();
    expect(core.receive('a', Buffer.from([0x80, 8, 0]), '192.0.2.10', 4000, 1040).send).toBeUndefined();
    expect(core.counts.a).toMatchObject({ received: 5, forwarded: 1, foreignSource: 2, rtcp: 1, malformed: 1 });
  });

  it('latches the first source in `first` mode (a NATed phone whose SDP names a private address)', () => {
    const core = new RelayCore({ remoteHost: '10.0.0.5', remotePort: 4000 }, B, 'first');
    const r = core.receive('a', rtp(1), '203.0.113.9', 31000, 1000);
    expect(r.send?.to).toBe('b');
    const back = core.receive('b', rtp(1, { ssrc: 2 }), '198.51.100.20', 6000, 1001);
    expect(back.send).toMatchObject({ host: '203.0.113.9', port: 31000 });
    expect(core.receive('a', rtp(2), '203.0.113.10', 31000, 1020).send).toBeUndefined();
  });

  it('stops a side put on hold with 0.0.0.0 and resumes it with a new address', () => {
    const core = new RelayCore(A, B, 'sdp');
    core.update('b', { remoteHost: '0.0.0.0' });
    expect(core.receive('a', rtp(1), '192.0.2.10', 4000, 1000).send).toBeUndefined();
    core.update('b', { remoteHost: '198.51.100.21', remotePort: 6002 });
    expect(core.receive('a', rtp(2), '192.0.2.10', 4000, 1020).send).toMatchObject({ host: '198.51.100.21', port: 6002 });
  });
});

describe('RelayCore: SRTP per side', () => {
  it.each(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const)('%s on a, plain RTP on b: decrypts a, encrypts to a with callseal\'s own key', (suite) => {
    const phoneKey = newSdesCrypto(1, suite);
    const ownKey = newSdesCrypto(1, suite);
    const core = new RelayCore({ ...A, srtp: { receive: phoneKey, send: ownKey } }, B, 'sdp');
    const phoneTx = new SrtpSender(parseSdesCrypto(phoneKey));
    const phoneRx = new SrtpReceiver(parseSdesCrypto(ownKey));
    const plain = rtp(5);
    const toB = core.receive('a', phoneTx.protect(plain), '192.0.2.10', 4000, 1000);
    expect(toB.send?.packet.equals(plain)).toBe(true);
    const fromB = rtp(9, { ssrc: 0x3333 });
    const toA = core.receive('b', Buffer.from(fromB), '198.51.100.20', 6000, 1001);
    expect(toA.send?.packet.length).toBe(fromB.length + (suite.endsWith('80') ? 10 : 4));
    expect(phoneRx.unprotect(toA.send?.packet ?? Buffer.alloc(0)).equals(fromB)).toBe(true);
  });

  it('SRTP on both sides: re-encrypts under the other side\'s key; a forged packet is counted and dropped', () => {
    const aPeer = newSdesCrypto();
    const aOwn = newSdesCrypto();
    const bPeer = newSdesCrypto();
    const bOwn = newSdesCrypto();
    const core = new RelayCore({ ...A, srtp: { receive: aPeer, send: aOwn } }, { ...B, srtp: { receive: bPeer, send: bOwn } }, 'sdp');
    const aTx = new SrtpSender(parseSdesCrypto(aPeer));
    const bRx = new SrtpReceiver(parseSdesCrypto(bOwn));
    for (const seq of [65534, 65535, 0, 1]) {
      const out = core.receive('a', aTx.protect(rtp(seq)), '192.0.2.10', 4000, 1000 + seq % 100);
      expect(bRx.unprotect(out.send?.packet ?? Buffer.alloc(0)).equals(rtp(seq))).toBe(true);
    }
    const forged = new SrtpSender(parseSdesCrypto(newSdesCrypto())).protect(rtp(2));
    expect(core.receive('a', forged, '192.0.2.10', 4000, 1100).send).toBeUndefined();
    expect(core.counts.a).toMatchObject({ forwarded: 4, authFailures: 1 });
  });

  it('refuses a bad key on update and keeps the old one', () => {
    const peer = newSdesCrypto();
    const core = new RelayCore({ ...A, srtp: { receive: peer, send: newSdesCrypto() } }, B, 'sdp');
    expect(() => { core.update('a', { srtp: { receive: 'garbage', send: newSdesCrypto() } }); }).toThrow(/malformed/);
    expect(core.receive('a', new SrtpSender(parseSdesCrypto(peer)).protect(rtp(1)), '192.0.2.10', 4000, 1000).send).toBeDefined();
    core.update('a', { srtp: null });
    expect(core.receive('a', rtp(2), '192.0.2.10', 4000, 1020).send).toBeDefined();
  });
});

describe('RelayCore: DTMF', () => {
  it('notes each RFC 4733 event once per side, retransmitted end packets included, and forwards them', () => {
    const core = new RelayCore({ ...A, dtmfPayloadType: 101 }, B, 'sdp');
    const ev = (code: number, end: boolean, ts: number, seq: number): Buffer => rtp(seq, { pt: 101, ts, payload: Buffer.from([code, end ? 0x80 : 0, 0, 160]) });
    const digits = [ev(10, false, 8000, 1), ev(10, true, 8000, 2), ev(10, true, 8000, 3), ev(10, true, 8000, 4), ev(1, true, 9600, 5), ev(1, true, 9600, 6)]
      .map((p, i) => core.receive('a', p, '192.0.2.10', 4000, 1000 + 20 * i))
      .map((r) => r.digit)
      .filter((d) => d !== undefined);
    expect(digits).toEqual(['*', '1']);
    expect(core.counts.a.forwarded).toBe(6);
  });
});

describe('RelayCore: prompts and continuity', () => {
  it('continues the SSRC, sequence and timestamp last sent, marks the first frame, replaces the other side meanwhile, and resumes on the same stream', () => {
    const core = new RelayCore(A, B, 'sdp');
    for (let i = 0; i < 3; i++) core.receive('b', rtp(100 + i, { ssrc: 0xbbbb }), '198.51.100.20', 6000, 1000 + 20 * i);
    core.setPrompting('a', true);
    const frames = [0, 1, 2].map((i) => core.prompt('a', Buffer.alloc(160, 0xd5), 8, 160, 8000, i === 0, 1060 + 20 * i));
    const sent = frames.map((f) => parseRtp(f.send?.packet ?? Buffer.alloc(0)));
    expect(sent.map((p) => p.ssrc)).toEqual([0xbbbb, 0xbbbb, 0xbbbb]);
    expect(sent.map((p) => p.sequenceNumber)).toEqual([103, 104, 105]);
    expect(sent.map((p) => p.timestamp)).toEqual([102 * 160 + 160, 102 * 160 + 320, 102 * 160 + 480]);
    expect(sent.map((p) => p.marker)).toEqual([true, false, false]);
    expect(frames[0]?.send).toMatchObject({ to: 'a', host: '192.0.2.10', port: 4000 });
    // What b sends meanwhile is not forwarded (but still handed to b's taps).
    const during = core.receive('b', rtp(103, { ssrc: 0xbbbb }), '198.51.100.20', 6000, 1060);
    expect(during.send).toBeUndefined();
    expect(during.replaced).toBe(true);
    core.setPrompting('a', false);
    // b goes on with its own numbering (and a new SSRC later): rewritten onto the stream a knows.
    const resumed = core.receive('b', rtp(110, { ssrc: 0xbbbb }), '198.51.100.20', 6000, 1140);
    const after = parseRtp(resumed.send?.packet ?? Buffer.alloc(0));
    expect(after).toMatchObject({ ssrc: 0xbbbb, sequenceNumber: 106, marker: true });
    expect(after.timestamp).toBe(102 * 160 + 480 + 320);
    // Taps that record prompts get the header as sent, so prompt and packets number one stream.
    expect(resumed.heard).toMatchObject({ ssrc: 0xbbbb, sequenceNumber: 106, timestamp: after.timestamp });
    expect(resumed.rtp).toMatchObject({ sequenceNumber: 110 });
    const next = parseRtp(core.receive('b', rtp(111, { ssrc: 0xbbbb }), '198.51.100.20', 6000, 1160).send?.packet ?? Buffer.alloc(0));
    expect(next).toMatchObject({ sequenceNumber: 107, marker: false, timestamp: after.timestamp + 160 });
    const moved = parseRtp(core.receive('b', rtp(5, { ssrc: 0xcccc, ts: 77 }), '198.51.100.20', 6000, 1180).send?.packet ?? Buffer.alloc(0));
    expect(moved).toMatchObject({ ssrc: 0xbbbb, sequenceNumber: 108, marker: true, timestamp: after.timestamp + 320 });
    expect(core.counts.a.promptPackets).toBe(3);
    expect(core.counts.b.notForwarded).toBe(1);
  });

  it('starts a stream of its own when nothing was sent to the side, encrypted when the side is SRTP', () => {
    const own = newSdesCrypto();
    const core = new RelayCore({ ...A, srtp: { receive: newSdesCrypto(), send: own } }, B, 'sdp');
    core.setPrompting('a', true);
    const f0 = core.prompt('a', Buffer.alloc(160, 1), 0, 160, 8000, true, 1000);
    const f1 = core.prompt('a', Buffer.alloc(160, 2), 0, 160, 8000, false, 1020);
    const rx = new SrtpReceiver(parseSdesCrypto(own));
    const p0 = parseRtp(rx.unprotect(f0.send?.packet ?? Buffer.alloc(0)));
    const p1 = parseRtp(rx.unprotect(f1.send?.packet ?? Buffer.alloc(0)));
    expect(p1.ssrc).toBe(p0.ssrc);
    expect((p1.sequenceNumber - p0.sequenceNumber) & 0xffff).toBe(1);
    expect((p1.timestamp - p0.timestamp) >>> 0).toBe(160);
    expect(p0.marker).toBe(true);
    expect(f0.rtp.payload.equals(Buffer.alloc(160, 1))).toBe(true);
  });

  it('advances the timestamp over a pause in whole frames, so an early packet never overlaps the one before', () => {
    const core = new RelayCore(A, B, 'sdp');
    core.receive('b', rtp(1, { ssrc: 5 }), '198.51.100.20', 6000, 1000);
    core.setPrompting('a', true);
    const p = parseRtp(core.prompt('a', Buffer.alloc(160), 8, 160, 8000, true, 1013).send?.packet ?? Buffer.alloc(0));
    expect(p.timestamp).toBe(160 + 160);
    core.setPrompting('a', false);
    const q = parseRtp(core.receive('b', rtp(9, { ssrc: 5 }), '198.51.100.20', 6000, 1083).send?.packet ?? Buffer.alloc(0));
    // 70 ms is three and a half frames: rounded to four.
    expect((q.timestamp - p.timestamp) % 160).toBe(0);
    expect(q.timestamp - p.timestamp).toBe(4 * 160);
  });

  it('sends no prompt to a side whose address is not known, and counts none', () => {
    const core = new RelayCore(A, {}, 'sdp');
    expect(core.prompt('b', Buffer.alloc(160), 8, 160, 8000, true, 1000).send).toBeUndefined();
    expect(core.counts.b.promptPackets).toBe(0);
  });
});
