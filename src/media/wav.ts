/**
 * WAV writer and header reader for original-codec audio (B2), streamed to disk (invariant 1), with
 * an in-place upgrade to RF64 (EBU Tech 3306) when the data passes 4 GiB (B8).
 *
 * Layout written (offsets in bytes):
 * ```
 *  0 "RIFF" | "RF64"   4 riff size (0xFFFFFFFF in RF64)   8 "WAVE"
 * 12 "JUNK" | "ds64"  16 28  20 riffSize64  28 dataSize64  36 sampleCount64  44 tableLength=0
 * 48 "fmt "           52 18  56 formatTag channels sampleRate byteRate blockAlign bits cbSize=0
 * 74 "fact"           78 4   82 sampleCount (0xFFFFFFFF in RF64)
 * 86 "data"           90 data size (0xFFFFFFFF in RF64)   94 audio
 * ```
 * The JUNK chunk reserves the ds64 space so the upgrade never moves audio.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { ParseError } from '../common/errors.ts';

/** Size of the header callseal writes. */
export const WAV_HEADER_SIZE = 94;
const U32_MAX = 0xffffffff;

/** The audio format of a WAV file. */
export interface WavFormat {
  readonly formatTag: number;
  readonly channels: number;
  readonly sampleRateHz: number;
  readonly bitsPerSample: number;
  /** Bytes per second of audio. */
  readonly byteRate: number;
  readonly blockAlign: number;
}

/** Builds the 94-byte header for `dataBytes` of audio; RF64 when the sizes need it or `forceRf64`. */
export function wavHeader(format: WavFormat, dataBytes: number, forceRf64 = false): Buffer {
  const h = Buffer.alloc(WAV_HEADER_SIZE);
  const riffSize = WAV_HEADER_SIZE - 8 + dataBytes;
  const samples = format.blockAlign > 0 ? Math.floor((dataBytes * format.sampleRateHz) / format.byteRate) : 0;
  const rf64 = forceRf64 || riffSize > U32_MAX;
  h.write(rf64 ? 'RF64' : 'RIFF', 0, 'latin1');
  h.writeUInt32LE(rf64 ? U32_MAX : riffSize, 4);
  h.write('WAVE', 8, 'latin1');
  h.write(rf64 ? 'ds64' : 'JUNK', 12, 'latin1');
  h.writeUInt32LE(28, 16);
  if (rf64) {
    h.writeBigUInt64LE(BigInt(riffSize), 20);
    h.writeBigUInt64LE(BigInt(dataBytes), 28);
    h.writeBigUInt64LE(BigInt(samples), 36);
  }
  h.write('fmt ', 48, 'latin1');
  h.writeUInt32LE(18, 52);
  h.writeUInt16LE(format.formatTag, 56);
  h.writeUInt16LE(format.channels, 58);
  h.writeUInt32LE(format.sampleRateHz, 60);
  h.writeUInt32LE(format.byteRate, 64);
  h.writeUInt16LE(format.blockAlign, 68);
  h.writeUInt16LE(format.bitsPerSample, 70);
  h.writeUInt16LE(0, 72);
  h.write('fact', 74, 'latin1');
  h.writeUInt32LE(4, 78);
  h.writeUInt32LE(rf64 ? U32_MAX : Math.min(samples, U32_MAX), 82);
  h.write('data', 86, 'latin1');
  h.writeUInt32LE(rf64 ? U32_MAX : dataBytes, 90);
  return h;
}

/** Streams audio bytes to a WAV file with bounded memory; sync I/O, meant for media workers. */
export class WavWriter {
  readonly path: string;
  readonly format: WavFormat;
  #fd: number | undefined;
  #buffer: Buffer;
  #buffered = 0;
  #dataBytes = 0;
  #flushedBytes = 0;

  /** Creates (truncates) the file and writes a header for zero bytes. */
  constructor(path: string, format: WavFormat, bufferBytes = 8192) {
    this.path = path;
    this.format = format;
    this.#buffer = Buffer.alloc(bufferBytes);
    this.#fd = openSync(path, 'w');
    writeSync(this.#fd, wavHeader(format, 0), 0, WAV_HEADER_SIZE, 0);
  }

  /** Audio bytes written so far (including buffered ones). */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** Appends audio bytes. */
  write(bytes: Buffer): void {
    let offset = 0;
    while (offset < bytes.length) {
      const n = Math.min(bytes.length - offset, this.#buffer.length - this.#buffered);
      bytes.copy(this.#buffer, this.#buffered, offset, offset + n);
      this.#buffered += n;
      offset += n;
      if (this.#buffered === this.#buffer.length) this.flush();
    }
    this.#dataBytes += bytes.length;
  }

  /**
   * Appends `count` bytes of codec silence: one byte repeated, or a pattern repeated from its
   * start (G.722 silence is a sequence of codes, not one value).
   */
  fill(silence: number | Buffer, count: number): void {
    const pattern = typeof silence === 'number' ? Buffer.from([silence]) : silence;
    if (pattern.length === 0) throw new RangeError('empty silence pattern');
    let left = count;
    let phase = 0;
    while (left > 0) {
      const n = Math.min(left, this.#buffer.length - this.#buffered);
      this.#buffer.fill(pattern.length === 1 ? pattern : Buffer.concat([pattern.subarray(phase), pattern.subarray(0, phase)]), this.#buffered, this.#buffered + n);
      phase = (phase + n) % pattern.length;
      this.#buffered += n;
      left -= n;
      if (this.#buffered === this.#buffer.length) this.flush();
    }
    this.#dataBytes += count;
  }

  /**
   * Writes buffered bytes to the file (to the page cache; `close` fsyncs). A short write is
   * continued; on an error (ENOSPC) the bytes written so far count as flushed, the rest stays
   * buffered, and the error is thrown.
   */
  flush(): void {
    if (this.#fd === undefined || this.#buffered === 0) return;
    let done = 0;
    try {
      while (done < this.#buffered) {
        done += writeSync(this.#fd, this.#buffer, done, this.#buffered - done, WAV_HEADER_SIZE + this.#flushedBytes + done);
      }
    } finally {
      if (done > 0 && done < this.#buffered) this.#buffer.copy(this.#buffer, 0, done, this.#buffered);
      this.#flushedBytes += done;
      this.#buffered -= done;
    }
  }

  /** Cuts the audio back to `length` bytes (nothing happens when it is not longer). */
  truncate(length: number): void {
    if (length >= this.#dataBytes) return;
    if (length >= this.#flushedBytes) {
      this.#buffered = length - this.#flushedBytes;
    } else {
      this.#buffered = 0;
      if (this.#fd !== undefined) ftruncateSync(this.#fd, WAV_HEADER_SIZE + length);
      this.#flushedBytes = length;
    }
    this.#dataBytes = length;
  }

  /** Audio bytes in the file itself (not counting the buffer). */
  get flushedBytes(): number {
    return this.#flushedBytes;
  }

  /**
   * After a write error: forgets what is still buffered, so the file and `dataBytes` agree and
   * `close` writes a header for what is really on disk. Returns the bytes dropped.
   */
  dropBuffered(): number {
    const dropped = this.#buffered;
    this.#buffered = 0;
    this.#dataBytes = this.#flushedBytes;
    return dropped;
  }

  /** Rewrites the header for the current size (done at close and periodically for crash safety). */
  updateHeader(): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, wavHeader(this.format, this.#dataBytes), 0, WAV_HEADER_SIZE, 0);
  }

  /** Flushes, writes the final header, fsyncs and closes. Idempotent; the descriptor is closed even on an error. */
  close(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    try {
      this.flush();
      this.updateHeader();
      fsyncSync(fd);
    } finally {
      this.#fd = undefined;
      closeSync(fd);
    }
  }
}

/** What the header of a WAV file says, and where its audio is. */
export interface WavInfo {
  readonly format: WavFormat;
  readonly rf64: boolean;
  readonly dataOffset: number;
  /** Data size from the header (may be wrong after a crash). */
  readonly declaredDataBytes: number;
  readonly fileBytes: number;
}

/** Reads the header of a WAV or RF64 file. Throws CS_WAV_INVALID. */
export function readWavInfo(path: string): WavInfo {
  const fd = openSync(path, 'r');
  try {
    const fileBytes = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(fileBytes, 4096));
    readSync(fd, head, 0, head.length, 0);
    const id = head.toString('latin1', 0, 4);
    if ((id !== 'RIFF' && id !== 'RF64') || head.toString('latin1', 8, 12) !== 'WAVE') {
      throw new ParseError('CS_WAV_INVALID', `${path}: not a WAV file`);
    }
    let pos = 12;
    let format: WavFormat | undefined;
    let ds64Data: number | undefined;
    while (pos + 8 <= head.length) {
      const chunk = head.toString('latin1', pos, pos + 4);
      const size = head.readUInt32LE(pos + 4);
      if (chunk === 'ds64' && pos + 36 <= head.length) ds64Data = Number(head.readBigUInt64LE(pos + 16));
      if (chunk === 'fmt ' && pos + 24 <= head.length) {
        format = {
          formatTag: head.readUInt16LE(pos + 8), channels: head.readUInt16LE(pos + 10), sampleRateHz: head.readUInt32LE(pos + 12),
          byteRate: head.readUInt32LE(pos + 16), blockAlign: head.readUInt16LE(pos + 20), bitsPerSample: head.readUInt16LE(pos + 22),
        };
      }
      if (chunk === 'data') {
        if (!format) throw new ParseError('CS_WAV_INVALID', `${path}: data before fmt`);
        const declared = size === U32_MAX && ds64Data !== undefined ? ds64Data : size;
        return { format, rf64: id === 'RF64', dataOffset: pos + 8, declaredDataBytes: declared, fileBytes };
      }
      pos += 8 + size + (size % 2);
    }
    throw new ParseError('CS_WAV_INVALID', `${path}: no data chunk in the first 4 KiB`);
  } finally {
    closeSync(fd);
  }
}

/** Rewrites the header of a file written by {@link WavWriter} to match its real length (crash recovery). */
export function repairWavHeader(path: string): { dataBytes: number; changed: boolean } {
  const info = readWavInfo(path);
  const dataBytes = info.fileBytes - info.dataOffset;
  if (info.dataOffset !== WAV_HEADER_SIZE) throw new ParseError('CS_WAV_INVALID', `${path}: not written by callseal`);
  const changed = dataBytes !== info.declaredDataBytes;
  if (changed) {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, wavHeader(info.format, dataBytes), 0, WAV_HEADER_SIZE, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return { dataBytes, changed };
}
