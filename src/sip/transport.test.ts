/**
 * The stream transports' bounds with real sockets on loopback (issue 3): a cap on connections per
 * source and in total, TCP and TLS counted together, connections callseal opens counted too, and
 * an idle connection closed after `idleTimeoutMs` (TLS with a certificate made by openssl).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { silentLogger } from '../common/log.ts';
import { SipTransport, type Inbound, type SipTransportOptions } from './transport.ts';

let certDir: string;
const transports: SipTransport[] = [];
const sockets: net.Socket[] = [];

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'callseal-transport-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
  return () => { rmSync(certDir, { recursive: true, force: true }); };
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

async function start(options: Partial<SipTransportOptions>, withTls = false): Promise<{ t: SipTransport; tcp: number; tlsPort: number; inbound: Inbound[] }> {
  const t = new SipTransport({
    host: '127.0.0.1', udpPort: 0, tcpPort: 0, log: silentLogger(),
    ...(withTls ? { tls: { port: 0, certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') } } : {}),
    ...options,
  });
  transports.push(t);
  const inbound: Inbound[] = [];
  t.onInbound((i) => { inbound.push(i); });
  const ports = await t.listen();
  return { t, tcp: ports.tcp ?? 0, tlsPort: ports.tls ?? 0, inbound };
}

/** A connection and when the server closes it (`closedAtMs`), watched from the client side. */
interface Conn { readonly socket: net.Socket; readonly opened: Promise<void>; readonly closed: Promise<number> }

function watch(socket: net.Socket, openEvent: 'connect' | 'secureConnect'): Conn {
  sockets.push(socket);
  socket.on('error', () => undefined);
  const opened = new Promise<void>((r) => { socket.once(openEvent, () => { r(); }); socket.once('close', () => { r(); }); });
  const closed = new Promise<number>((r) => { socket.once('close', () => { r(Date.now()); }); });
  return { socket, opened, closed };
}

const tcpConn = (port: number, localAddress = '127.0.0.1'): Conn => watch(net.connect({ host: '127.0.0.1', port, localAddress }), 'connect');
const tlsConn = (port: number): Conn => watch(tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }), 'secureConnect');

/** Whether the server closed `c` within `ms`. */
async function closedWithin(c: Conn, ms: number): Promise<boolean> {
  return Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => { r(false); }, ms))]);
}

function options(branch: string): string {
  return `OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK${branch}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n` +
    `To: <sip:srs@127.0.0.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('connection caps', () => {
  it('closes connections beyond the per-source cap at once and keeps the others', async () => {
    const { t, tcp } = await start({ maxConnectionsPerSource: 2, maxConnections: 100 });
    const conns = [tcpConn(tcp), tcpConn(tcp), tcpConn(tcp), tcpConn(tcp)];
    await Promise.all(conns.map((c) => c.opened));
    await until(() => t.stats.refusedPerSource === 2);
    const closed = await Promise.all(conns.map((c) => closedWithin(c, 300)));
    expect(closed.filter(Boolean)).toHaveLength(2);
    expect(t.stats).toMatchObject({ connections: 2, refusedPerSource: 2, refusedTotal: 0 });
    // Another address still has its own share.
    const other = tcpConn(tcp, '127.0.0.2');
    await other.opened;
    expect(await closedWithin(other, 300)).toBe(false);
    expect(t.stats.connections).toBe(3);
  });

  it('closes connections beyond the total cap, counts TCP and TLS together, and admits again once one closes', async () => {
    const { t, tcp, tlsPort } = await start({ maxConnectionsPerSource: 100, maxConnections: 3 }, true);
    const first = [tcpConn(tcp, '127.0.0.2'), tcpConn(tcp, '127.0.0.3'), tlsConn(tlsPort)];
    await Promise.all(first.map((c) => c.opened));
    await until(() => t.stats.connections === 3);
    const over = [tcpConn(tcp, '127.0.0.4'), tlsConn(tlsPort)];
    expect(await Promise.all(over.map((c) => closedWithin(c, 2000)))).toEqual([true, true]);
    expect(t.stats).toMatchObject({ connections: 3, refusedTotal: 2 });
    expect(await Promise.all(first.map((c) => closedWithin(c, 100)))).toEqual([false, false, false]);
    first[0]?.socket.destroy();
    await until(() => t.stats.connections === 2);
    const again = tcpConn(tcp, '127.0.0.5');
    await again.opened;
    expect(await closedWithin(again, 300)).toBe(false);
    expect(t.stats.connections).toBe(3);
  });

  it('opens no connection of its own past the total cap', async () => {
    const peer = net.createServer((s) => { sockets.push(s); });
    await new Promise<void>((r) => { peer.listen(0, '127.0.0.1', () => { r(); }); });
    const peerPort = (peer.address() as net.AddressInfo).port;
    try {
      const { t, tcp } = await start({ maxConnections: 2 });
      const held = [tcpConn(tcp, '127.0.0.2'), tcpConn(tcp, '127.0.0.3')];
      await Promise.all(held.map((c) => c.opened));
      await until(() => t.stats.connections === 2);
      t.send({ transport: 'TCP', address: '127.0.0.1', port: peerPort }, Buffer.from(options('out')));
      expect(t.stats).toMatchObject({ connections: 2, refusedTotal: 1 });
      held[0]?.socket.destroy();
      await until(() => t.stats.connections === 1);
      t.send({ transport: 'TCP', address: '127.0.0.1', port: peerPort }, Buffer.from(options('out2')));
      expect(t.stats.connections).toBe(2);
    } finally {
      await new Promise<void>((r) => { peer.close(() => { r(); }); });
    }
  });
});

describe('idle timeout', () => {
  it('closes a TCP connection that carried a whole message and then nothing for idleTimeoutMs; one that keeps talking stays', async () => {
    const idleMs = 600;
    const { t, tcp, inbound } = await start({ idleTimeoutMs: idleMs, incompleteMessageTimeoutMs: 5000 });
    const quiet = tcpConn(tcp);
    const chatty = tcpConn(tcp, '127.0.0.2');
    await Promise.all([quiet.opened, chatty.opened]);
    const sentAt = Date.now();
    quiet.socket.write(options('quiet'));
    let n = 0;
    const talk = setInterval(() => { chatty.socket.write(options(`chatty${n++}`)); }, idleMs / 4);
    try {
      const closedAt = await quiet.closed;
      expect(closedAt - sentAt).toBeGreaterThanOrEqual(idleMs - 50);
      expect(t.stats.idleTimeouts).toBe(1);
      await new Promise((r) => setTimeout(r, idleMs));
      expect(await closedWithin(chatty, 10)).toBe(false);
    } finally {
      clearInterval(talk);
    }
    expect(inbound.filter((i) => i.ok).length).toBeGreaterThanOrEqual(2);
  });

  it('closes an idle TLS connection after idleTimeoutMs', async () => {
    const idleMs = 600;
    const { t, tlsPort, inbound } = await start({ idleTimeoutMs: idleMs }, true);
    const c = tlsConn(tlsPort);
    await c.opened;
    c.socket.write(options('tls'));
    await until(() => inbound.length === 1);
    expect(inbound[0]?.remote.transport).toBe('TLS');
    const sentAt = Date.now();
    expect(await closedWithin(c, idleMs * 10)).toBe(true);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(idleMs - 50);
    // The server's side of the connection closes a moment after the client saw it close.
    await until(() => t.stats.connections === 0);
    expect(t.stats).toMatchObject({ idleTimeouts: 1, connections: 0 });
  });
});
