/**
 * SDP offer/answer for a recording server (RFC 3264, RFC 7866 section 8): every offered audio
 * stream is answered `a=recvonly` (or `a=inactive` when the offer is inactive) on callseal's port,
 * keeping its label and one of the offered codecs (the SRC's first that callseal records).
 * SDES-keyed streams (RFC 4568) get callseal's own key in the answer. Does no I/O.
 */
import { randomBytes } from 'node:crypto';
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
  readonly payloads: string;
  readonly direction: StreamDirection;
  /** Hold or pause: `a=inactive`, `a=recvonly` from the SRC, or `c=0.0.0.0` (SIPREC-INTEROP). */
  readonly paused: boolean;
  readonly codec: Codec | undefined;
  readonly payloadType: number | undefined;
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

/** Parses an SDP offer; throws `SipError` 400 for an unusable document. */
export function parseOffer(sdp: Buffer): OfferedStream[] {
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
  return session.media.map((m, index): OfferedStream => {
    const raw = rawSections[index] ?? '';
    const labelLine = /^a=label:(.+?)\s*$/m.exec(raw)?.[1];
    const label = labelLine ? labelLine.slice(0, 64) : `#${index}`;
    const ip = m.connection?.ip ?? sessionIp ?? '';
    let direction: StreamDirection = m.direction ?? sessionDirection ?? 'sendrecv';
    if (direction !== 'sendonly' && direction !== 'recvonly' && direction !== 'inactive') direction = 'sendrecv';
    const paused = direction === 'inactive' || direction === 'recvonly' || ip === '0.0.0.0' || ip === '::';
    const base = {
      index, label, mediaType: m.type, protocol: m.protocol, port: m.port, payloads: payloadsOf(m),
      direction, paused,
    };
    if (m.type !== 'audio') return { ...base, codec: undefined, payloadType: undefined, dtmfPayloadType: undefined, crypto: undefined, refused: `media type ${m.type}` };
    if (m.port === 0) return { ...base, codec: undefined, payloadType: undefined, dtmfPayloadType: undefined, crypto: undefined, refused: 'stream removed (port 0)' };
    const pts = payloadsOf(m).split(/\s+/).filter((p) => /^\d{1,3}$/.test(p)).map(Number);
    let codec: Codec | undefined;
    let payloadType: number | undefined;
    let dtmfPayloadType: number | undefined;
    for (const pt of pts) {
      const map = m.rtp.find((r) => r.payload === pt);
      const c = map ? codecByName(map.codec) : codecByStaticType(pt);
      if (c && (!map || pt >= 96 || codecByStaticType(pt) === c) && !codec) {
        codec = c;
        payloadType = pt;
      }
      if (map && /^telephone-event$/i.test(map.codec) && dtmfPayloadType === undefined) dtmfPayloadType = pt;
    }
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
    return { ...base, codec, payloadType, dtmfPayloadType, crypto, refused };
  });
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
    `o=callseal ${sessionId} ${version} IN ${ipVer} ${address}`,
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
