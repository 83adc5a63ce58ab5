/**
 * The SDP of an in-line call's announcement and consent IVR (C1-C3), which callseal answers itself
 * before the callee is asked: one codec it can play chosen from the caller's offer (RFC 3264
 * section 6: the answer lists formats of the offer), callseal's early-media answer naming the
 * relay's port, and the caller's offer limited to that codec for the callee, so that both sides of
 * the relay end up with the same one. Pure: buffers in, buffers out.
 */
import { parseSdesCrypto } from '../rtp/index.ts';
import { sdpAudioCodec } from './sdp-rewrite.ts';

/** The codecs announcements are encoded in (`announce/`). */
export type PromptCodec = 'PCMA' | 'PCMU' | 'G722';

/** The codec of the prompts and of the call, with its payload types from the caller's offer. */
export interface ChosenCodec {
  readonly codec: PromptCodec;
  readonly payloadType: number;
  /** The caller's telephone-event type (RFC 4733), when it offered one. */
  readonly dtmfPayloadType: number | undefined;
}

/** An SRTP (SDES, RFC 4568) offer: the first `a=crypto` value callseal supports; `usable` undefined when none is. */
export interface OfferedSrtp {
  readonly usable: { readonly value: string; readonly tag: number; readonly suite: string } | undefined;
}

/** Whether the first audio stream is RTP/SAVP, and the first of its crypto lines callseal can use; undefined for plain RTP. */
export function offeredSrtp(offer: Buffer): OfferedSrtp | undefined {
  let inAudio = false;
  let savp = false;
  const crypto: string[] = [];
  for (const line of offer.toString('utf8').split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (inAudio) break;
      inAudio = /^m=audio [1-9]/.test(line);
      savp = inAudio && line.split(' ')[2] === 'RTP/SAVP';
    } else if (inAudio && line.startsWith('a=crypto:')) crypto.push(line.slice('a=crypto:'.length));
  }
  if (!savp) return undefined;
  for (const value of crypto.slice(0, 16)) {
    try {
      const c = parseSdesCrypto(value);
      return { usable: { value: value.trim(), tag: c.tag, suite: c.suite } };
    } catch {
      // An unsupported suite or a malformed line: the next one may do (RFC 4568 section 7.1.1).
      continue;
    }
  }
  return { usable: undefined };
}

const STATIC: Readonly<Record<number, PromptCodec>> = { 0: 'PCMU', 8: 'PCMA', 9: 'G722' };
const RTPMAP: Readonly<Record<PromptCodec, string>> = { PCMU: 'PCMU/8000', PCMA: 'PCMA/8000', G722: 'G722/8000' };

function promptCodec(name: string, payloadType: number): PromptCodec | undefined {
  const n = name.toUpperCase();
  if (n === 'PCMA' || n === 'PCMU' || n === 'G722') return n;
  return name === '' && payloadType < 96 ? STATIC[payloadType] : undefined;
}

/** The first of PCMA, PCMU and G.722 in the caller's order of preference; undefined when it offers none (or no SDP). */
export function chooseCodec(offer: Buffer): ChosenCodec | undefined {
  if (offer.length === 0) return undefined;
  const found = sdpAudioCodec(offer, promptCodec);
  if (!found) return undefined;
  return { codec: found.codec as PromptCodec, payloadType: found.payloadType, dtmfPayloadType: found.dtmfPayloadType };
}

/** The payload types an m-line keeps: the chosen codec and telephone-event. */
function kept(chosen: ChosenCodec): Set<number> {
  return new Set([chosen.payloadType, ...(chosen.dtmfPayloadType !== undefined ? [chosen.dtmfPayloadType] : [])]);
}

/**
 * The caller's offer with its first audio m-line limited to the chosen codec and telephone-event
 * (their `a=rtpmap` and `a=fmtp` kept, the others' removed); the rest of the body unchanged.
 */
export function limitOffer(offer: Buffer, chosen: ChosenCodec): Buffer {
  const text = offer.toString('utf8');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const keep = kept(chosen);
  let state: 'before' | 'audio' | 'after' = 'before';
  const out: string[] = [];
  for (const line of text.split(eol)) {
    if (line.startsWith('m=')) {
      if (state === 'before' && /^m=audio \d+/.test(line) && !/^m=audio 0 /.test(line)) {
        state = 'audio';
        const parts = line.split(' ');
        out.push([...parts.slice(0, 3), ...parts.slice(3).filter((f) => keep.has(Number(f)))].join(' '));
        continue;
      }
      if (state === 'audio') state = 'after';
    } else if (state === 'audio') {
      const fmt = /^a=(?:rtpmap|fmtp):(\d{1,3})[ ]/.exec(line);
      if (fmt?.[1] !== undefined && !keep.has(Number(fmt[1]))) continue;
    }
    out.push(line);
  }
  return Buffer.from(out.join(eol), 'utf8');
}

/**
 * callseal's answer for the early media: the relay's port facing the caller, the chosen codec,
 * sendrecv (the caller's DTMF comes back); RTP/SAVP with callseal's own key when `crypto` is given.
 */
export function earlyAnswer(chosen: ChosenCodec, host: string, port: number, sessionId: string, crypto?: string): Buffer {
  const ip = host.includes(':') ? 'IP6' : 'IP4';
  const formats = [chosen.payloadType, ...(chosen.dtmfPayloadType !== undefined ? [chosen.dtmfPayloadType] : [])];
  const lines = [
    'v=0', `o=callseal ${sessionId} 1 IN ${ip} ${host}`, 's=callseal', `c=IN ${ip} ${host}`, 't=0 0',
    `m=audio ${port} ${crypto !== undefined ? 'RTP/SAVP' : 'RTP/AVP'} ${formats.join(' ')}`, ...(crypto !== undefined ? [`a=crypto:${crypto}`] : []), `a=rtpmap:${chosen.payloadType} ${RTPMAP[chosen.codec]}`,
    ...(chosen.dtmfPayloadType !== undefined ? [`a=rtpmap:${chosen.dtmfPayloadType} telephone-event/8000`, `a=fmtp:${chosen.dtmfPayloadType} 0-15`] : []),
    'a=ptime:20', 'a=sendrecv', '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
