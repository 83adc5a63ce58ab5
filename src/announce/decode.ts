/**
 * Decodes an uploaded announcement once, at upload (C1): WAV with the reader of `wav-decode.ts`,
 * MP3 with mpg123 compiled to WebAssembly (the `mpg123-decoder` package: no native build, kept up
 * by the wasm-audio-decoders project). The format is told by the file's first bytes, never by its
 * name or Content-Type. The result is mono: channels are averaged. It must not write files.
 */
import { MPEGDecoder } from 'mpg123-decoder';
import { ParseError } from '../common/errors.ts';
import { decodeWav, looksLikeWav, MAX_RATE_HZ, MIN_RATE_HZ } from './wav-decode.ts';

/** An upload decoded to mono. */
export interface MonoAudio {
  readonly format: 'wav' | 'mp3';
  readonly sampleRateHz: number;
  readonly sourceChannels: number;
  /** Samples in [-1, 1]. */
  readonly samples: Float32Array;
}

/** The MP3 input is fed to the decoder in slices of this size, so a long file is stopped early. */
const MP3_SLICE_BYTES = 64 * 1024;

/**
 * Whether `bytes` starts like an MP3 stream: an ID3v2 tag, or an MPEG audio frame header (11 sync
 * bits, a layer other than "reserved").
 */
export function looksLikeMp3(bytes: Buffer): boolean {
  if (bytes.length >= 10 && bytes.toString('latin1', 0, 3) === 'ID3') return true;
  const b0 = bytes[0] ?? 0;
  const b1 = bytes[1] ?? 0;
  return bytes.length >= 4 && b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0;
}

/** Which format an upload is, or undefined when it is neither WAV nor MP3. */
export function sniffFormat(bytes: Buffer): 'wav' | 'mp3' | undefined {
  if (looksLikeWav(bytes)) return 'wav';
  if (looksLikeMp3(bytes)) return 'mp3';
  return undefined;
}

function mixdown(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) throw new ParseError('CS_ANNOUNCE_INVALID', 'no audio channel');
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  for (const ch of channels) for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) + (ch[i] ?? 0) / channels.length;
  return out;
}

async function decodeMp3(bytes: Buffer, maxDurationMs: number): Promise<{ sampleRateHz: number; channels: Float32Array[] }> {
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    const parts: Float32Array[][] = [];
    let sampleRateHz = 0;
    let total = 0;
    let errors = 0;
    for (let at = 0; at < bytes.length; at += MP3_SLICE_BYTES) {
      const r = decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset + at, Math.min(MP3_SLICE_BYTES, bytes.length - at)));
      errors += r.errors.length;
      if (r.samplesDecoded === 0) continue;
      // A stream whose rate changes between frames is not one announcement (a spliced or crafted file).
      if (sampleRateHz !== 0 && r.sampleRate !== sampleRateHz) throw new ParseError('CS_ANNOUNCE_INVALID', `MP3 sample rate changes from ${String(sampleRateHz)} to ${String(r.sampleRate)} Hz`, at);
      sampleRateHz = r.sampleRate;
      total += r.samplesDecoded;
      if (total > (sampleRateHz * maxDurationMs) / 1000) throw new ParseError('CS_ANNOUNCE_TOO_LARGE', `MP3 file is longer than the ${String(maxDurationMs / 1000)} s allowed`, at);
      parts.push(r.channelData.map((c) => c.slice(0, r.samplesDecoded)));
    }
    if (total === 0) throw new ParseError('CS_ANNOUNCE_INVALID', `no MPEG audio frame decodes (${String(errors)} decoder errors)`);
    if (sampleRateHz < MIN_RATE_HZ || sampleRateHz > MAX_RATE_HZ) throw new ParseError('CS_ANNOUNCE_INVALID', `MP3 sample rate ${String(sampleRateHz)} Hz`);
    const channelCount = Math.min(...parts.map((p) => p.length));
    const channels = Array.from({ length: channelCount }, () => new Float32Array(total));
    let offset = 0;
    for (const p of parts) {
      const n = p[0]?.length ?? 0;
      for (let c = 0; c < channelCount; c++) (channels[c] as Float32Array).set(p[c] ?? new Float32Array(n), offset);
      offset += n;
    }
    return { sampleRateHz, channels };
  } finally {
    decoder.free();
  }
}

/**
 * Decodes an upload of at most `maxDurationMs` to mono. Throws ParseError CS_ANNOUNCE_INVALID for
 * anything that is not a decodable WAV or MP3 file, CS_ANNOUNCE_TOO_LARGE for one that lasts longer.
 */
export async function decodeUpload(bytes: Buffer, maxDurationMs: number): Promise<MonoAudio> {
  const format = sniffFormat(bytes);
  if (format === undefined) throw new ParseError('CS_ANNOUNCE_INVALID', 'the file is neither WAV nor MP3', 0);
  const decoded = format === 'wav' ? decodeWav(bytes, maxDurationMs) : await decodeMp3(bytes, maxDurationMs);
  const samples = mixdown(decoded.channels);
  // Non-finite samples (a crafted float WAV or a decoder fault) would poison the resampler.
  for (let i = 0; i < samples.length; i++) if (!Number.isFinite(samples[i])) samples[i] = 0;
  return { format, sampleRateHz: decoded.sampleRateHz, sourceChannels: decoded.channels.length, samples };
}
