/**
 * The forwarding core of one relayed call (in-line mode): what a datagram from one side becomes on
 * the other, and what a prompt frame becomes. Does no I/O and keeps no timers:
 * `receive(side, datagram, address, port, nowMs) -> Forward` and `prompt(toSide, ...) -> Outbound`,
 * so it is tested with plain buffers; `relay.ts` owns the sockets and the pacing.
 *
 * Per packet, in order and with constant work (invariant 4: media only from the negotiated source):
 * 1. nothing is accepted on a side before its SDP named an address; then the source check of
 *    `rtp/source.ts` (`sdp`: that address, port latched; `first`: the first source, for NAT);
 * 2. RTCP multiplexed on the RTP port (RFC 5761 section 4: second byte 192-223) is counted, not relayed;
 * 3. SRTP of the side is removed with the peer's key (RFC 3711), the header parsed (RFC 3550);
 * 4. RFC 4733 digits are noted once per event (`rtp/dtmf.ts`);
 * 5. the packet goes to the other side unless a prompt plays to it or its address is not known:
 *    to the source latched there (symmetric RTP, RFC 4961, which a NATed phone needs), else to the
 *    address and port of its SDP; encrypted with callseal's own key for that side when it is SRTP.
 *
 * Continuity (RFC 3550 section 5.1): each side's outgoing stream keeps one SSRC and continuous
 * sequence numbers and timestamps across prompts. Until the first prompt, packets go out with their
 * own headers. A prompt continues the SSRC, sequence number and timestamp last sent to the side
 * (the timestamp advanced by the wall-clock time since, marker bit on its first packet); after it,
 * forwarded packets are rewritten onto the same SSRC with offsets set at the first one (marker bit
 * set) and set again when the sender's SSRC changes, so the phone's jitter buffer never sees a
 * jump or a new source.
 */
import { randomInt } from 'node:crypto';
import {
  DtmfDetector, SourceFilter, SrtpReceiver, SrtpSender, buildRtp, parseRtp, parseSdesCrypto, uint16Gt, usableSdpAddress,
  type RtpPacket, type SourceCheck,
} from '../rtp/index.ts';
import type { RelayResult, RelaySide, RelaySideChange, RelaySideCounts, RelaySideName } from './protocol.ts';

/** Byte offsets in the fixed RTP header (RFC 3550 section 5.1). */
const MARKER_PT_OFFSET = 1;
const SEQ_OFFSET = 2;
const TIMESTAMP_OFFSET = 4;
const SSRC_OFFSET = 8;
/** RTCP packet types 192-223 in the second byte tell RTCP from RTP on one port (RFC 5761 section 4). */
const RTCP_FIRST = 192;
const RTCP_LAST = 223;

/** A packet for one side: where to send it. */
export interface Outbound {
  readonly to: RelaySideName;
  readonly packet: Buffer;
  readonly host: string;
  readonly port: number;
}

/** What one received datagram gave. */
export interface Forward {
  /** The packet for the other side, if it goes out. */
  readonly send?: Outbound;
  /** The accepted packet, decrypted and parsed, with the side's own header: what `includePrompts: false` taps record. */
  readonly rtp?: RtpPacket;
  /**
   * The packet with the header it was sent with, when that differs (rewritten onto the other side's
   * stream after a prompt): what the taps that record prompts take, so prompt and packets number one stream.
   */
  readonly heard?: RtpPacket;
  /** True when a prompt to the other side replaced this packet there. */
  readonly replaced: boolean;
  /** A digit this packet started (RFC 4733). */
  readonly digit?: string;
}

/** One prompt frame towards a side. */
export interface PromptFrame {
  readonly send?: Outbound;
  /** The frame as an RTP packet: what the taps that record the other side's direction take. */
  readonly rtp: RtpPacket;
}

/** The stream callseal sends to one side. */
interface OutStream {
  /** False until a prompt played: packets go out with their own headers. */
  rewrite: boolean;
  /** Set by a prompt: the next forwarded packet sets the offsets again. */
  resync: boolean;
  ssrc: number;
  lastSeq: number;
  lastTs: number;
  lastAtMs: number;
  started: boolean;
  /** The sender's SSRC the offsets were set for. */
  inSsrc: number;
  seqOffset: number;
  tsOffset: number;
  /** RTP clock rate of the stream, from the last prompt (8000 for the telephony codecs). */
  clockRateHz: number;
  /** RTP ticks of one frame, from the last prompt (160 for 20 ms at 8 kHz). */
  frameTicks: number;
}

interface SideState {
  readonly name: RelaySideName;
  remoteHost: string | undefined;
  remotePort: number | undefined;
  /** Undefined until the side's SDP named a usable address: nothing is accepted from it before. */
  source: SourceFilter | undefined;
  srtpIn: SrtpReceiver | undefined;
  srtpOut: SrtpSender | undefined;
  dtmfPayloadType: number | undefined;
  readonly dtmf: DtmfDetector;
  readonly out: OutStream;
  /** A prompt plays to this side: what the other side sends is not forwarded to it. */
  prompting: boolean;
  readonly counts: RelaySideCounts;
}

/** Zeroed counts of one side. */
export function emptyRelayCounts(): RelaySideCounts {
  return { received: 0, forwarded: 0, foreignSource: 0, authFailures: 0, malformed: 0, rtcp: 0, notForwarded: 0, promptPackets: 0, sendErrors: 0, lastPacketAtMs: 0 };
}

const NOTHING: Forward = { replaced: false };

/** The forwarding state of one relayed call. */
export class RelayCore {
  readonly #sourceCheck: SourceCheck;
  readonly #sides: Record<RelaySideName, SideState>;

  /** Throws `ParseError` (CS_SRTP_KEY) on a bad `a=crypto` value. */
  constructor(a: RelaySide, b: RelaySide, sourceCheck: SourceCheck) {
    this.#sourceCheck = sourceCheck;
    this.#sides = { a: this.#side('a', a), b: this.#side('b', b) };
  }

  #side(name: RelaySideName, spec: RelaySide): SideState {
    const side: SideState = {
      name, remoteHost: undefined, remotePort: undefined, source: undefined, srtpIn: undefined, srtpOut: undefined,
      dtmfPayloadType: undefined, dtmf: new DtmfDetector(), prompting: false, counts: emptyRelayCounts(),
      out: { rewrite: false, resync: false, ssrc: 0, lastSeq: 0, lastTs: 0, lastAtMs: 0, started: false, inSsrc: 0, seqOffset: 0, tsOffset: 0, clockRateHz: 8000, frameTicks: 160 },
    };
    this.#apply(side, spec);
    return side;
  }

  /** Applies an SDP change to one side (answer, re-INVITE, UPDATE). Throws CS_SRTP_KEY on a bad key, changing nothing. */
  update(name: RelaySideName, change: RelaySideChange): void {
    this.#apply(this.#sides[name], change);
  }

  #apply(side: SideState, change: RelaySideChange): void {
    // Keys first, so a bad key changes nothing.
    const srtp = change.srtp === undefined ? undefined : change.srtp === null ? null : {
      receive: new SrtpReceiver(parseSdesCrypto(change.srtp.receive)),
      send: new SrtpSender(parseSdesCrypto(change.srtp.send)),
    };
    if (srtp !== undefined) {
      side.srtpIn = srtp?.receive;
      side.srtpOut = srtp?.send;
    }
    if (change.dtmfPayloadType !== undefined) side.dtmfPayloadType = change.dtmfPayloadType;
    if (change.remotePort !== undefined) side.remotePort = change.remotePort;
    if (change.remoteHost === undefined) {
      if (change.remotePort !== undefined) side.source?.update(side.remoteHost, side.remotePort);
      return;
    }
    side.remoteHost = change.remoteHost;
    // An unusable address (0.0.0.0 for hold, a host name) stops the side until a usable one comes.
    if (usableSdpAddress(change.remoteHost) === undefined) side.source = undefined;
    else if (side.source) side.source.update(change.remoteHost, side.remotePort);
    else side.source = new SourceFilter(this.#sourceCheck, change.remoteHost, side.remotePort);
  }

  /** Where a packet for `side` goes: the latched source (symmetric RTP), else its SDP address; undefined while unknown. */
  #destination(side: SideState): { host: string; port: number } | undefined {
    if (!side.source) return undefined;
    const latched = side.source.current;
    if (latched) return { host: latched.address, port: latched.port };
    const host = usableSdpAddress(side.remoteHost);
    return host !== undefined && side.remotePort !== undefined && side.remotePort > 0 ? { host, port: side.remotePort } : undefined;
  }

  /** A datagram arrived on callseal's socket facing `from`. */
  receive(from: RelaySideName, data: Buffer, address: string, port: number, nowMs: number): Forward {
    const side = this.#sides[from];
    const c = side.counts;
    c.received++;
    // A foreign packet costs one comparison, before SRTP or parsing.
    if (!side.source?.matches(address, port, nowMs)) {
      c.foreignSource++;
      return NOTHING;
    }
    const second = data[MARKER_PT_OFFSET] ?? 0;
    if (data.length >= 8 && second >= RTCP_FIRST && second <= RTCP_LAST) {
      c.rtcp++;
      return NOTHING;
    }
    let plain = data;
    if (side.srtpIn) {
      try {
        plain = side.srtpIn.unprotect(data);
      } catch (err) {
        if (err instanceof Error && 'code' in err && err.code === 'CS_SRTP_AUTH') c.authFailures++;
        else c.malformed++;
        return NOTHING;
      }
    }
    let rtp: RtpPacket;
    try {
      rtp = parseRtp(plain);
    } catch {
      c.malformed++;
      return NOTHING;
    }
    // Only a packet that parsed (and authenticated, for SRTP) chooses the source.
    side.source.accept(address, port, nowMs);
    c.lastPacketAtMs = nowMs;
    const digit = rtp.payloadType === side.dtmfPayloadType ? side.dtmf.push(rtp) : undefined;
    const other = this.#sides[from === 'a' ? 'b' : 'a'];
    if (other.prompting) {
      c.notForwarded++;
      return { rtp, replaced: true, ...(digit !== undefined ? { digit } : {}) };
    }
    const to = this.#destination(other);
    if (!to) {
      c.notForwarded++;
      return { rtp, replaced: false, ...(digit !== undefined ? { digit } : {}) };
    }
    const rewritten = other.out.rewrite;
    const packet = this.#outgoing(other, plain, rtp, nowMs);
    c.forwarded++;
    const heard = rewritten ? { ...rtp, ssrc: other.out.ssrc, sequenceNumber: (rtp.sequenceNumber + other.out.seqOffset) & 0xffff, timestamp: (rtp.timestamp + other.out.tsOffset) >>> 0 } : undefined;
    return { send: { to: other.name, packet, host: to.host, port: to.port }, rtp, replaced: false, ...(heard ? { heard } : {}), ...(digit !== undefined ? { digit } : {}) };
  }

  /** The bytes of a forwarded packet for `side`: header rewritten after a prompt, SRTP with callseal's key. */
  #outgoing(side: SideState, plain: Buffer, rtp: RtpPacket, nowMs: number): Buffer {
    const out = side.out;
    if (out.rewrite) {
      let marker = false;
      if (out.resync || rtp.ssrc !== out.inSsrc) {
        out.seqOffset = (out.lastSeq + 1 - rtp.sequenceNumber) & 0xffff;
        out.tsOffset = (out.lastTs + elapsedTicks(out, nowMs) - rtp.timestamp) >>> 0;
        out.inSsrc = rtp.ssrc;
        out.resync = false;
        marker = true;
      }
      // The buffer is the datagram or the decrypted copy, owned here; taps keep only the parsed payload.
      plain.writeUInt32BE(out.ssrc, SSRC_OFFSET);
      plain.writeUInt16BE((rtp.sequenceNumber + out.seqOffset) & 0xffff, SEQ_OFFSET);
      plain.writeUInt32BE((rtp.timestamp + out.tsOffset) >>> 0, TIMESTAMP_OFFSET);
      if (marker) plain[MARKER_PT_OFFSET] = (plain[MARKER_PT_OFFSET] ?? 0) | 0x80;
    }
    const seq = plain.readUInt16BE(SEQ_OFFSET);
    const ssrc = plain.readUInt32BE(SSRC_OFFSET);
    // What was sent last (the highest sequence number), for the next prompt to continue from.
    if (!out.started || ssrc !== out.ssrc || uint16Gt(seq, out.lastSeq)) {
      out.ssrc = ssrc;
      out.lastSeq = seq;
      out.lastTs = plain.readUInt32BE(TIMESTAMP_OFFSET);
      out.lastAtMs = nowMs;
      out.started = true;
    }
    return side.srtpOut ? side.srtpOut.protect(plain) : plain;
  }

  /** Starts or ends a prompt to `side`: while it plays, what the other side sends is not forwarded there. */
  setPrompting(name: RelaySideName, prompting: boolean): void {
    const side = this.#sides[name];
    side.prompting = prompting;
    if (!prompting && side.out.started) side.out.resync = true;
  }

  /** One prompt frame to `toSide`, continuing its outgoing stream; `first` sets the marker bit. */
  prompt(toSide: RelaySideName, payload: Buffer, payloadType: number, ticksPerFrame: number, clockRateHz: number, first: boolean, nowMs: number): PromptFrame {
    const side = this.#sides[toSide];
    const out = side.out;
    out.clockRateHz = clockRateHz;
    out.frameTicks = Math.max(1, ticksPerFrame);
    if (!out.started) {
      // Nothing was sent to the side yet: a stream of callseal's own, random per RFC 3550 section 5.1.
      out.ssrc = randomInt(0, 2 ** 32 - 1);
      out.lastSeq = randomInt(0, 0x7fff);
      out.lastTs = randomInt(0, 2 ** 31);
      out.lastAtMs = nowMs - (1000 * ticksPerFrame) / clockRateHz;
      out.started = true;
    }
    const seq = (out.lastSeq + 1) & 0xffff;
    const ts = (out.lastTs + (first ? elapsedTicks(out, nowMs) : ticksPerFrame)) >>> 0;
    const plain = buildRtp({ payloadType, sequenceNumber: seq, timestamp: ts, ssrc: out.ssrc, marker: first, payload });
    out.lastSeq = seq;
    out.lastTs = ts;
    out.lastAtMs = nowMs;
    out.rewrite = true;
    out.resync = true;
    const rtp = parseRtp(plain);
    const to = this.#destination(side);
    if (!to) return { rtp };
    side.counts.promptPackets++;
    return { send: { to: toSide, packet: side.srtpOut ? side.srtpOut.protect(plain) : plain, host: to.host, port: to.port }, rtp };
  }

  /** Counts a packet the socket could not send. */
  sendFailed(to: RelaySideName): void {
    this.#sides[to].counts.sendErrors++;
  }

  /** Copies of both sides' counts. */
  get counts(): RelayResult {
    return { a: { ...this.#sides.a.counts }, b: { ...this.#sides.b.counts } };
  }
}

/**
 * RTP ticks of wall-clock time since the last packet sent to a side, in whole frames and at least
 * one: a packet that arrives a little early (network jitter) must not overlap the one before it.
 */
function elapsedTicks(out: OutStream, nowMs: number): number {
  const ticks = ((nowMs - out.lastAtMs) * out.clockRateHz) / 1000;
  return Math.max(1, Math.round(ticks / out.frameTicks)) * out.frameTicks;
}
