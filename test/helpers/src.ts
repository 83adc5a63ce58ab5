/**
 * A small scripted SRC for what sipp cannot do (SRTP keys, precise holds, added streams, hostile
 * bytes): writes SIPREC requests by hand over UDP, TCP or TLS, reads responses, and sends RTP or
 * SRTP packets from Node.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { buildRtp, parseSdesCrypto, SrtpSender } from '../../src/rtp/index.ts';
import { parseMessage, getHeader, type SipRequest, type SipResponse, StreamFramer } from '../../src/sip/index.ts';

/** One stream offered by the test SRC. */
export interface SrcStream {
  readonly label: string;
  readonly payloadType: number;
  readonly codec: 'PCMA' | 'PCMU' | 'G722';
  /** SDES key line value (after `a=crypto:`); SRTP when set. */
  readonly crypto?: string;
  readonly direction?: 'sendonly' | 'inactive';
  /** Port 0 removes the stream. */
  readonly port?: number;
}

/** A random SDES crypto attribute value. */
export function randomCrypto(suite = 'AES_CM_128_HMAC_SHA1_80', tag = 1): string {
  return `${tag} ${suite} inline:${randomBytes(30).toString('base64')}`;
}

/** Builds an SDP offer for the streams. */
export function offerSdp(streams: readonly SrcStream[], address = '127.0.0.1'): string {
  const lines = ['v=0', `o=rawsrc 1 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0'];
  streams.forEach((s, i) => {
    lines.push(`m=audio ${s.port ?? 7000 + 2 * i} ${s.crypto ? 'RTP/SAVP' : 'RTP/AVP'} ${s.payloadType} 101`);
    lines.push(`a=rtpmap:${s.payloadType} ${s.codec}/8000`, 'a=rtpmap:101 telephone-event/8000');
    if (s.crypto) lines.push(`a=crypto:${s.crypto}`);
    lines.push(`a=label:${s.label}`, `a=${s.direction ?? 'sendonly'}`);
  });
  return lines.join('\r\n') + '\r\n';
}

/** A multipart SIPREC body. */
export function siprecBody(sdp: string, metadata: string | undefined, boundary = 'rawsrc-boundary'): { contentType: string; body: string } {
  if (metadata === undefined) return { contentType: 'application/sdp', body: sdp };
  return {
    contentType: `multipart/mixed;boundary=${boundary}`,
    body: `--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--${boundary}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n${metadata}\r\n--${boundary}--\r\n`,
  };
}

/** A SIP client connection to callseal over one transport. */
export class RawSrc {
  readonly callId = `${randomBytes(8).toString('hex')}@rawsrc`;
  readonly fromTag = randomBytes(4).toString('hex');
  toTag: string | undefined;
  cseq = 0;
  readonly #responses: SipResponse[] = [];
  readonly #waiters: { match: (r: SipResponse) => boolean; resolve: (r: SipResponse) => void }[] = [];
  readonly #send: (data: Buffer) => void;
  readonly #close: () => void;
  readonly transport: 'UDP' | 'TCP' | 'TLS';
  readonly localPort: number;
  /** Pending UDP retransmissions by "CSeq method". */
  readonly #retransmit = new Map<string, NodeJS.Timeout>();
  /** Requests callseal sent us (BYE on timeout or shutdown). */
  readonly requests: string[] = [];
  /** The same requests, parsed (to read their headers, e.g. a BYE's Reason; they came over this SRC's own transport and connection). */
  readonly received: SipRequest[] = [];

  private constructor(transport: 'UDP' | 'TCP' | 'TLS', send: (d: Buffer) => void, close: () => void, localPort: number) {
    this.transport = transport;
    this.#send = send;
    this.#close = close;
    this.localPort = localPort;
  }

  /** `localAddress` binds the SRC to another loopback address (127.0.0.2 and up), for admission tests. */
  static async connect(transport: 'UDP' | 'TCP' | 'TLS', port: number, options: { localAddress?: string } = {}): Promise<RawSrc> {
    const localAddress = options.localAddress ?? '127.0.0.1';
    if (transport === 'UDP') {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => { sock.bind(0, localAddress, () => { r(); }); });
      const src: RawSrc = new RawSrc('UDP', (d) => { sock.send(d, port, '127.0.0.1'); }, () => { sock.close(); }, sock.address().port);
      sock.on('message', (d) => { src.onData(d); });
      return src;
    }
    const socket = transport === 'TCP'
      ? net.connect({ host: '127.0.0.1', port, localAddress })
      : tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress }), rejectUnauthorized: false });
    await new Promise<void>((r, j) => { socket.once(transport === 'TCP' ? 'connect' : 'secureConnect', () => { r(); }); socket.once('error', j); });
    const framer = new StreamFramer();
    const src: RawSrc = new RawSrc(transport, (d) => { socket.write(d); }, () => { socket.destroy(); }, socket.localPort ?? 0);
    socket.on('data', (chunk: Buffer) => { for (const f of framer.push(chunk).frames) src.onData(f); });
    return src;
  }

  private onData(d: Buffer): void {
    let msg;
    try {
      msg = parseMessage(d);
    } catch {
      return;
    }
    if (msg.kind === 'request') {
      this.requests.push(msg.method);
      this.received.push(msg);
      // Answer callseal's BYE so its client transaction completes.
      const reply = `SIP/2.0 200 OK\r\n${msg.headers.filter((h) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(h.name)).map((h) => `${h.name}: ${h.value}`).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
      this.#send(Buffer.from(reply));
      return;
    }
    this.#responses.push(msg);
    const key = getHeader(msg, 'cseq') ?? '';
    const timer = this.#retransmit.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#retransmit.delete(key);
    }
    for (const w of [...this.#waiters]) if (w.match(msg)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve(msg);
    }
  }

  /** Sends raw bytes. */
  sendRaw(data: Buffer | string): void {
    this.#send(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  /** Waits for a final response to `method` with CSeq `cseq`. */
  waitFinal(cseq: number, method: string, timeoutMs = 10000): Promise<SipResponse> {
    const match = (r: SipResponse): boolean => r.status >= 200 && getHeader(r, 'cseq') === `${cseq} ${method}`;
    const found = this.#responses.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`no final response to ${cseq} ${method}`)); }, timeoutMs);
      this.#waiters.push({ match, resolve: (r) => { clearTimeout(t); resolve(r); } });
    });
  }

  /** Every response so far. */
  get responses(): readonly SipResponse[] {
    return this.#responses;
  }

  /** Sends a request in (or starting) the dialog and returns its CSeq. */
  request(method: string, options: { body?: string; contentType?: string; headers?: string[]; cseq?: number; branch?: string; uri?: string } = {}): number {
    const cseq = options.cseq ?? ++this.cseq;
    const proto = this.transport;
    const lines = [
      `${method} ${options.uri ?? 'sip:srs@127.0.0.1'} SIP/2.0`,
      `Via: SIP/2.0/${proto} 127.0.0.1:${this.localPort};branch=${options.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`}`,
      `From: <sip:sbc@127.0.0.1>;tag=${this.fromTag}`,
      `To: <sip:srs@127.0.0.1>${this.toTag && method !== 'CANCEL' ? `;tag=${this.toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:sbc@127.0.0.1:${this.localPort};transport=${proto.toLowerCase()}>;+sip.src`,
      'Max-Forwards: 70',
      ...(options.headers ?? []),
    ];
    const body = options.body ?? '';
    if (options.contentType) lines.push(`Content-Type: ${options.contentType}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    const raw = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
    this.sendRaw(raw);
    // Over UDP a real UAC retransmits until it hears back (RFC 3261 Timer A/E: 500 ms doubling, max 4 s).
    if (proto === 'UDP' && method !== 'ACK') {
      const key = `${cseq} ${method}`;
      const again = (interval: number, total: number): void => {
        if (total > 32_000) { this.#retransmit.delete(key); return; }
        this.#retransmit.set(key, setTimeout(() => { this.sendRaw(raw); again(Math.min(interval * 2, 4000), total + interval); }, interval));
      };
      again(500, 0);
    }
    return cseq;
  }

  /** INVITE (initial or re-INVITE) with a SIPREC body; resolves with the 2xx and ACKs it. */
  async invite(streams: readonly SrcStream[], metadata: string | undefined, extraHeaders: string[] = ['Require: siprec']): Promise<{ response: SipResponse; ports: number[]; answer: string }> {
    const { contentType, body } = siprecBody(offerSdp(streams), metadata);
    const cseq = this.request('INVITE', { body, contentType, headers: extraHeaders });
    const response = await this.waitFinal(cseq, 'INVITE');
    if (response.status >= 200 && response.status < 300) {
      this.toTag ??= /;tag=([^;\s]+)/.exec(getHeader(response, 'to') ?? '')?.[1];
      this.request('ACK', { cseq });
    }
    const answer = response.body.toString();
    const ports = [...answer.matchAll(/^m=audio (\d+)/gm)].map((m) => Number(m[1]));
    return { response, ports, answer };
  }

  /** BYE (to `uri`, the Request-URI, when given); resolves with its final response. */
  async bye(uri?: string): Promise<SipResponse> {
    const cseq = this.request('BYE', uri !== undefined ? { uri } : {});
    return this.waitFinal(cseq, 'BYE');
  }

  close(): void {
    for (const t of this.#retransmit.values()) clearTimeout(t);
    this.#retransmit.clear();
    this.#close();
  }
}

/** Sends RTP (or SRTP) packets of 20 ms to a port, paced in real time. */
export class RtpSender {
  readonly #sock = dgram.createSocket('udp4');
  readonly #port: number;
  readonly #pt: number;
  readonly #ssrc: number;
  readonly #srtp: SrtpSender | undefined;
  seq = 1000;
  ts = 8000;

  constructor(port: number, payloadType: number, options: { ssrc?: number; crypto?: string } = {}) {
    this.#port = port;
    this.#pt = payloadType;
    this.#ssrc = options.ssrc ?? randomBytes(4).readUInt32BE(0);
    this.#srtp = options.crypto ? new SrtpSender(parseSdesCrypto(options.crypto)) : undefined;
  }

  /** Sends `audio` in 160-byte packets every 20 ms. */
  async play(audio: Buffer): Promise<number> {
    let sent = 0;
    const start = performance.now();
    for (let off = 0; off < audio.length; off += 160) {
      this.sendPacket(audio.subarray(off, off + 160));
      sent++;
      const due = start + sent * 20;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return sent;
  }

  /** Sends one packet now and advances sequence number and timestamp. */
  sendPacket(payload: Buffer, payloadType = this.#pt): void {
    const rtp = buildRtp({ payloadType, sequenceNumber: this.seq & 0xffff, timestamp: this.ts >>> 0, ssrc: this.#ssrc, payload });
    this.#sock.send(this.#srtp ? this.#srtp.protect(rtp) : rtp, this.#port, '127.0.0.1');
    this.seq++;
    this.ts += payload.length;
  }

  /** Sends raw bytes (hostile input). */
  sendRaw(data: Buffer): void {
    this.#sock.send(data, this.#port, '127.0.0.1');
  }

  close(): void {
    this.#sock.close();
  }
}
