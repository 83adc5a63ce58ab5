/**
 * SDP rewriting of the in-line B2BUA (RFC 4566, RFC 3264): the media address of each side's SDP
 * is replaced by the relay's port facing the other side, and nothing else changes, so codecs,
 * ptime, direction attributes and telephone-event stay a matter between the two ends. Works on
 * lines, keeping the body's bytes (line endings included) outside the fields it rewrites:
 *
 * ```
 *   c=<nettype> <addrtype> <connection-address>     every c= (session and media level)
 *   m=<media> <port>[/<number>] <proto> <fmt> ...   the first audio m= gets the relay port,
 *                                                   other m= lines are refused (port 0)
 *   a=rtcp:<port> [<nettype> <addrtype> <addr>]     RFC 3605: the relay's port + 1
 * ```
 * A hold with `c=0.0.0.0` (RFC 2543) and a refused stream (port 0) are kept as they are. When
 * callseal terminates SRTP on a leg (RFC 4568 SDES, keys of its own per leg), the audio m-line's
 * profile is set (`RTP/AVP` <-> `RTP/SAVP`, `RTP/AVPF` <-> `RTP/SAVPF`) and its `a=crypto` lines are
 * replaced by callseal's own one, so no key of one leg ever reaches the other. Does no I/O.
 */
import net from 'node:net';
import { SipError } from '../common/errors.ts';

/** The largest SDP body the B2BUA rewrites. */
export const MAX_SDP_BYTES = 16 * 1024;

/** The media address an SDP names for its first audio stream. */
export interface SdpMediaAddress {
  /** From the audio m-line's c=, else the session's; undefined when none is usable. */
  readonly host: string | undefined;
  readonly port: number;
  /** The stream is on hold by `c=0.0.0.0` or refused (port 0). */
  readonly held: boolean;
}

function invalid(why: string): SipError {
  return new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', `SDP ${why}`);
}

/** The body as lines and the line ending it uses. */
function linesOf(sdp: Buffer): { readonly lines: string[]; readonly eol: string; readonly trailing: boolean } {
  if (sdp.length > MAX_SDP_BYTES) throw invalid(`body of ${sdp.length} bytes is larger than ${MAX_SDP_BYTES}`);
  const text = sdp.toString('utf8');
  if (!text.startsWith('v=')) throw invalid('does not start with v=');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const trailing = text.endsWith(eol);
  const lines = (trailing ? text.slice(0, -eol.length) : text).split(eol);
  return { lines, eol, trailing };
}

interface MLine { readonly media: string; readonly port: number; readonly rest: string }

/** `m=audio 4000/2 RTP/AVP 0 8` parsed; undefined when malformed. */
function parseMLine(line: string): MLine | undefined {
  const m = /^m=(\S+) (\d{1,5})((?:\/\d+)? .+)$/.exec(line);
  if (!m?.[1] || m[2] === undefined || m[3] === undefined) return undefined;
  const port = Number(m[2]);
  return port > 65535 ? undefined : { media: m[1], port, rest: m[3] };
}

/** The address of a `c=` line; undefined when malformed. */
function connectionAddress(line: string): string | undefined {
  const m = /^c=IN IP[46] ([^\s/]+)(?:\/\S+)?$/.exec(line);
  return m?.[1];
}

/** The first audio stream's media address (the relay's source check and forwarding target). */
export function sdpMediaAddress(sdp: Buffer): SdpMediaAddress | undefined {
  const { lines } = linesOf(sdp);
  let session: string | undefined;
  let audio: { port: number; host: string | undefined } | undefined;
  let inAudio = false;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (audio) break;
      const m = parseMLine(line);
      if (!m) throw invalid(`has a malformed m-line: ${line.slice(0, 80)}`);
      inAudio = m.media === 'audio';
      if (inAudio) audio = { port: m.port, host: undefined };
    } else if (line.startsWith('c=')) {
      const host = connectionAddress(line);
      if (host === undefined) throw invalid(`has a malformed c-line: ${line.slice(0, 80)}`);
      if (audio && inAudio) audio.host = host;
      else if (!audio) session = host;
    }
  }
  if (!audio) return undefined;
  const host = audio.host ?? session;
  const held = audio.port === 0 || host === '0.0.0.0' || host === '::';
  return { host: host !== undefined && net.isIP(host) !== 0 ? host : undefined, port: audio.port, held };
}

/** The transport profile and SDES keys of the first audio stream (RFC 3711, RFC 4568). */
export interface SdpAudioSecurity {
  /** The m-line's proto field, `RTP/AVP`, `RTP/SAVP`, ... */
  readonly proto: string;
  /** The profile is secure (`RTP/SAVP`, `RTP/SAVPF`). */
  readonly srtp: boolean;
  /** The values of the stream's `a=crypto:` lines (after the colon), in their order. */
  readonly crypto: readonly string[];
}

/** How the audio stream of a rewritten SDP is secured toward its receiver. */
export interface SdpSecurityRewrite {
  /** SRTP toward the receiver: the profile becomes secure and `crypto` is the only key line. */
  readonly srtp: boolean;
  /** callseal's own `a=crypto` value for the receiver; required when `srtp`. */
  readonly crypto?: string | undefined;
}

/** `m=audio 4000/2 RTP/SAVP 0` -> the proto field and what surrounds it. */
function splitProto(rest: string): { readonly before: string; readonly proto: string; readonly after: string } | undefined {
  const m = /^((?:\/\d+)? )(\S+)(.*)$/.exec(rest);
  return m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined ? { before: m[1], proto: m[2], after: m[3] } : undefined;
}

/** `RTP/SAVP` and `RTP/SAVPF` (RFC 3711, RFC 5124). */
function isSecureProto(proto: string): boolean {
  return /^(?:UDP\/TLS\/)?RTP\/SAVPF?$/i.test(proto);
}

/** The proto with its security switched; other protos are kept. */
function protoFor(proto: string, srtp: boolean): string {
  const p = proto.toUpperCase();
  if (p === 'RTP/AVP' || p === 'RTP/SAVP') return srtp ? 'RTP/SAVP' : 'RTP/AVP';
  if (p === 'RTP/AVPF' || p === 'RTP/SAVPF') return srtp ? 'RTP/SAVPF' : 'RTP/AVPF';
  return proto;
}

/** The profile and `a=crypto` values of the first audio stream; undefined without one. */
export function sdpAudioSecurity(sdp: Buffer): SdpAudioSecurity | undefined {
  const { lines } = linesOf(sdp);
  let found: { proto: string; crypto: string[] } | undefined;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (found) break;
      const m = parseMLine(line);
      if (!m) throw invalid(`has a malformed m-line: ${line.slice(0, 80)}`);
      const split = m.media === 'audio' && m.port !== 0 ? splitProto(m.rest) : undefined;
      if (split) found = { proto: split.proto, crypto: [] };
    } else if (found && line.startsWith('a=crypto:')) {
      found.crypto.push(line.slice('a=crypto:'.length));
    }
  }
  return found ? { proto: found.proto, srtp: isSecureProto(found.proto), crypto: found.crypto } : undefined;
}

/**
 * `sdp` with its media address replaced by `host`:`port` (the relay's side facing the receiver of
 * this SDP), and, with `security`, the audio stream's profile and key set for the receiver. Throws
 * `SipError` 488 (`CS_SDP_INVALID`) for a body that is not SDP or too large.
 */
export function rewriteSdp(sdp: Buffer, host: string, port: number, security?: SdpSecurityRewrite): Buffer {
  const { lines, eol, trailing } = linesOf(sdp);
  const addrType = net.isIPv6(host) ? 'IP6' : 'IP4';
  let audioSeen = false;
  let current: 'audio' | 'other' | 'session' = 'session';
  const out: string[] = [];
  // callseal's own key goes at the end of the audio section, after its other attributes.
  let cryptoDue: string | undefined;
  const endAudio = (): void => {
    if (cryptoDue !== undefined) out.push(`a=crypto:${cryptoDue}`);
    cryptoDue = undefined;
  };
  for (const line of lines) out.push(...rewriteLine(line));
  endAudio();
  return Buffer.from(out.join(eol) + (trailing ? eol : ''), 'utf8');

  function rewriteLine(line: string): string[] {
    if (line.startsWith('m=')) {
      const m = parseMLine(line);
      if (!m) throw invalid(`has a malformed m-line: ${line.slice(0, 80)}`);
      endAudio();
      const first = m.media === 'audio' && !audioSeen;
      if (m.media === 'audio') audioSeen = true;
      current = first ? 'audio' : 'other';
      // One relay pair per call: a further stream is refused rather than sent past the relay.
      if (m.port === 0) return [line];
      if (!first) return [`m=${m.media} 0${m.rest}`];
      if (security?.srtp === true) cryptoDue = security.crypto;
      const split = security ? splitProto(m.rest) : undefined;
      const rest = split && security ? `${split.before}${protoFor(split.proto, security.srtp)}${split.after}` : m.rest;
      return [`m=${m.media} ${port}${rest}`];
    }
    // The other leg's keys never go on: the receiver gets callseal's own key, or none.
    if (security && current === 'audio' && line.startsWith('a=crypto:')) return [];
    return [rewriteOther(line)];
  }

  function rewriteOther(line: string): string {
    if (line.startsWith('c=')) {
      const address = connectionAddress(line);
      if (address === undefined) throw invalid(`has a malformed c-line: ${line.slice(0, 80)}`);
      // A hold by c=0.0.0.0 keeps its meaning.
      if (address === '0.0.0.0' || address === '::') return line;
      return `c=IN ${addrType} ${host}`;
    }
    if (line.startsWith('a=rtcp:') && current === 'audio') return `a=rtcp:${port + 1} IN ${addrType} ${host}`;
    return line;
  }
}

/** The first audio stream's first codec and its telephone-event payload type (RFC 4733), as a recording leg needs them. */
export interface SdpAudioCodec {
  readonly codec: string;
  readonly payloadType: number;
  readonly dtmfPayloadType: number | undefined;
}

/**
 * The codec the first audio m-line lists first (by `a=rtpmap`, else the static type of RFC 3551)
 * and its telephone-event type; undefined when it has none callseal records.
 */
export function sdpAudioCodec(sdp: Buffer, known: (name: string, payloadType: number) => string | undefined): SdpAudioCodec | undefined {
  const { lines } = linesOf(sdp);
  let formats: number[] | undefined;
  const rtpmap = new Map<number, string>();
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (formats) break;
      const m = parseMLine(line);
      if (m?.media === 'audio' && m.port !== 0) formats = m.rest.trim().split(/\s+/).slice(1).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128);
    } else if (formats && line.startsWith('a=rtpmap:')) {
      const r = /^a=rtpmap:(\d{1,3}) ([^/\s]+)/.exec(line);
      if (r?.[1] !== undefined && r[2] !== undefined) rtpmap.set(Number(r[1]), r[2]);
    }
  }
  if (!formats) return undefined;
  const dtmfPayloadType = formats.find((pt) => rtpmap.get(pt)?.toLowerCase() === 'telephone-event');
  for (const pt of formats) {
    const codec = known(rtpmap.get(pt) ?? '', pt);
    if (codec !== undefined) return { codec, payloadType: pt, dtmfPayloadType };
  }
  return undefined;
}
