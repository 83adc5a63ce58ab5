/**
 * QuickXorHash, the content hash OneDrive for Business and SharePoint report for every file
 * (`file.hashes.quickXorHash`, base64), as Microsoft documents it: a 160-bit state; the n-th byte
 * of the input is XORed in at bit position (11 * n) mod 160, wrapping around the end; finally the
 * input length, as a 64-bit little-endian integer, is XORed into the last 8 of the 20 bytes.
 *
 * Bytes 160 positions apart land on the same bit, so each update XORs those together first and
 * shifts only 160 values into the state.
 */
import { createReadStream } from 'node:fs';

const WIDTH_BITS = 160;
const WIDTH_BYTES = WIDTH_BITS / 8;
const SHIFT_BITS = 11;

/** An incremental QuickXorHash. */
export class QuickXorHash {
  readonly #state = new Uint8Array(WIDTH_BYTES);
  /** Bit position of the next input byte. */
  #shiftBits = 0;
  #lengthBytes = 0;

  update(data: Uint8Array): this {
    const n = data.length;
    const positions = Math.min(n, WIDTH_BITS);
    for (let i = 0; i < positions; i++) {
      let x = 0;
      for (let j = i; j < n; j += WIDTH_BITS) x ^= data[j] ?? 0;
      const bit = (this.#shiftBits + i * SHIFT_BITS) % WIDTH_BITS;
      const at = bit >> 3;
      const offset = bit & 7;
      this.#state[at] = (this.#state[at] ?? 0) ^ ((x << offset) & 0xff);
      if (offset !== 0) {
        const next = (at + 1) % WIDTH_BYTES;
        this.#state[next] = (this.#state[next] ?? 0) ^ (x >> (8 - offset));
      }
    }
    this.#shiftBits = (this.#shiftBits + SHIFT_BITS * (n % WIDTH_BITS)) % WIDTH_BITS;
    this.#lengthBytes += n;
    return this;
  }

  /** The 20-byte digest (the state is left as it is: more updates may follow). */
  digest(): Buffer {
    const out = Buffer.from(this.#state);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(this.#lengthBytes));
    for (let i = 0; i < 8; i++) out[WIDTH_BYTES - 8 + i] = (out[WIDTH_BYTES - 8 + i] ?? 0) ^ (length[i] ?? 0);
    return out;
  }

  /** The digest in base64, as Graph reports it. */
  digestBase64(): string {
    return this.digest().toString('base64');
  }
}

/** QuickXorHash (base64) of a file. */
export async function quickXorHashFile(path: string): Promise<string> {
  const h = new QuickXorHash();
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digestBase64();
}
