/**
 * Cuts SIP messages out of a TCP or TLS byte stream by Content-Length (RFC 3261 section 18.3).
 * Keep-alive CRLFs (RFC 5626 section 3.5.1) between messages are skipped. Does no I/O.
 */
import { SipError } from '../common/errors.ts';
import { MAX_MESSAGE_BYTES } from './message.ts';

/** Result of pushing bytes: complete frames, and an error when the stream cannot be framed any more. */
export interface FrameResult {
  readonly frames: Buffer[];
  /** Set when the stream is broken (no or bad Content-Length, oversized); the connection should be closed. */
  readonly error?: SipError;
}

/** Accumulates stream bytes and yields whole messages. */
export class StreamFramer {
  #buffer: Buffer = Buffer.alloc(0);
  readonly #maxBytes: number;

  constructor(maxBytes = MAX_MESSAGE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Adds received bytes and returns every message completed by them. */
  push(chunk: Buffer): FrameResult {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      let start = 0;
      while (start < this.#buffer.length && (this.#buffer[start] === 0x0d || this.#buffer[start] === 0x0a)) start++;
      if (start > 0) this.#buffer = this.#buffer.subarray(start);
      if (this.#buffer.length === 0) break;
      const headEnd = this.#buffer.indexOf('\r\n\r\n', 0, 'latin1');
      if (headEnd < 0) {
        if (this.#buffer.length > this.#maxBytes) return { frames, error: tooLarge(this.#buffer.length, this.#maxBytes) };
        break;
      }
      const head = this.#buffer.toString('latin1', 0, headEnd);
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(?:\r\n[ \t]+)?(\S*)/i.exec(head);
      if (!m?.[1] || !/^\d{1,10}$/.test(m[1])) {
        // RFC 3261 section 18.3: Content-Length is mandatory on stream transports.
        return { frames, error: new SipError('CS_SIP_BODY_LENGTH', 400, 'Bad Request', 'missing or malformed Content-Length on a stream transport') };
      }
      const total = headEnd + 4 + Number(m[1]);
      if (total > this.#maxBytes) return { frames, error: tooLarge(total, this.#maxBytes) };
      if (this.#buffer.length < total) break;
      frames.push(Buffer.from(this.#buffer.subarray(0, total)));
      this.#buffer = this.#buffer.subarray(total);
    }
    return { frames };
  }

  /** Bytes held for an incomplete message. */
  get pendingBytes(): number {
    return this.#buffer.length;
  }
}

function tooLarge(size: number, max: number): SipError {
  return new SipError('CS_SIP_TOO_LARGE', 413, 'Request Entity Too Large', `message of ${size} bytes exceeds ${max}`);
}
