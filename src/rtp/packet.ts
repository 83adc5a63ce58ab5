/**
 * RTP packet parsing (RFC 3550 section 5.1) and 16/32-bit wrap-around helpers. Does no I/O.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import { ParseError } from '../common/errors.ts';

/** Size of the fixed RTP header. */
export const RTP_HEADER_SIZE = 12;
const SEQ_OFFSET = 2;
const TIMESTAMP_OFFSET = 4;
const SSRC_OFFSET = 8;

/** A parsed RTP packet; `payload` is a view into the datagram. */
export interface RtpPacket {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  /** Length of header, CSRCs and extension: where the payload starts. */
  readonly headerSize: number;
  readonly payload: Buffer;
}

/**
 * Parses an RTP packet. `paddingAllowed` is false for SRTP before decryption, where the padding
 * byte is encrypted.
 */
export function parseRtp(buf: Buffer, paddingAllowed = true): RtpPacket {
  if (buf.length < RTP_HEADER_SIZE) throw new ParseError('CS_RTP_TRUNCATED', `RTP packet of ${buf.length} bytes`, 0);
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  if (b0 >> 6 !== 2) throw new ParseError('CS_RTP_VERSION', `RTP version ${b0 >> 6}`, 0);
  const csrcCount = b0 & 0x0f;
  let headerSize = RTP_HEADER_SIZE + 4 * csrcCount;
  if (buf.length < headerSize) throw new ParseError('CS_RTP_TRUNCATED', 'RTP CSRC list truncated', RTP_HEADER_SIZE);
  if (b0 & 0x10) {
    // Header extension (RFC 3550 section 5.3.1): 16-bit profile, 16-bit length in 32-bit words.
    if (buf.length < headerSize + 4) throw new ParseError('CS_RTP_TRUNCATED', 'RTP extension header truncated', headerSize);
    headerSize += 4 + 4 * buf.readUInt16BE(headerSize + 2);
    if (buf.length < headerSize) throw new ParseError('CS_RTP_TRUNCATED', 'RTP extension truncated', headerSize);
  }
  let end = buf.length;
  if (paddingAllowed && b0 & 0x20) {
    const pad = buf[buf.length - 1] ?? 0;
    if (pad === 0 || headerSize + pad > buf.length) throw new ParseError('CS_RTP_TRUNCATED', 'RTP padding longer than the packet', buf.length - 1);
    end -= pad;
  }
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: buf.readUInt16BE(SEQ_OFFSET),
    timestamp: buf.readUInt32BE(TIMESTAMP_OFFSET),
    ssrc: buf.readUInt32BE(SSRC_OFFSET),
    headerSize,
    payload: buf.subarray(headerSize, end),
  };
}

/** Builds an RTP packet (used by tests, benchmarks and the media sender helper). */
export function buildRtp(p: { payloadType: number; sequenceNumber: number; timestamp: number; ssrc: number; marker?: boolean; payload: Buffer }): Buffer {
  const buf = Buffer.alloc(RTP_HEADER_SIZE + p.payload.length);
  buf[0] = 0x80;
  buf[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  buf.writeUInt16BE(p.sequenceNumber & 0xffff, SEQ_OFFSET);
  buf.writeUInt32BE(p.timestamp >>> 0, TIMESTAMP_OFFSET);
  buf.writeUInt32BE(p.ssrc >>> 0, SSRC_OFFSET);
  p.payload.copy(buf, RTP_HEADER_SIZE);
  return buf;
}

/** Signed distance a - b of two 16-bit sequence numbers, in [-32768, 32767]. */
export function seqDelta(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** True when 16-bit sequence number a comes after b. */
export function uint16Gt(a: number, b: number): boolean {
  return seqDelta(a, b) > 0;
}

/** Signed distance a - b of two 32-bit timestamps. */
export function tsDelta(a: number, b: number): number {
  return (a - b) | 0;
}
