/**
 * Issue 3, second finding: 20,000 idle TCP connections exhausted callseal's file descriptors.
 * Against a real callseal with its default caps (64 per source, 1,024 in total), 2,000 idle
 * connections from 31 loopback addresses: those beyond the caps are closed at once, SIP over UDP
 * and HTTP keep working during the flood, and connections that never send a whole message are
 * closed after the incomplete-message timeout; an idle connection after a complete message is
 * closed after the idle timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc } from '../helpers/src.ts';

interface Health {
  transport: { connections: number; refusedPerSource: number; refusedTotal: number; incompleteTimeouts: number; idleTimeouts: number };
}

let cs: CallsealProcess | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await cs?.stop();
  cs = undefined;
});

async function health(c: CallsealProcess): Promise<Health> {
  return await (await fetch(`http://127.0.0.1:${c.httpPort}/healthz`)).json() as Health;
}

/** An idle connection; `closed` resolves when the server closes it. */
function idle(port: number, localAddress: string): { socket: net.Socket; opened: Promise<boolean>; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  sockets.push(socket);
  socket.on('error', () => undefined);
  const opened = new Promise<boolean>((r) => { socket.once('connect', () => { r(true); }); socket.once('error', () => { r(false); }); });
  const closed = new Promise<void>((r) => { socket.once('close', () => { r(); }); });
  return { socket, opened, closed };
}

const STREAMS = [{ label: '1', payloadType: 8, codec: 'PCMA' as const }, { label: '2', payloadType: 8, codec: 'PCMA' as const }];

describe('SIP over TCP under a connection flood (issue 3)', () => {
  it('closes connections beyond 64 per source and 1,024 in total at once, keeps UDP and HTTP working, and times out silent ones', async () => {
    cs = await startCallseal();
    const port = cs.sipPort;
    const conns: ReturnType<typeof idle>[] = [];
    // 200 from one address (the per-source cap), then 1,800 from 30 others (60 each, the total cap).
    for (let i = 0; i < 200; i++) conns.push(idle(port, '127.0.0.2'));
    await Promise.all(conns.map((c) => c.opened));
    for (let a = 0; a < 30; a++) {
      const batch: ReturnType<typeof idle>[] = [];
      for (let i = 0; i < 60; i++) batch.push(idle(port, `127.0.1.${a + 1}`));
      await Promise.all(batch.map((c) => c.opened));
      conns.push(...batch);
    }
    expect(conns).toHaveLength(2000);
    await new Promise((r) => setTimeout(r, 500));
    const open = conns.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open');
    expect(open.length).toBeLessThanOrEqual(1024);
    expect(open.length).toBeGreaterThanOrEqual(900);
    expect(conns.slice(0, 200).filter((c) => c.socket.readyState === 'open').length).toBeLessThanOrEqual(64);

    // During the flood: HTTP answers and a UDP SIPREC call gets its session.
    const h = await health(cs);
    expect(h.transport.connections).toBeLessThanOrEqual(1024);
    expect(h.transport.refusedPerSource).toBeGreaterThanOrEqual(136);
    expect(h.transport.refusedTotal).toBeGreaterThanOrEqual(2000 - 136 - 1024);
    const src = await RawSrc.connect('UDP', port);
    const { response } = await src.invite(STREAMS, rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    expect((await src.bye()).status).toBe(200);
    src.close();
    await cs.waitForLog((l) => l['msg'] === 'SIP connection refused' && l['reason'] === 'per-source' && l['remote'] === '127.0.0.2');
    await cs.waitForLog((l) => l['msg'] === 'SIP connection refused' && l['reason'] === 'total');

    // Silent connections count as incomplete messages: closed after 10 s (the default).
    await Promise.race([
      Promise.all(conns.map((c) => c.closed)),
      new Promise((_r, j) => setTimeout(() => { j(new Error('silent connections were not closed')); }, 20_000)),
    ]);
    const after = await health(cs);
    expect(after.transport.connections).toBe(0);
    expect(after.transport.incompleteTimeouts).toBeGreaterThanOrEqual(900);
  });

  it('closes a connection holding half a message after sip.incompleteMessageTimeoutMs and an idle one after sip.connectionIdleTimeoutMs', async () => {
    cs = await startCallseal({ config: { sip: { incompleteMessageTimeoutMs: 1000, connectionIdleTimeoutMs: 3000 } } });
    const port = cs.sipPort;
    const half = idle(port, '127.0.0.1');
    await half.opened;
    half.socket.write('OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5;branch=z9hG4bKhalf\r\n');
    const started = Date.now();
    await half.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(Date.now() - started).toBeLessThan(2900);

    // A connection that carried a whole OPTIONS stays while idle, then closes after 3 s.
    const src = await RawSrc.connect('TCP', port);
    const cseq = src.request('OPTIONS');
    expect((await src.waitFinal(cseq, 'OPTIONS')).status).toBe(200);
    const answeredAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await health(cs)).transport.connections).toBe(1);
    const deadline = Date.now() + 6000;
    while ((await health(cs)).transport.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const h = await health(cs);
    expect(h.transport.connections).toBe(0);
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(2800);
    expect(h.transport.incompleteTimeouts).toBe(1);
    expect(h.transport.idleTimeouts).toBe(1);
    src.close();
  });
});
