/**
 * SIP transports: UDP, TCP and TLS listeners (RFC 3261 section 18). Receives bytes, frames and
 * parses them, and hands parsed messages (or the parse error with the raw bytes) to one handler.
 * Stream connections are admitted here (allowlist, a cap per source and in total, optional client
 * certificates) and closed when they hold an incomplete message or stay idle too long (issue 3).
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
import { RefusalLog, unmapAddress, type SourceAllowlist } from './admission.ts';

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
  readonly tls?: SipTlsOptions | undefined;
  readonly maxMessageBytes?: number;
  /** Who may open TCP and TLS connections; everyone when omitted. */
  readonly allow?: SourceAllowlist | undefined;
  /** Most stream connections open at once (accepted and opened); default 1024. */
  readonly maxConnections?: number;
  /** Most stream connections open at once from one address; default 64. */
  readonly maxConnectionsPerSource?: number;
  /** A connection that holds an incomplete message (or has sent nothing yet) this long is closed; default 10 s. */
  readonly incompleteMessageTimeoutMs?: number;
  /** A connection that carries nothing at all this long is closed; 0 keeps idle connections; default 1 h. */
  readonly idleTimeoutMs?: number;
  readonly log: Logger;
}

/** SIP over TLS (SIPS), optionally with client certificates (mutual TLS). */
export interface SipTlsOptions {
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM bundle of the CAs whose client certificates are accepted; no client certificates when omitted. */
  readonly clientCaFile?: string | undefined;
  /** With `clientCaFile`: refuse the handshake without a valid client certificate (default true). */
  readonly requireClientCert?: boolean | undefined;
}

/** Counters of the stream transports, for the health view and tests. */
export interface TransportStats {
  /** Stream connections open now. */
  connections: number;
  /** Connections closed at once: source not allowed. */
  refusedNotAllowed: number;
  /** Connections closed at once: the per-source cap was reached. */
  refusedPerSource: number;
  /** Connections closed at once, or not opened by callseal: the total cap was reached. */
  refusedTotal: number;
  /** Connections closed because they held an incomplete message too long. */
  incompleteTimeouts: number;
  /** Connections closed because they were idle too long. */
  idleTimeouts: number;
}

/**
 * What the SIP stack needs from a transport: sending, one inbound handler, and the address and
 * port a request sent over each transport names as its sent-by (RFC 3261 section 18.2.1).
 * {@link SipTransport} is the real one; tests may pass their own.
 */
export interface SipWire {
  send(remote: Remote, data: Buffer): void;
  onInbound(handler: (inbound: Inbound) => void): void;
  /** Host and listening port for a Via over `transport`; undefined before `listen` or when that transport is off. */
  sentBy(transport: TransportName): { readonly host: string; readonly port: number } | undefined;
}

/** Remote key used to find a stream connection. */
function remoteKey(r: Remote): string {
  return `${r.transport}|${r.address}|${r.port}`;
}

/** UDP, TCP and TLS listeners with one inbound handler. */
export class SipTransport implements SipWire {
  readonly #options: SipTransportOptions;
  readonly #log: Logger;
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  #tls: tls.Server | undefined;
  readonly #connections = new Map<string, net.Socket>();
  /** Every open stream socket, and how many each address holds (entries leave at zero). */
  readonly #sockets = new Set<net.Socket>();
  readonly #perSource = new Map<string, number>();
  readonly #refusals = new RefusalLog();
  /** Counters for the health view and tests. */
  readonly stats: TransportStats = { connections: 0, refusedNotAllowed: 0, refusedPerSource: 0, refusedTotal: 0, incompleteTimeouts: 0, idleTimeouts: 0 };
  #handler: (inbound: Inbound) => void = () => undefined;
  #closed = false;
  #ports: { udp: number; tcp: number | undefined; tls: number | undefined } | undefined;

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
        if (this.#admit(socket, 'TCP')) this.#accept(socket, 'TCP');
      });
      tcpPort = await listenServer(this.#tcp, o.tcpPort ?? udpPort, o.host);
    }
    let tlsPort: number | undefined;
    if (o.tls) {
      const clientCa = o.tls.clientCaFile !== undefined ? readFileSync(o.tls.clientCaFile) : undefined;
      this.#tls = tls.createServer({
        cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile),
        // Mutual TLS: only SRCs with a certificate from one of these CAs complete the handshake.
        ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: o.tls.requireClientCert ?? true } : {}),
        // A handshake is an incomplete message too.
        handshakeTimeout: o.incompleteMessageTimeoutMs !== undefined && o.incompleteMessageTimeoutMs > 0 ? o.incompleteMessageTimeoutMs : 10_000,
      }, (socket) => {
        this.#accept(socket, 'TLS');
      });
      // The raw connection is admitted before any handshake work is spent on it.
      this.#tls.prependListener('connection', (socket: net.Socket) => {
        this.#admit(socket, 'TLS');
      });
      this.#tls.on('tlsClientError', (err, socket) => {
        const remote = unmapAddress(socket.remoteAddress ?? '');
        const suppressed = this.#refusals.shouldLog(`tls|${remote}`, Date.now());
        if (suppressed !== undefined) this.#log.warn({ err: errorMessage(err), remote, suppressed }, 'TLS handshake failed');
      });
      tlsPort = await listenServer(this.#tls, o.tls.port, o.host);
    }
    this.#ports = { udp: udpPort, tcp: tcpPort, tls: tlsPort };
    return this.#ports;
  }

  /** The bind host and the listening port of `transport` (stream connections callseal opens name the listener, not their own port). */
  sentBy(transport: TransportName): { readonly host: string; readonly port: number } | undefined {
    const port = transport === 'UDP' ? this.#ports?.udp : transport === 'TCP' ? this.#ports?.tcp : this.#ports?.tls;
    return port === undefined ? undefined : { host: this.#options.host, port };
  }

  /**
   * Admits a new inbound connection or closes it at once: the source must be allowed and below
   * its cap, and the total below the total cap, so a flood of connections cannot exhaust file
   * descriptors for UDP, HTTP and the legitimate SRCs (issue 3).
   */
  #admit(socket: net.Socket, transport: TransportName): boolean {
    const o = this.#options;
    const address = unmapAddress(socket.remoteAddress ?? '');
    let refused: 'not-allowed' | 'per-source' | 'total' | undefined;
    if (o.allow && !o.allow.allows(address)) refused = 'not-allowed';
    else if ((this.#perSource.get(address) ?? 0) >= (o.maxConnectionsPerSource ?? 64)) refused = 'per-source';
    else if (this.#sockets.size >= (o.maxConnections ?? 1024)) refused = 'total';
    if (refused === undefined) {
      this.#track(socket, address);
      return true;
    }
    if (refused === 'not-allowed') this.stats.refusedNotAllowed++;
    else if (refused === 'per-source') this.stats.refusedPerSource++;
    else this.stats.refusedTotal++;
    socket.on('error', (err) => {
      this.#log.debug({ err: errorMessage(err), remote: address }, 'refused SIP connection error');
    });
    socket.destroy();
    const suppressed = this.#refusals.shouldLog(`${refused}|${address}`, Date.now());
    if (suppressed !== undefined) {
      this.#log.warn({ code: refused === 'not-allowed' ? 'CS_SIP_FORBIDDEN' : 'CS_SIP_OVERLOADED', remote: address, transport, reason: refused, suppressed, connections: this.#sockets.size }, 'SIP connection refused');
    }
    return false;
  }

  /** Counts a stream socket towards the caps until it closes. */
  #track(socket: net.Socket, address: string): void {
    if (this.#sockets.has(socket)) return;
    this.#sockets.add(socket);
    this.#perSource.set(address, (this.#perSource.get(address) ?? 0) + 1);
    this.stats.connections = this.#sockets.size;
    socket.once('close', () => {
      this.#sockets.delete(socket);
      const n = (this.#perSource.get(address) ?? 1) - 1;
      if (n <= 0) this.#perSource.delete(address);
      else this.#perSource.set(address, n);
      this.stats.connections = this.#sockets.size;
    });
  }

  #accept(socket: net.Socket, transport: TransportName): void {
    const remote: Remote = { transport, address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.#register(socket, remote, 'inbound');
  }

  /** Frames a connection's bytes; `outbound` ones (opened by callseal) are counted here, inbound ones in {@link #admit}. */
  #register(socket: net.Socket, remote: Remote, direction: 'inbound' | 'outbound'): void {
    const key = remoteKey(remote);
    this.#connections.set(key, socket);
    if (direction === 'outbound') this.#track(socket, unmapAddress(remote.address));
    const framer = new StreamFramer(this.#options.maxMessageBytes);
    socket.setNoDelay(true);
    const incompleteMs = this.#options.incompleteMessageTimeoutMs ?? 10_000;
    const idleMs = this.#options.idleTimeoutMs ?? 3_600_000;
    // An accepted connection counts as holding an incomplete message until its first message is
    // whole: a peer that connects and says nothing (or dribbles bytes) is closed after `incompleteMs`.
    let incompleteTimer: NodeJS.Timeout | undefined;
    const armIncomplete = (): void => {
      if (incompleteTimer !== undefined || incompleteMs <= 0) return;
      incompleteTimer = setTimeout(() => {
        this.stats.incompleteTimeouts++;
        this.#log.info({ remote, pendingBytes: framer.pendingBytes, timeoutMs: incompleteMs }, 'SIP connection closed: incomplete message timed out');
        socket.destroy();
      }, incompleteMs).unref();
    };
    const disarmIncomplete = (): void => {
      if (incompleteTimer !== undefined) clearTimeout(incompleteTimer);
      incompleteTimer = undefined;
    };
    if (direction === 'inbound') armIncomplete();
    if (idleMs > 0) {
      socket.setTimeout(idleMs, () => {
        this.stats.idleTimeouts++;
        this.#log.info({ remote, timeoutMs: idleMs }, 'SIP connection closed: idle');
        socket.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = framer.push(chunk);
      // The clock of an incomplete message starts with its first byte and stops when it is whole.
      if (frames.length > 0) disarmIncomplete();
      if (framer.pendingBytes > 0) armIncomplete();
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
      disarmIncomplete();
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
    // The total cap holds for connections callseal opens too: past it the message is not sent
    // (the transaction times out), so a flood of requests cannot open connections without bound.
    if (this.#sockets.size >= (this.#options.maxConnections ?? 1024)) {
      this.stats.refusedTotal++;
      const suppressed = this.#refusals.shouldLog(`open|total`, Date.now());
      if (suppressed !== undefined) this.#log.warn({ code: 'CS_SIP_OVERLOADED', remote, connections: this.#sockets.size, suppressed }, 'SIP connection not opened: connection cap reached');
      return;
    }
    // RFC 3261 section 18.2.2: when the connection is gone, open a new one to the same address.
    const socket = remote.transport === 'TLS'
      ? tls.connect({ host: remote.address, port: remote.port, rejectUnauthorized: false })
      : net.connect({ host: remote.address, port: remote.port });
    this.#register(socket, remote, 'outbound');
    socket.write(data);
  }

  /** Closes every listener and connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#connections.values()) socket.destroy();
    for (const socket of this.#sockets) socket.destroy();
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
