/**
 * RFC 4733 telephone events: which digit a packet starts. Does no I/O.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     event     |E|R| volume    |          duration             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 * All packets of one event share its RTP timestamp (section 2.3), and the end packet is sent three
 * times (section 2.5.1.4): a digit is noted once per timestamp, on whichever packet of it comes first,
 * so retransmitted start, update and end packets count once and a lost start packet loses nothing.
 */

/** Size of the telephone-event payload. */
export const DTMF_PAYLOAD_SIZE = 4;
/** Events 0-15 (section 3.2): the digits, `*`, `#` and A-D. */
const DTMF_DIGITS = '0123456789*#ABCD';

/** The digits of one stream's telephone events. */
export class DtmfDetector {
  #lastTimestamp: number | undefined;

  /** Returns the digit this packet starts, or undefined (a repeat of a known event, another event, too short). */
  push(packet: { readonly timestamp: number; readonly payload: Buffer }): string | undefined {
    if (packet.payload.length < DTMF_PAYLOAD_SIZE || packet.timestamp === this.#lastTimestamp) return undefined;
    const digit = DTMF_DIGITS[packet.payload[0] ?? 255];
    if (digit === undefined) return undefined;
    this.#lastTimestamp = packet.timestamp;
    return digit;
  }
}
