/**
 * Playback for browsers (H3): a G.711 or G.722 recording decoded on the fly to 16-bit linear PCM
 * in a plain WAV, with byte ranges so the audio element can seek. The archived file is only read,
 * never changed. G.711 expansion follows ITU-T G.711 (the table form of its reference decoders).
 */
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { readWavInfo } from './wav.ts';
import { ParseError } from '../common/errors.ts';
import { G722Decoder } from './g722.ts';

function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return (a & 0x80) !== 0 ? t : -t;
}

function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return (u & 0x80) !== 0 ? 0x84 - t : t - 0x84;
}

function table(decode: (c: number) => number): Buffer {
  const b = Buffer.alloc(512);
  for (let c = 0; c < 256; c++) b.writeInt16LE(decode(c), c * 2);
  return b;
}

/** Linear value of every code, as little-endian 16-bit pairs. */
export const ALAW_TABLE = table(alawToLinear);
export const ULAW_TABLE = table(ulawToLinear);

const HEADER = 44;

function pcmHeader(channels: number, sampleRateHz: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRateHz, 24);
  h.writeUInt32LE(sampleRateHz * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** The decoded WAV of a recording file, or a byte range of it. */
export interface Playback {
  /** Size of the whole decoded WAV. */
  readonly totalBytes: number;
  /** First and last byte of what `stream` yields (inclusive). */
  readonly start: number;
  readonly end: number;
  readonly stream: Readable;
}

/** WAV format tags callseal can decode for the browser: A-law, µ-law, G.722. */
const PLAYABLE = new Set([6, 7, 0x028f]);

/** Whether a WAV file can be played through {@link playback}. */
export function playable(path: string): boolean {
  try {
    const f = readWavInfo(path).format;
    return PLAYABLE.has(f.formatTag) && (f.formatTag !== 0x028f || f.channels === 1);
  } catch {
    return false;
  }
}

/**
 * Opens a G.711 or G.722 WAV for playback as linear PCM. `range` is an inclusive byte range of the
 * decoded file (from an HTTP Range header), clamped to its size. G.711 seeks in the file directly;
 * G.722 is stateful, so a range is decoded from the start and the bytes before it dropped.
 * Throws CS_WAV_INVALID for other codecs.
 */
export function playback(path: string, range?: { start: number; end?: number }): Playback {
  const info = readWavInfo(path);
  const tag = info.format.formatTag;
  if (!PLAYABLE.has(tag) || (tag === 0x028f && info.format.channels !== 1)) {
    throw new ParseError('CS_WAV_INVALID', `${path}: only G.711 and mono G.722 recordings can be played in the browser; download the original`);
  }
  const g722 = tag === 0x028f;
  // Bytes of PCM per input byte: G.711 one 16-bit sample, G.722 two (16 kHz).
  const factor = g722 ? 4 : 2;
  const inputBytes = Math.max(0, Math.min(info.declaredDataBytes, info.fileBytes - info.dataOffset));
  const totalBytes = HEADER + inputBytes * factor;
  const start = Math.max(0, Math.min(range?.start ?? 0, totalBytes - 1));
  const end = Math.max(start, Math.min(range?.end ?? totalBytes - 1, totalBytes - 1));
  const header = pcmHeader(info.format.channels, g722 ? 16_000 : info.format.sampleRateHz, inputBytes * factor);

  // Input bytes to read, and output bytes to drop before the range starts.
  const firstIn = g722 ? 0 : Math.max(0, Math.floor((start - HEADER) / factor));
  const lastIn = Math.floor((end - HEADER) / factor);
  let skip = start < HEADER ? 0 : start - HEADER - firstIn * factor;
  let left = end - start + 1;
  const head = start < HEADER ? header.subarray(start, Math.min(HEADER, end + 1)) : Buffer.alloc(0);
  left -= head.length;
  const g722Decoder = new G722Decoder();
  const decode = g722 ? (chunk: Buffer): Buffer => g722Decoder.decode(chunk) : g711(tag === 6 ? ALAW_TABLE : ULAW_TABLE);
  const decoder = new Transform({
    transform(chunk: Buffer, _enc, done) {
      let piece = decode(chunk);
      if (skip > 0) {
        const n = Math.min(skip, piece.length);
        piece = piece.subarray(n);
        skip -= n;
      }
      if (piece.length > left) piece = piece.subarray(0, left);
      left -= piece.length;
      done(null, piece);
    },
  });
  if (head.length > 0) decoder.push(head);
  if (lastIn >= firstIn && end >= HEADER) {
    createReadStream(path, { start: info.dataOffset + firstIn, end: info.dataOffset + lastIn })
      .on('error', (err) => decoder.destroy(err))
      .pipe(decoder);
  } else {
    decoder.end();
  }
  return { totalBytes, start, end, stream: decoder };
}

/** G.711 expansion through a table of 16-bit values. */
function g711(lut: Buffer): (chunk: Buffer) => Buffer {
  return (chunk) => {
    const out = Buffer.allocUnsafe(chunk.length * 2);
    for (let i = 0; i < chunk.length; i++) {
      const j = (chunk[i] ?? 0) * 2;
      out[i * 2] = lut[j] ?? 0;
      out[i * 2 + 1] = lut[j + 1] ?? 0;
    }
    return out;
  };
}
