/**
 * Reads the audio of an uploaded WAV file held in memory (C1): PCM 8/16/24/32-bit, IEEE float 32/64,
 * A-law and mu-law, plain or WAVE_FORMAT_EXTENSIBLE, any channel count up to 8. Every size is
 * checked before it is read: the upload is hostile (invariant 4). It does no I/O; it must not accept
 * a file it cannot decode exactly (RF64, compressed formats).
 *
 * ```
 *  0       4       8      12
 *  +-------+-------+-------+
 *  | RIFF  | size  | WAVE  |  then chunks: id (4) | size (4, little-endian) | data, padded to even
 *  +-------+-------+-------+
 *  fmt  : formatTag(2) channels(2) sampleRate(4) byteRate(4) blockAlign(2) bitsPerSample(2) [cbSize(2) ...]
 *  EXTENSIBLE (0xFFFE): cbSize>=22, validBits(2) channelMask(4) subFormat GUID(16): its first 2 bytes are the tag
 * ```
 */
import { ParseError } from '../common/errors.ts';
import { alawToLinear, ulawToLinear } from '../media/index.ts';

/** Decoded audio: one Float32Array per channel, samples in [-1, 1]. */
export interface DecodedAudio {
  readonly sampleRateHz: number;
  readonly channels: readonly Float32Array[];
}

const RIFF_HEADER_SIZE = 12;
const CHUNK_HEADER_SIZE = 8;
const FMT_MIN_SIZE = 16;
const FMT_EXTENSIBLE_MIN_SIZE = 40;
const TAG_PCM = 1;
const TAG_FLOAT = 3;
const TAG_ALAW = 6;
const TAG_ULAW = 7;
const TAG_EXTENSIBLE = 0xfffe;
/** Sample rates accepted from an upload. */
export const MIN_RATE_HZ = 8000;
export const MAX_RATE_HZ = 192_000;
const MAX_CHANNELS = 8;

/** Whether `bytes` starts like a RIFF/WAVE file. */
export function looksLikeWav(bytes: Buffer): boolean {
  return bytes.length >= RIFF_HEADER_SIZE && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WAVE';
}

const ALAW = Float32Array.from({ length: 256 }, (_v, c) => alawToLinear(c) / 32768);
const ULAW = Float32Array.from({ length: 256 }, (_v, c) => ulawToLinear(c) / 32768);

interface Format { tag: number; channels: number; rateHz: number; blockAlign: number; bits: number }

function readFormat(b: Buffer, at: number, size: number): Format {
  if (size < FMT_MIN_SIZE) throw new ParseError('CS_ANNOUNCE_INVALID', `WAV fmt chunk of ${String(size)} bytes is too short`, at);
  let tag = b.readUInt16LE(at);
  if (tag === TAG_EXTENSIBLE) {
    if (size < FMT_EXTENSIBLE_MIN_SIZE) throw new ParseError('CS_ANNOUNCE_INVALID', 'WAV extensible fmt chunk is too short', at);
    tag = b.readUInt16LE(at + 24);
  }
  return { tag, channels: b.readUInt16LE(at + 2), rateHz: b.readUInt32LE(at + 4), blockAlign: b.readUInt16LE(at + 12), bits: b.readUInt16LE(at + 14) };
}

function sampleReader(f: Format): (b: Buffer, at: number) => number {
  if (f.tag === TAG_PCM && f.bits === 8) return (b, at) => ((b[at] ?? 128) - 128) / 128;
  if (f.tag === TAG_PCM && f.bits === 16) return (b, at) => b.readInt16LE(at) / 32768;
  if (f.tag === TAG_PCM && f.bits === 24) return (b, at) => b.readIntLE(at, 3) / 8388608;
  if (f.tag === TAG_PCM && f.bits === 32) return (b, at) => b.readInt32LE(at) / 2147483648;
  if (f.tag === TAG_FLOAT && f.bits === 32) return (b, at) => b.readFloatLE(at);
  if (f.tag === TAG_FLOAT && f.bits === 64) return (b, at) => b.readDoubleLE(at);
  if (f.tag === TAG_ALAW && f.bits === 8) return (b, at) => ALAW[b[at] ?? 0xd5] ?? 0;
  if (f.tag === TAG_ULAW && f.bits === 8) return (b, at) => ULAW[b[at] ?? 0xff] ?? 0;
  throw new ParseError('CS_ANNOUNCE_INVALID', `WAV format tag ${String(f.tag)} with ${String(f.bits)} bits per sample is not supported (PCM, float, A-law or mu-law)`);
}

/**
 * Decodes a WAV file of at most `maxDurationMs` (longer files throw CS_ANNOUNCE_TOO_LARGE).
 * A data chunk whose declared size runs past the end of the upload is read up to the last whole
 * frame present. Float samples that are not finite become 0; others are clipped to [-1, 1].
 */
export function decodeWav(bytes: Buffer, maxDurationMs: number): DecodedAudio {
  if (!looksLikeWav(bytes)) throw new ParseError('CS_ANNOUNCE_INVALID', 'not a RIFF/WAVE file', 0);
  let pos = RIFF_HEADER_SIZE;
  let format: Format | undefined;
  while (pos + CHUNK_HEADER_SIZE <= bytes.length) {
    const id = bytes.toString('latin1', pos, pos + 4);
    const size = bytes.readUInt32LE(pos + 4);
    const body = pos + CHUNK_HEADER_SIZE;
    if (id === 'fmt ') {
      if (body + size > bytes.length) throw new ParseError('CS_ANNOUNCE_INVALID', 'WAV fmt chunk is truncated', pos);
      format = readFormat(bytes, body, size);
    } else if (id === 'data') {
      if (!format) throw new ParseError('CS_ANNOUNCE_INVALID', 'WAV data chunk before the fmt chunk', pos);
      return readData(bytes, body, Math.min(size, bytes.length - body), format, maxDurationMs);
    }
    pos = body + size + (size % 2);
  }
  throw new ParseError('CS_ANNOUNCE_INVALID', 'WAV file has no data chunk', pos);
}

function readData(bytes: Buffer, at: number, size: number, f: Format, maxDurationMs: number): DecodedAudio {
  if (f.channels < 1 || f.channels > MAX_CHANNELS) throw new ParseError('CS_ANNOUNCE_INVALID', `WAV with ${String(f.channels)} channels (1 to ${String(MAX_CHANNELS)})`);
  if (f.rateHz < MIN_RATE_HZ || f.rateHz > MAX_RATE_HZ) throw new ParseError('CS_ANNOUNCE_INVALID', `WAV sample rate ${String(f.rateHz)} Hz (${String(MIN_RATE_HZ)} to ${String(MAX_RATE_HZ)})`);
  const read = sampleReader(f);
  const bytesPerSample = f.bits / 8;
  if (f.blockAlign !== bytesPerSample * f.channels) throw new ParseError('CS_ANNOUNCE_INVALID', `WAV block align ${String(f.blockAlign)} does not match ${String(f.channels)} channels of ${String(f.bits)} bits`);
  const frames = Math.floor(size / f.blockAlign);
  const maxFrames = Math.floor((f.rateHz * maxDurationMs) / 1000);
  if (frames === 0) throw new ParseError('CS_ANNOUNCE_INVALID', 'WAV file has no audio');
  if (frames > maxFrames) throw new ParseError('CS_ANNOUNCE_TOO_LARGE', `WAV file lasts ${String(Math.round(frames / f.rateHz))} s, longer than the ${String(maxDurationMs / 1000)} s allowed`);
  const channels = Array.from({ length: f.channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    const frameAt = at + i * f.blockAlign;
    for (let c = 0; c < f.channels; c++) {
      const v = read(bytes, frameAt + c * bytesPerSample);
      (channels[c] as Float32Array)[i] = Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0;
    }
  }
  return { sampleRateHz: f.rateHz, channels };
}
