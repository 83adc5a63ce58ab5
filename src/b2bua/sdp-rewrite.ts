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
 * A hold with `c=0.0.0.0` (RFC 2543) and a refused stream (port 0) are kept as they are. Does no I/O.
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

/**
 * `sdp` with its media address replaced by `host`:`port` (the relay's side facing the receiver of
 * this SDP). Throws `SipError` 488 (`CS_SDP_INVALID`) for a body that is not SDP or too large.
 */
export function rewriteSdp(sdp: Buffer, host: string, port: number): Buffer {
  const { lines, eol, trailing } = linesOf(sdp);
  const addrType = net.isIPv6(host) ? 'IP6' : 'IP4';
  let audioSeen = false;
  let current: 'audio' | 'other' | 'session' = 'session';
  const out = lines.map((line) => {
    if (line.startsWith('m=')) {
      const m = parseMLine(line);
      if (!m) throw invalid(`has a malformed m-line: ${line.slice(0, 80)}`);
      const first = m.media === 'audio' && !audioSeen;
      if (m.media === 'audio') audioSeen = true;
      current = first ? 'audio' : 'other';
      // One relay pair per call: a further stream is refused rather than sent past the relay.
      if (m.port === 0) return line;
      return `m=${m.media} ${first ? port : 0}${m.rest}`;
    }
    if (line.startsWith('c=')) {
      const address = connectionAddress(line);
      if (address === undefined) throw invalid(`has a malformed c-line: ${line.slice(0, 80)}`);
      // A hold by c=0.0.0.0 keeps its meaning.
      if (address === '0.0.0.0' || address === '::') return line;
      return `c=IN ${addrType} ${host}`;
    }
    if (line.startsWith('a=rtcp:') && current === 'audio') return `a=rtcp:${port + 1} IN ${addrType} ${host}`;
    return line;
  });
  return Buffer.from(out.join(eol) + (trailing ? eol : ''), 'utf8');
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
