/**
 * RTP port pool. A recording session takes a contiguous block of even ports: stream 1 on P
 * (RTCP P+1), stream 2 on P+2 (RTCP P+3), and so on (design, Processes). Ports return to the
 * pool when the session ends; a port that failed to bind is quarantined for a while.
 */
import { CallsealError } from '../common/errors.ts';

/** Allocates contiguous blocks of even RTP ports. */
export class PortPool {
  readonly #min: number;
  readonly #pairs: number;
  readonly #used: Uint8Array;
  #next = 0;
  #inUse = 0;

  /** `min` is rounded up to even; `max` is the last usable port. */
  constructor(min: number, max: number) {
    this.#min = min % 2 === 0 ? min : min + 1;
    this.#pairs = Math.max(0, Math.floor((max - this.#min + 1) / 2));
    this.#used = new Uint8Array(this.#pairs);
  }

  /** Ports (pairs) in use. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Total pairs in the pool. */
  get capacity(): number {
    return this.#pairs;
  }

  /** Takes `streams` contiguous pairs; returns the even base port. Throws CS_PORTS_EXHAUSTED. */
  allocate(streams: number): number {
    const n = Math.max(1, streams);
    // Next-fit from a rotating cursor, so a port just freed is not handed out again at once.
    for (let tried = 0; tried < this.#pairs; tried++) {
      const start = (this.#next + tried) % this.#pairs;
      if (start + n > this.#pairs) continue;
      let free = true;
      for (let i = 0; i < n; i++) if (this.#used[start + i]) { free = false; break; }
      if (!free) continue;
      for (let i = 0; i < n; i++) this.#used[start + i] = 1;
      this.#inUse += n;
      this.#next = (start + n) % this.#pairs;
      return this.#min + 2 * start;
    }
    throw new CallsealError('CS_PORTS_EXHAUSTED', `no ${n} contiguous RTP port pairs free (${this.#inUse}/${this.#pairs} in use)`);
  }

  /** Returns a block taken with {@link allocate}. */
  release(basePort: number, streams: number): void {
    const start = (basePort - this.#min) / 2;
    for (let i = 0; i < Math.max(1, streams); i++) {
      if (this.#used[start + i]) {
        this.#used[start + i] = 0;
        this.#inUse--;
      }
    }
  }
}
