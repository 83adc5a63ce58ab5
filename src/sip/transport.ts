/**
 * SIP transports: UDP, TCP and TLS listeners (RFC 3261 section 18). Receives bytes, frames and
 * parses them, and hands parsed messages (or the parse error with the raw bytes) to one handler.
 * Knows nothing of transactions or dialogs. Never throws on input.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { parseMessage, type SipMessage } from './message.ts';
import { StreamFramer } from './framing.ts';

/** A transport protocol name as it appears in Via. */
export type TransportName = 'UDP' | 'TCP' | 'TLS';

/** Where a message came from, and so where its responses go. */
export interface Remote {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
}

/** What the transport hands up: a parsed message or the error and the raw bytes. */
export type Inbound =
  | { readonly ok: true; readonly message: SipMessage; readonly remote: Remote }
  | { readonly ok: false; readonly error: unknown; readonly raw: Buffer; readonly remote: Remote };

/** Options of {@link SipTransport}. */
export interface SipTransportOptions {
  readonly host: string;
  readonly udpPort: number;
  /** TCP port; the UDP port when omitted, 0 disables TCP... use `tcp: false` to disable. */
  readonly tcpPort?: number;
  readonly tcp?: boolean;
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string } | undefined;
  readonly maxMessageBytes?: number;
  readonly log: Logger;
}

/** Remote key used to find a stream connection. */
function remoteKey(r: Remote): string {
  return `${r.transport}|${r.address}|${r.port}`;
}

/** UDP, TCP and TLS listeners with one inbound handler. */
export class SipTransport {
  readonly #options: SipTransportOptions;
  readonly #log: Logger;
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  #tls: tls.Server | undefined;
  readonly #connections = new Map<string, net.Socket>();
  #handler: (inbound: Inbound) => void = () => undefined;
  #closed = false;

  constructor(options: SipTransportOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  /** Sets the one handler of inbound messages. */
  onInbound(handler: (inbound: Inbound) => void): void {
    this.#handler = handler;
  }

  /** Binds every configured listener; resolves with the bound ports. */
  async listen(): Promise<{ udp: number; tcp: number | undefined; tls: number | undefined }> {
    const o = this.#options;
    const udp = dgram.createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    udp.on('message', (data, rinfo) => {
      this.#receive(data, { transport: 'UDP', address: rinfo.address, port: rinfo.port });
    });
    udp.on('error', (err) => {
      this.#log.error({ err: errorMessage(err) }, 'SIP UDP socket error');
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(o.udpPort, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.#udp = udp;
    const udpPort = udp.address().port;
    let tcpPort: number | undefined;
    if (o.tcp !== false) {
      this.#tcp = net.createServer((socket) => {
        this.#accept(socket, 'TCP');
      });
      tcpPort = await listenServer(this.#tcp, o.tcpPort ?? udpPort, o.host);
    }
    let tlsPort: number | undefined;
    if (o.tls) {
      this.#tls = tls.createServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) }, (socket) => {
        this.#accept(socket, 'TLS');
      });
      this.#tls.on('tlsClientError', (err) => {
        this.#log.warn({ err: errorMessage(err) }, 'TLS handshake failed');
      });
      tlsPort = await listenServer(this.#tls, o.tls.port, o.host);
    }
    return { udp: udpPort, tcp: tcpPort, tls: tlsPort };
  }

  #accept(socket: net.Socket, transport: TransportName): void {
    const remote: Remote = { transport, address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.#register(socket, remote);
  }

  #register(socket: net.Socket, remote: Remote): void {
    const key = remoteKey(remote);
    this.#connections.set(key, socket);
    const framer = new StreamFramer(this.#options.maxMessageBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = framer.push(chunk);
      for (const frame of frames) this.#receive(frame, remote);
      if (error) {
        this.#handler({ ok: false, error, raw: Buffer.alloc(0), remote });
        socket.destroy();
      }
    });
    socket.on('error', (err) => {
      this.#log.debug({ err: errorMessage(err), remote }, 'SIP connection error');
    });
    socket.on('close', () => {
      if (this.#connections.get(key) === socket) this.#connections.delete(key);
    });
  }

  #receive(data: Buffer, remote: Remote): void {
    let inbound: Inbound;
    try {
      inbound = { ok: true, message: parseMessage(data, { maxBytes: this.#options.maxMessageBytes ?? 256 * 1024 }), remote };
    } catch (error) {
      inbound = { ok: false, error, raw: data, remote };
    }
    try {
      this.#handler(inbound);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), remote }, 'SIP handler failed');
    }
  }

  /** Sends bytes to a remote; stream transports reuse the connection the peer opened or open one. */
  send(remote: Remote, data: Buffer): void {
    if (this.#closed) return;
    if (remote.transport === 'UDP') {
      this.#udp?.send(data, remote.port, remote.address, (err) => {
        if (err) this.#log.warn({ err: errorMessage(err), remote }, 'SIP UDP send failed');
      });
      return;
    }
    const existing = this.#connections.get(remoteKey(remote));
    if (existing && !existing.destroyed) {
      existing.write(data);
      return;
    }
    // RFC 3261 section 18.2.2: when the connection is gone, open a new one to the same address.
    const socket = remote.transport === 'TLS'
      ? tls.connect({ host: remote.address, port: remote.port, rejectUnauthorized: false })
      : net.connect({ host: remote.address, port: remote.port });
    this.#register(socket, remote);
    socket.write(data);
  }

  /** Closes every listener and connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#connections.values()) socket.destroy();
    this.#connections.clear();
    this.#udp?.close();
    const servers = [this.#tcp, this.#tls].filter((s): s is net.Server => s !== undefined);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.close(() => { resolve(); }); })));
  }
}

function listenServer(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
