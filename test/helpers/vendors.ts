/**
 * Replays the published messages of real SRCs (`shared/testdata/siprec-vendors`) against callseal:
 * only addresses, ports, tags, Call-ID, CSeq keywords and Content-Length are substituted (as sipp
 * does for the miarec scenarios), and every answered stream gets RTP with its own tone from the
 * port the offer names, in the answered codec (G.711 here; Opus from libopus through ffmpeg; G.729
 * from Debian's bcg729).
 */
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildRtp } from '../../src/rtp/index.ts';
import { readOggPages } from '../../src/media/index.ts';
import { getHeader, type SipResponse } from '../../src/sip/index.ts';
import { linearToAlaw, linearToUlaw } from './g711.ts';
import { encodeG729, sinePcm } from './g729.ts';
import { RawSrc } from './src.ts';

/** The folder of published SRC messages. */
export const VENDOR_DIR = join(import.meta.dirname, '../../../shared/testdata/siprec-vendors');

/** Tone frequency of the stream at each m-line index: the checks find each party by its tone. */
export const STREAM_TONES_HZ = [440, 1000, 1800] as const;

/** Reads a published file; sipp scenario blocks lose their indentation as sipp strips it. */
export function vendorText(file: string): string {
  const raw = readFileSync(join(VENDOR_DIR, file), 'utf8');
  return file.startsWith('miarec__') ? raw.split('\n').map((l) => l.trimStart()).join('\n') : raw;
}

/** Points the SDP of a body at the test SRC: `c=` addresses (not the 0.0.0.0 of a hold) and `m=` ports. */
export function localizeSdp(body: string, ports: readonly number[]): string {
  let i = 0;
  return body
    .replace(/^c=IN IP4 (?!0\.0\.0\.0)\S+/gm, 'c=IN IP4 127.0.0.1')
    .replace(/^m=audio \d+/gm, () => `m=audio ${ports[i++] ?? 0}`);
}

/** A part of a scenario: a published message, RTP for a while, or silence (hold). */
export type Step =
  /** A published message; `fix` edits it first (named in the test), `expectStatus` when not 2xx. */
  | { readonly send: string; readonly fix?: (text: string) => string; readonly expectStatus?: number }
  | { readonly media: number }
  | { readonly pause: number };

/** What one replayed call gave back. */
export interface ReplayResult {
  readonly callId: string;
  /** Final responses in order (INVITE, re-INVITE, UPDATE, BYE). */
  readonly finals: readonly SipResponse[];
  /** Every SDP answer received, in order. */
  readonly answers: readonly string[];
  /** Packets sent per m-line index. */
  readonly sent: number[];
}

interface MediaLine {
  readonly port: number;
  readonly payloadType: number;
  /** The answered encoding name, upper case (`PCMU`, `OPUS`, `G729`). */
  readonly codec: string;
}

const STATIC_NAMES: Record<number, string> = { 0: 'PCMU', 8: 'PCMA', 9: 'G722', 18: 'G729' };

function answerLines(answer: string): MediaLine[] {
  return answer.split(/^(?=m=)/m).filter((block) => block.startsWith('m=audio')).map((block) => {
    const m = /^m=audio (\d+) \S+ (\d+)/.exec(block);
    const payloadType = Number(m?.[2]);
    const mapped = new RegExp(`^a=rtpmap:${payloadType} ([^/\\s]+)`, 'm').exec(block)?.[1];
    return { port: Number(m?.[1]), payloadType, codec: (mapped ?? STATIC_NAMES[payloadType] ?? '').toUpperCase() };
  });
}

/** 20 ms RTP payloads of a tone in `codec`, made by real encoders (libopus through ffmpeg, bcg729), cached. */
const encoded = new Map<string, Buffer[]>();
function encodedTone(codec: 'OPUS' | 'G729', hz: number): Buffer[] {
  const key = `${codec}/${hz}`;
  const cached = encoded.get(key);
  if (cached) return cached;
  let packets: Buffer[];
  if (codec === 'G729') {
    const frames = encodeG729(sinePcm(hz, 12));
    packets = [];
    for (let i = 0; i + 20 <= frames.length; i += 20) packets.push(frames.subarray(i, i + 20));
  } else {
    const path = join(mkdtempSync(join(tmpdir(), 'callseal-vendor-opus-')), 'tone.opus');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=12:sample_rate=48000`, '-ac', '1', '-c:a', 'libopus', '-application', 'voip', '-frame_duration', '20', '-b:a', '24k', path]);
    packets = readOggPages(readFileSync(path)).flatMap((page) => page.packets).slice(2);
  }
  encoded.set(key, packets);
  return packets;
}

/** Replays one vendor's published messages over one transport. */
export class VendorReplay {
  readonly #src: RawSrc;
  readonly #sipPort: number;
  /** Sockets bound to the SRC media ports offered, so RTP comes from the negotiated source. */
  readonly #sockets = new Map<number, dgram.Socket>();
  readonly #basePort: number;
  #offerPorts: number[] = [];
  #answer: MediaLine[] = [];
  #seq = 0;
  #ts = 0;
  readonly #ssrc = [0x1111_0001, 0x2222_0002, 0x3333_0003];
  readonly #finals: SipResponse[] = [];
  readonly #answers: string[] = [];
  readonly #sent: number[] = [0, 0, 0];
  #cseq = 1;

  private constructor(src: RawSrc, sipPort: number, basePort: number) {
    this.#src = src;
    this.#sipPort = sipPort;
    this.#basePort = basePort;
  }

  /** Connects over `transport`; SRC media ports start at `basePort` (even, four free ports). */
  static async connect(transport: 'UDP' | 'TCP', sipPort: number, basePort: number): Promise<VendorReplay> {
    const r = new VendorReplay(await RawSrc.connect(transport, sipPort), sipPort, basePort);
    for (const p of [basePort, basePort + 2, basePort + 4]) {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(p, '127.0.0.1', () => { res(); }); });
      r.#sockets.set(p, sock);
    }
    return r;
  }

  get callId(): string {
    return this.#src.callId;
  }

  /** Substitutes sipp's keywords in a published scenario message. */
  #keywords(text: string): string {
    const base = this.#basePort;
    return text
      .replace(/\[remote_ip\]/g, '127.0.0.1').replace(/\[remote_port\]/g, String(this.#sipPort))
      .replace(/\[local_ip\]/g, '127.0.0.1').replace(/\[local_port\]/g, String(this.#src.localPort))
      .replace(/\[media_ip\]/g, '127.0.0.1')
      .replace(/\[transport\]/g, this.#src.transport)
      .replace(/\[branch\]/g, () => `z9hG4bK${randomBytes(6).toString('hex')}`)
      .replace(/\[call_id\]/g, this.#src.callId)
      .replace(/\[pid\]/g, '4242').replace(/\[call_number\]/g, '1')
      .replace(/\[peer_tag_param\]/g, this.#src.toTag ? `;tag=${this.#src.toTag}` : '')
      .replace(/\[auto_media_port\+2\]|\[media_port\+2\]/g, String(base + 2))
      .replace(/\[auto_media_port\]|\[media_port\]/g, String(base))
      // sipp's [cseq] is the scenario's running CSeq: ACK repeats the INVITE's.
      .replace(/^CSeq: \[cseq\] (\w+)/gm, (_m, method: string) => `CSeq: ${method === 'ACK' ? this.#cseq : method === 'INVITE' ? this.#cseq : ++this.#cseq} ${method}`)
      // The Oracle scenario takes its numbers from sipp CSV files.
      .replace(/\[field0 file="tenant-users\.csv"\]/g, '1001').replace(/\[field0 file="callee\.csv"\]/g, '2002');
  }

  /** Sends a published sipp message block (miarec), waiting for the final response of requests other than ACK. */
  async sendScenarioMessage(file: string, fix: (text: string) => string = (t) => t): Promise<SipResponse | undefined> {
    const text = this.#keywords(fix(vendorText(file))).replace(/^\n+/, '');
    const blank = text.indexOf('\n\n');
    const head = (blank < 0 ? text : text.slice(0, blank)).split('\n').filter((l) => l !== '');
    let body = blank < 0 ? '' : text.slice(blank + 2).replace(/\n+$/, '\n');
    if (body.trim() === '') body = '';
    if (/^m=audio/m.test(body)) body = localizeSdp(body, this.#offerPortsFrom(body));
    // sipp sends CRLF line ends.
    const bodyBytes = Buffer.from(body.replace(/\r?\n/g, '\r\n'));
    const headers = head.map((l) => l.replace(/^(Content-Length:\s*)\[len\]/i, `$1${bodyBytes.length}`));
    return this.#send(Buffer.concat([Buffer.from(headers.join('\r\n') + '\r\n\r\n'), bodyBytes]), headers);
  }

  /** Ports the SRC offers in a body: sipp's two media ports, in order of the m-lines. */
  #offerPortsFrom(body: string): number[] {
    const ports = [...body.matchAll(/^m=audio (\d+)/gm)].map((m) => Number(m[1]));
    this.#offerPorts = ports;
    return ports;
  }

  /** Sends a published body (drachtio files) in an INVITE with the headers an SRC sends. */
  async inviteWithBody(file: string, extraHeaders: readonly string[] = ['Require: siprec']): Promise<SipResponse | undefined> {
    const raw = vendorText(file);
    const boundary = /^--(\S+)/m.exec(raw)?.[1] ?? '';
    const mCount = [...raw.matchAll(/^m=audio/gm)].length;
    const ports = Array.from({ length: mCount }, (_v, i) => this.#basePort + 2 * i);
    this.#offerPorts = ports;
    const body = localizeSdp(raw, ports);
    const cseq = this.#src.request('INVITE', { body, contentType: `multipart/mixed;boundary=${boundary}`, headers: [...extraHeaders] });
    return this.#afterRequest(cseq, 'INVITE');
  }

  /** Sends the complete published INVITE (Intrado), its own headers kept. */
  async completeInvite(file: string): Promise<SipResponse | undefined> {
    const text = vendorText(file);
    const blank = text.indexOf('\n\n');
    const head = text.slice(0, blank).split('\n');
    const mCount = [...text.matchAll(/^m=audio/gm)].length;
    const ports = Array.from({ length: mCount }, (_v, i) => this.#basePort + 2 * i);
    this.#offerPorts = ports;
    // The published body is sent as it is, line ends included; Content-Length is recounted.
    const bodyBytes = Buffer.from(localizeSdp(text.slice(blank + 2), ports));
    const proto = this.#src.transport;
    const headers = head.map((l) => l
      .replace(/^INVITE \S+/, `INVITE sip:127.0.0.1:${this.#sipPort}`)
      .replace(/^Via: SIP\/2\.0\/\w+ \S+?;/, `Via: SIP/2.0/${proto} 127.0.0.1:${this.#src.localPort};`)
      .replace(/^From: (.*<sip:[^@>]+@)[^>]+>;tag=\S+/, `From: $1127.0.0.1>;tag=${this.#src.fromTag}`)
      .replace(/^To: <sip:[^>]+>/, `To: <sip:127.0.0.1:${this.#sipPort}>`)
      .replace(/^Contact: <sip:([^@>]+)@[^;>]+(;transport=)\w+>/, `Contact: <sip:$1@127.0.0.1:${this.#src.localPort}$2${proto}>`)
      .replace(/^Call-ID: .*/, `Call-ID: ${this.#src.callId}`)
      .replace(/^Content-Length: .*/, `Content-Length: ${bodyBytes.length}`));
    const cseq = Number(/^CSeq: (\d+)/m.exec(text)?.[1]);
    this.#src.cseq = cseq;
    this.#src.sendRaw(Buffer.concat([Buffer.from(headers.join('\r\n') + '\r\n\r\n'), bodyBytes]));
    return this.#afterRequest(cseq, 'INVITE');
  }

  async #send(raw: Buffer, headers: readonly string[]): Promise<SipResponse | undefined> {
    const method = /^(\w+) /.exec(headers[0] ?? '')?.[1] ?? '';
    const cseqLine = headers.find((h) => /^CSeq\s*:/i.test(h)) ?? '';
    const [, num = '0', cseqMethod = method] = /^CSeq\s*:\s*(\d+)\s+(\w+)/i.exec(cseqLine) ?? [];
    this.#src.sendRaw(raw);
    if (method === 'ACK') return undefined;
    this.#cseq = Number(num);
    return this.#afterRequest(Number(num), cseqMethod);
  }

  async #afterRequest(cseq: number, method: string): Promise<SipResponse> {
    const response = await this.#src.waitFinal(cseq, method);
    this.#finals.push(response);
    if (response.status >= 200 && response.status < 300) {
      this.#src.toTag ??= /;tag=([^;\s]+)/.exec(getHeader(response, 'to') ?? '')?.[1];
      const answer = response.body.toString();
      if (/^m=/m.test(answer)) {
        this.#answers.push(answer);
        this.#answer = answerLines(answer);
      }
    }
    return response;
  }

  /** ACK for the body-only (drachtio) INVITEs, and BYE. */
  ack(cseq = this.#src.cseq): void {
    this.#src.request('ACK', { cseq });
  }

  async bye(): Promise<SipResponse> {
    const r = await this.#src.bye();
    this.#finals.push(r);
    return r;
  }

  /** Sends `ms` of RTP on every answered stream, each with its own tone, from its offered port. */
  async media(ms: number): Promise<void> {
    const packets = Math.round(ms / 20);
    // Encode before pacing starts: a burst after a slow first encode would run ahead of the wall
    // clock, and callseal rightly cuts audio that arrives ahead of its time.
    this.#answer.forEach((line, i) => {
      if (line.codec === 'OPUS' || line.codec === 'G729') encodedTone(line.codec, STREAM_TONES_HZ[i] ?? 2000);
    });
    const start = performance.now();
    for (let n = 0; n < packets; n++) {
      this.#answer.forEach((line, i) => {
        const from = this.#sockets.get(this.#offerPorts[i] ?? -1);
        if (line.port === 0 || !from) return;
        const hz = STREAM_TONES_HZ[i] ?? 2000;
        let payload: Buffer;
        let timestamp = this.#ts + 1000 * i;
        if (line.codec === 'OPUS' || line.codec === 'G729') {
          const tonePackets = encodedTone(line.codec, hz);
          payload = tonePackets[(this.#ts / 160) % tonePackets.length] ?? Buffer.alloc(0);
          // Opus runs its RTP clock at 48 kHz (RFC 7587 section 4.1).
          if (line.codec === 'OPUS') timestamp *= 6;
        } else {
          const encode = line.payloadType === 8 ? linearToAlaw : linearToUlaw;
          payload = Buffer.alloc(160);
          for (let k = 0; k < 160; k++) payload[k] = encode(6000 * Math.sin((2 * Math.PI * hz * (this.#ts + k)) / 8000));
        }
        const rtp = buildRtp({ payloadType: line.payloadType, sequenceNumber: (this.#seq + 7000 * i) & 0xffff, timestamp: timestamp >>> 0, ssrc: this.#ssrc[i] ?? 0x4444_0004, payload });
        from.send(rtp, line.port, '127.0.0.1');
        this.#sent[i] = (this.#sent[i] ?? 0) + 1;
      });
      this.#seq++;
      this.#ts += 160;
      const wait = start + (n + 1) * 20 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Runs the steps of a scenario. */
  async run(steps: readonly Step[]): Promise<void> {
    for (const step of steps) {
      if ('send' in step) {
        const r = await this.sendScenarioMessage(step.send, step.fix);
        if (r && (step.expectStatus ?? 200) !== r.status) throw new Error(`${step.send}: ${r.status} ${r.reason} ${getHeader(r, 'warning') ?? ''}`);
        if (r && step.expectStatus !== undefined) this.#finals.pop();
      } else if ('media' in step) await this.media(step.media);
      else {
        // Hold: the RTP timestamp goes on, as the SRC's clock does.
        this.#ts += Math.round(step.pause / 20) * 160;
        await new Promise((r) => setTimeout(r, step.pause));
      }
    }
  }

  result(): ReplayResult {
    return { callId: this.#src.callId, finals: this.#finals, answers: this.#answers, sent: this.#sent };
  }

  close(): void {
    this.#src.close();
    for (const s of this.#sockets.values()) s.close();
  }
}
