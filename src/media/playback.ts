/**
 * Playback for browsers (H3), with byte ranges so the audio element can seek. The archived file is
 * only read, never changed.
 * - G.711 and G.722 are decoded on the fly to 16-bit linear PCM in a plain WAV. G.711 expansion
 *   follows ITU-T G.711 (the table form of its reference decoders).
 * - Ogg Opus is served as it is: browsers play it natively (`audio/ogg; codecs=opus`).
 * - G.729 is decoded by ffmpeg (its `g729` decoder), because no maintained G.729 decoder exists on
 *   npm; without ffmpeg on the PATH a G.729 recording is not playable in the browser (download it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { readWavInfo } from './wav.ts';
import { CallsealError } from '../common/errors.ts';
import { G722Decoder } from './g722.ts';
import { G729 } from './codecs.ts';
import { alawToLinear, ulawToLinear } from './g711.ts';

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

/** The decoded WAV of a recording file (or the Ogg Opus file as it is), or a byte range of it. */
export interface Playback {
  /** Content type of what `stream` yields. */
  readonly contentType: string;
  /** Size of the whole decoded WAV. */
  readonly totalBytes: number;
  /** First and last byte of what `stream` yields (inclusive). */
  readonly start: number;
  readonly end: number;
  readonly stream: Readable;
}

/** WAV format tags callseal can decode for the browser itself: A-law, µ-law, G.722. */
const PLAYABLE = new Set([6, 7, 0x028f]);

/** Content type of Ogg Opus (RFC 7845 section 9). */
export const OGG_OPUS_TYPE = 'audio/ogg; codecs=opus';

let ffmpegFound: boolean | undefined;

/** Whether ffmpeg can be run (checked once per process). */
export function ffmpegAvailable(): boolean {
  ffmpegFound ??= spawnSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  return ffmpegFound;
}

/** Whether a file starts with the Ogg capture pattern. */
function isOgg(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'OggS';
  } finally {
    closeSync(fd);
  }
}

/** Whether a recording file (WAV or Ogg Opus) can be played through {@link playback}. */
export function playable(path: string): boolean {
  try {
    if (isOgg(path)) return true;
    const f = readWavInfo(path).format;
    if (f.formatTag === G729.formatTag) return f.channels === 1 && ffmpegAvailable();
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
  if (isOgg(path)) return oggPlayback(path, range);
  const info = readWavInfo(path);
  const tag = info.format.formatTag;
  if (tag === G729.formatTag && info.format.channels === 1) return g729Playback(path, Math.max(0, Math.min(info.declaredDataBytes, info.fileBytes - info.dataOffset)), range);
  if (!PLAYABLE.has(tag) || (tag === 0x028f && info.format.channels !== 1)) {
    throw new CallsealError('CS_PLAYBACK_CODEC', `${path}: only G.711, mono G.722, mono G.729 and Opus recordings can be played in the browser; download the original`);
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
  return { contentType: 'audio/wav', totalBytes, start, end, stream: decoder };
}

/** Clamps an inclusive byte range to a file of `totalBytes`. */
function clampRange(totalBytes: number, range: { start: number; end?: number } | undefined): { start: number; end: number } {
  const start = Math.max(0, Math.min(range?.start ?? 0, totalBytes - 1));
  const end = Math.max(start, Math.min(range?.end ?? totalBytes - 1, totalBytes - 1));
  return { start, end };
}

/** Ogg Opus: the file itself, which browsers decode. */
function oggPlayback(path: string, range: { start: number; end?: number } | undefined): Playback {
  const totalBytes = statSync(path).size;
  const { start, end } = clampRange(totalBytes, range);
  return { contentType: OGG_OPUS_TYPE, totalBytes, start, end, stream: createReadStream(path, { start, end }) };
}

/**
 * G.729 through ffmpeg: 10-byte frames become 80 samples (160 bytes of PCM). The length is known
 * from the frame count, so the WAV header and byte ranges are exact; ffmpeg's output is cut or
 * padded with zeros to that length. G.729 is stateful: a range is decoded from the start.
 */
function g729Playback(path: string, inputBytes: number, range: { start: number; end?: number } | undefined): Playback {
  if (!ffmpegAvailable()) throw new CallsealError('CS_PLAYBACK_DECODER', `${path}: G.729 playback needs ffmpeg on the PATH; download the original`);
  const frames = Math.floor(inputBytes / G729.blockAlign);
  const pcmBytes = frames * 160;
  const totalBytes = HEADER + pcmBytes;
  const { start, end } = clampRange(totalBytes, range);
  const header = pcmHeader(1, 8000, pcmBytes);
  const out = new PassThrough();
  let pos = 0;
  const emit = (piece: Buffer): void => {
    // Keeps the part of `piece` (at decoded-file offset `pos`) that lies inside the range.
    const from = Math.max(start, pos);
    const to = Math.min(end + 1, pos + piece.length);
    if (to > from) out.write(piece.subarray(from - pos, to - pos));
    pos += piece.length;
  };
  emit(header);
  if (end < HEADER) {
    out.end();
  } else {
    const ff = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', path, '-f', 's16le', '-acodec', 'pcm_s16le', '-ac', '1', '-ar', '8000', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-2000); });
    ff.stdout.on('data', (d: Buffer) => {
      if (pos <= end) emit(d.subarray(0, Math.max(0, totalBytes - pos)));
      if (pos > end && !out.writableEnded) {
        // The range is complete: end the response with its last byte, and stop ffmpeg.
        out.end();
        ff.kill();
      }
    });
    ff.on('error', (err) => out.destroy(new CallsealError('CS_PLAYBACK_DECODER', `${path}: ffmpeg failed to start`, { cause: err })));
    ff.on('close', (code) => {
      if (pos <= end && code !== 0 && pos === HEADER) {
        out.destroy(new CallsealError('CS_PLAYBACK_DECODER', `${path}: ffmpeg exited with ${String(code)}: ${stderr.trim()}`));
        return;
      }
      if (out.writableEnded) return;
      // A short decode (a damaged last frame) is padded with silence so Content-Length holds.
      if (pos <= end) emit(Buffer.alloc(end + 1 - pos));
      out.end();
    });
    out.on('close', () => { if (ff.exitCode === null) ff.kill(); });
  }
  return { contentType: 'audio/wav', totalBytes, start, end, stream: out };
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
