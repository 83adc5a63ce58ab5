/**
 * SDP offer/answer for a recording server (RFC 3264, RFC 7866 section 8): every offered audio
 * stream is answered `a=recvonly` (or `a=inactive` when the offer is inactive) on callseal's port,
 * keeping its label and one of the offered codecs. The codec is one that every stream offers
 * where one exists, so a stereo setting can interleave the two parties (B1), and otherwise the
 * SRC's first that callseal records; a codec that is not offered is never answered.
 * SDES-keyed streams (RFC 4568) get callseal's own key in the answer. Does no I/O.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parse as parseSdp } from 'sdp-transform';
import { SipError } from '../common/errors.ts';
import { codecByName, codecByStaticType, type Codec } from '../media/index.ts';
import { parseSdesCrypto, SRTP_SUITES, type SrtpSuite } from '../rtp/index.ts';

/** Direction of an offered stream as callseal reads it. */
export type StreamDirection = 'sendonly' | 'sendrecv' | 'recvonly' | 'inactive';

/** One m-line of an offer, as callseal will record it (or why not). */
export interface OfferedStream {
  readonly index: number;
  /** The `a=label` value, or `#<index>` when the SRC sent none. */
  readonly label: string;
  readonly mediaType: string;
  readonly protocol: string;
  readonly port: number;
  /** The SRC's media address (`c=` of the m-line or the session); media from elsewhere is not recorded. */
  readonly address: string;
  readonly payloads: string;
  readonly direction: StreamDirection;
  /** Hold or pause: `a=inactive`, `a=recvonly` from the SRC, or `c=0.0.0.0` (SIPREC-INTEROP). */
  readonly paused: boolean;
  readonly codec: Codec | undefined;
  readonly payloadType: number | undefined;
  /** Every recordable codec the m-line offers, in the SRC's order, with its payload type. */
  readonly offeredCodecs: readonly { readonly codec: Codec; readonly payloadType: number }[];
  readonly dtmfPayloadType: number | undefined;
  /** The SRC's chosen `a=crypto` value (after `crypto:`) for SRTP streams. */
  readonly crypto: { readonly tag: number; readonly suite: SrtpSuite; readonly value: string } | undefined;
  /** Set when callseal cannot record this stream; it is answered with port 0. */
  readonly refused: string | undefined;
}

/** The payload list of an m-line as text. */
function payloadsOf(m: { readonly payloads?: string | number }): string {
  // sdp-transform returns a number when an m-line has a single payload type, though its types say string.
  return String(m.payloads ?? '');
}

/** Options of {@link parseOffer}. */
export interface ParseOfferOptions {
  /** The recording is meant to be one stereo WAV: among shared codecs prefer one that interleaves. */
  readonly stereo?: boolean;
  /** Codec already recorded per label (re-INVITE): kept while the stream still offers it. */
  readonly keep?: ReadonlyMap<string, string>;
}

/** Parses an SDP offer; throws `SipError` 400 for an unusable document. */
export function parseOffer(sdp: Buffer, options: ParseOfferOptions = {}): OfferedStream[] {
  const textSdp = sdp.toString('utf8');
  if (!/^v=0/m.test(textSdp) || !/^m=/m.test(textSdp)) {
    throw new SipError('CS_SDP_INVALID', 400, 'Bad Request', 'SDP body without v= or m= lines');
  }
  let session;
  try {
    session = parseSdp(textSdp);
  } catch (err) {
    throw new SipError('CS_SDP_INVALID', 400, 'Bad Request', `malformed SDP: ${String(err)}`, { cause: err });
  }
  if (session.media.length > 16) throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', `${session.media.length} m-lines; at most 16 are recorded`);
  const rawSections = textSdp.split(/\r?\n(?=m=)/).slice(1);
  const sessionIp = session.connection?.ip;
  const sessionDirection = session.direction;
  const streams = session.media.map((m, index): OfferedStream => {
    const raw = rawSections[index] ?? '';
    const labelLine = /^a=label:(.+?)\s*$/m.exec(raw)?.[1];
    const label = labelLine ? labelLine.slice(0, 64) : `#${index}`;
    const ip = m.connection?.ip ?? sessionIp ?? '';
    let direction: StreamDirection = m.direction ?? sessionDirection ?? 'sendrecv';
    if (direction !== 'sendonly' && direction !== 'recvonly' && direction !== 'inactive') direction = 'sendrecv';
    const paused = direction === 'inactive' || direction === 'recvonly' || ip === '0.0.0.0' || ip === '::';
    const base = {
      index, label, mediaType: m.type, protocol: m.protocol, port: m.port, address: ip, payloads: payloadsOf(m),
      direction, paused,
    };
    const none = { codec: undefined, payloadType: undefined, offeredCodecs: [], dtmfPayloadType: undefined, crypto: undefined };
    if (m.type !== 'audio') return { ...base, ...none, refused: `media type ${m.type}` };
    if (m.port === 0) return { ...base, ...none, refused: 'stream removed (port 0)' };
    const pts = payloadsOf(m).split(/\s+/).filter((p) => /^\d{1,3}$/.test(p)).map(Number);
    const offeredCodecs: { codec: Codec; payloadType: number }[] = [];
    let dtmfPayloadType: number | undefined;
    for (const pt of pts) {
      const map = m.rtp.find((r) => r.payload === pt);
      const c = map ? codecByName(map.codec) : codecByStaticType(pt);
      // A static type keeps its RFC 3551 meaning; an rtpmap must agree on the clock rate too.
      const agrees = c !== undefined && (!map || ((pt >= 96 || codecByStaticType(pt) === c) && (map.rate === undefined || map.rate === c.clockRateHz)));
      if (c && agrees && !offeredCodecs.some((o) => o.codec === c)) offeredCodecs.push({ codec: c, payloadType: pt });
      if (map && /^telephone-event$/i.test(map.codec) && (map.rate ?? 8000) === 8000 && dtmfPayloadType === undefined) dtmfPayloadType = pt;
    }
    const codec = offeredCodecs[0]?.codec;
    const payloadType = offeredCodecs[0]?.payloadType;
    let crypto: OfferedStream['crypto'];
    const secure = /SAVP/i.test(m.protocol);
    if (secure) {
      for (const c of m.crypto ?? []) {
        const value = `${c.id} ${c.suite} ${c.config}`;
        if (!(c.suite in SRTP_SUITES)) continue;
        try {
          parseSdesCrypto(value);
          crypto = { tag: c.id, suite: c.suite as SrtpSuite, value };
          break;
        } catch {
          continue;
        }
      }
    }
    let refused: string | undefined;
    if (!codec) refused = `no recordable codec in "${payloadsOf(m)}"`;
    else if (secure && !crypto) refused = 'SRTP without a supported SDES crypto suite';
    else if (/DTLS|UDP\/TLS/i.test(m.protocol)) refused = `transport ${m.protocol} not supported`;
    return { ...base, codec, payloadType, offeredCodecs, dtmfPayloadType, crypto, refused };
  });
  return chooseCodecs(streams, options);
}

/**
 * One codec for every recorded stream where the offer allows it (RFC 3264 section 6.1 lets the
 * answerer pick any offered codec per m-line): OpenSIPS offers `0 8` on one stream and `8 0` on
 * the other, and answering each stream's first would split a stereo setting into two files. The
 * choice is, in order: the codec a stream already records (re-INVITE); among the codecs every
 * stream offers, the SRC's first (in the first stream's order) that keeps the layout (interleavable
 * for stereo); the SRC's first shared one; and when no codec is shared, each stream's first.
 */
export function chooseCodecs(streams: readonly OfferedStream[], options: ParseOfferOptions = {}): OfferedStream[] {
  const active = streams.filter((s) => s.refused === undefined && s.offeredCodecs.length > 0);
  const pick = (s: OfferedStream, name: string | undefined): OfferedStream => {
    const c = s.offeredCodecs.find((o) => o.codec.name === name);
    return c ? { ...s, codec: c.codec, payloadType: c.payloadType } : s;
  };
  const kept = (s: OfferedStream): string | undefined => {
    const name = options.keep?.get(s.label);
    return s.offeredCodecs.some((o) => o.codec.name === name) ? name : undefined;
  };
  const shared = (active[0]?.offeredCodecs ?? []).map((o) => o.codec)
    .filter((c) => active.every((s) => s.offeredCodecs.some((o) => o.codec === c)));
  const keptShared = active.map(kept).find((name) => name !== undefined && shared.some((c) => c.name === name));
  const layout = options.stereo === true && active.length > 1 ? shared.find((c) => c.stereoByInterleave) : undefined;
  const common = keptShared ?? layout?.name ?? shared[0]?.name;
  return streams.map((s) => (active.includes(s) ? pick(s, kept(s) ?? common ?? s.codec?.name) : s));
}

/**
 * Why the recorded streams of an offer do not share one codec, or undefined when they do: the
 * stereo layout of a setting cannot hold then (one file per stream), and the recording says so.
 */
export function codecLayoutNote(streams: readonly OfferedStream[]): string | undefined {
  const active = streams.filter((s) => s.refused === undefined && s.codec !== undefined);
  const names = new Set(active.map((s) => s.codec?.name));
  if (names.size <= 1) return undefined;
  const list = active.map((s) => `${s.label}: ${s.offeredCodecs.map((o) => o.codec.name).join(' ')}`).join('; ');
  return `no recordable codec is offered on every stream (${list}); each stream keeps its own codec and file`;
}

/**
 * The numeric `sess-id` of an `o=` line (RFC 4566 section 5.2: `sess-id = 1*DIGIT`) for a
 * session token: decimal digits are kept, hex tokens are read as a number, anything else is hashed
 * to 48 bits, so one session always gets the same id.
 */
export function sdpSessionId(token: string): string {
  if (/^\d{1,19}$/.test(token)) return token;
  if (/^[0-9a-f]{1,15}$/i.test(token)) return BigInt(`0x${token}`).toString(10);
  return BigInt(`0x${createHash('sha256').update(token).digest('hex').slice(0, 12)}`).toString(10);
}

/** What the answer needs per stream beyond the offer. */
export interface AnsweredStream {
  readonly offer: OfferedStream;
  /** Local RTP port; 0 refuses the stream. */
  readonly localPort: number;
  /** Our own SDES key line for SRTP streams. */
  readonly localCrypto: string | undefined;
}

/** A fresh SDES key for the answer (RFC 4568 section 6.1: each side sends its own key). */
export function newLocalCrypto(tag: number, suite: SrtpSuite): string {
  return `${tag} ${suite} inline:${randomBytes(30).toString('base64')}`;
}

/** Writes the SDP answer. */
export function buildAnswer(streams: readonly AnsweredStream[], address: string, sessionId: string, version: number): Buffer {
  const ipVer = address.includes(':') ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=callseal ${sdpSessionId(sessionId)} ${version} IN ${ipVer} ${address}`,
    's=callseal',
    `c=IN ${ipVer} ${address}`,
    't=0 0',
  ];
  for (const s of streams) {
    const o = s.offer;
    if (s.localPort === 0 || o.refused !== undefined || !o.codec || o.payloadType === undefined) {
      lines.push(`m=${o.mediaType} 0 ${o.protocol} ${o.payloads.split(/\s+/)[0] ?? '0'}`);
      if (!o.label.startsWith('#')) lines.push(`a=label:${o.label}`);
      continue;
    }
    const pts = [o.payloadType, ...(o.dtmfPayloadType !== undefined ? [o.dtmfPayloadType] : [])];
    lines.push(`m=audio ${s.localPort} ${o.protocol} ${pts.join(' ')}`);
    lines.push(`a=rtpmap:${o.payloadType} ${o.codec.rtpmap}`);
    if (o.codec.answerFmtp !== undefined) lines.push(`a=fmtp:${o.payloadType} ${o.codec.answerFmtp}`);
    if (o.dtmfPayloadType !== undefined) {
      lines.push(`a=rtpmap:${o.dtmfPayloadType} telephone-event/8000`);
      lines.push(`a=fmtp:${o.dtmfPayloadType} 0-16`);
    }
    if (s.localCrypto) lines.push(`a=crypto:${s.localCrypto}`);
    if (!o.label.startsWith('#')) lines.push(`a=label:${o.label}`);
    // RFC 3264 section 6.1: an inactive or recvonly offer is answered inactive; callseal never sends.
    lines.push(o.direction === 'inactive' || o.direction === 'recvonly' ? 'a=inactive' : 'a=recvonly');
  }
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}
