/**
 * Issue 3, first finding: anyone could open recording sessions. A real callseal on loopback with
 * an allowlist of 127.0.0.1/32 refuses an SRC bound to 127.0.0.5 (403 over UDP, connection closed
 * over TCP, nothing sealed), while 127.0.0.1 still records; and with the default allowlist a
 * flood of INVITEs from one source is rate-limited (503 with Retry-After) without exhausting the
 * RTP ports, so a call from another allowed address still records.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc, RtpSender, offerSdp, siprecBody } from '../helpers/src.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';

interface Health {
  sealed: number;
  sip: { refusedNotAllowed: number };
  siprec: { sessions: number; rateLimited: number; overCapacity: number };
  transport: { refusedNotAllowed: number };
  tables: { serverTransactions: number; dialogs: number; rateSources: number };
}

let cs: CallsealProcess | undefined;
afterEach(async () => {
  await cs?.stop();
  cs = undefined;
});

async function health(c: CallsealProcess): Promise<Health> {
  return await (await fetch(`http://127.0.0.1:${c.httpPort}/healthz`)).json() as Health;
}

const STREAMS = [{ label: '1', payloadType: 8, codec: 'PCMA' as const }, { label: '2', payloadType: 8, codec: 'PCMA' as const }];

/** One SIPREC INVITE with its own Call-ID and branch, as raw bytes. */
function invite(localPort: number, callId: string): Buffer {
  const { contentType, body } = siprecBody(offerSdp(STREAMS), rsMetadata(ALICE, BOB));
  return Buffer.from([
    'INVITE sip:srs@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.2:${localPort};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
    `From: <sip:flood@127.0.0.2>;tag=${randomBytes(4).toString('hex')}`,
    'To: <sip:srs@127.0.0.1>', `Call-ID: ${callId}`, 'CSeq: 1 INVITE',
    `Contact: <sip:flood@127.0.0.2:${localPort}>;+sip.src`, 'Require: siprec', 'Max-Forwards: 70',
    `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n'));
}

describe('SIP admission (issue 3)', () => {
  it('refuses SIP from a source outside sip.allow: 403 to INVITE and OPTIONS, TCP closed, logged, nothing sealed', async () => {
    cs = await startCallseal({ config: { sip: { allow: ['127.0.0.1/32'] } } });
    const stranger = await RawSrc.connect('UDP', cs.sipPort, { localAddress: '127.0.0.5' });
    const { response } = await stranger.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(response.status).toBe(403);
    const options = stranger.request('OPTIONS');
    expect((await stranger.waitFinal(options, 'OPTIONS')).status).toBe(403);
    stranger.close();
    const log = await cs.waitForLog((l) => l['msg'] === 'SIP from a source outside sip.allow refused');
    expect(log['remote']).toMatchObject({ address: '127.0.0.5', transport: 'UDP' });

    // TCP from the stranger is closed at once, before any byte is read.
    const tcp = net.connect({ host: '127.0.0.1', port: cs.sipPort, localAddress: '127.0.0.5' });
    tcp.on('error', () => undefined);
    await new Promise<void>((r) => { tcp.once('close', () => { r(); }); });
    await cs.waitForLog((l) => l['msg'] === 'SIP connection refused' && l['reason'] === 'not-allowed' && l['remote'] === '127.0.0.5');

    // The allowed SRC still gets its session.
    const friend = await RawSrc.connect('UDP', cs.sipPort);
    const ok = await friend.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(ok.response.status).toBe(200);
    expect((await friend.bye()).status).toBe(200);
    friend.close();
    await cs.waitForLog((l) => l['msg'] === 'recording finished');
    const h = await health(cs);
    expect(h.sip.refusedNotAllowed).toBeGreaterThanOrEqual(2);
    expect(h.transport.refusedNotAllowed).toBe(1);
    // Only the allowed call became a session and a sealed recording.
    expect(h.siprec.sessions).toBe(1);
    expect(h.sealed).toBe(1);
  });

  it('rate-limits a flood of INVITEs from one source with 503 and Retry-After; the ports last and another SRC still records', async () => {
    // 200 RTP ports are 50 two-stream sessions: the limits keep the flood well below that.
    cs = await startCallseal({ config: { sip: { t1Ms: 100, maxNewSessionsPerSecondPerSource: 5, maxNewSessionBurstPerSource: 10, maxSessionsPerSource: 12 } } });
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => { sock.bind(0, '127.0.0.2', () => { r(); }); });
    const statuses = new Map<string, number>();
    let retryAfter: string | undefined;
    sock.on('message', (d) => {
      const text = d.toString('latin1');
      const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
      const callId = /\r\nCall-ID: *([^\r\n]+)/i.exec(text)?.[1];
      if (!status || !callId || Number(status) < 200) return;
      statuses.set(callId, Number(status));
      if (status === '503') retryAfter ??= /\r\nRetry-After: *(\d+)/i.exec(text)?.[1];
    });
    const port = cs.sipPort;
    const total = 600;
    for (let i = 0; i < total; i++) {
      sock.send(invite(sock.address().port, `flood-${i}@127.0.0.2`), port, '127.0.0.1');
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
    }
    const deadline = Date.now() + 15_000;
    while (statuses.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const counts = { ok: 0, busy: 0, other: 0 };
    for (const s of statuses.values()) {
      if (s === 200) counts.ok++;
      else if (s === 503) counts.busy++;
      else counts.other++;
    }
    // A burst of 10, then at most 12 at once from this source.
    expect(counts.ok).toBeGreaterThanOrEqual(1);
    expect(counts.ok).toBeLessThanOrEqual(12);
    expect(counts.busy).toBeGreaterThanOrEqual(total - 12);
    expect(counts.other).toBe(0);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await cs.waitForLog((l) => l['msg'] === 'recording session refused: too many sessions from this source' && (l['remote'] as { address?: string }).address === '127.0.0.2');
    // No session failed for want of ports.
    expect(cs.logs.filter((l) => l['msg'] === 'recording session failed')).toEqual([]);

    // A legitimate SRC on another allowed address is not affected and records.
    const src = await RawSrc.connect('UDP', cs.sipPort, { localAddress: '127.0.0.3' });
    const { response, ports } = await src.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    expect(ports.every((p) => p > 0)).toBe(true);
    const senders = ports.map((p, i) => new RtpSender(p, 8, { ssrc: 100 + i }));
    await Promise.all(senders.map((s, i) => s.play(tone(440 * (i + 1), 0.5, linearToAlaw))));
    expect((await src.bye()).status).toBe(200);
    src.close();
    for (const s of senders) s.close();
    const done = await cs.waitForLog((l) => l['msg'] === 'recording finished' && l['callId'] === src.callId, 30_000);
    expect(done['files']).toBeDefined();
    sock.close();
    const h = await health(cs);
    // Which limit refuses an INVITE depends on how fast the flood arrives (the token bucket refills
    // while a loaded machine reads slowly; src/sip/admission.test.ts checks the bucket itself).
    expect(h.siprec.rateLimited + h.siprec.overCapacity).toBeGreaterThanOrEqual(total - 12);
    // The default allowlist (loopback and private ranges) let 127.0.0.2 and 127.0.0.3 in, and said so.
    await cs.waitForLog((l) => l['msg'] === 'sip.allow is not set: SIP accepts loopback and private networks; list the SRC addresses in sip.allow');
  });
});
