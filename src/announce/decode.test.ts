import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseError } from '../common/errors.ts';
import { decodeUpload, sniffFormat } from './decode.ts';

let dir: string;
const MAX_MS = 60_000;

/** A 1 kHz tone of `seconds` made by sox in the given output format options. */
function soxTone(name: string, seconds: number, options: readonly string[]): Buffer {
  const path = join(dir, name);
  execFileSync('sox', ['-D', '-n', ...options, path, 'synth', String(seconds), 'sine', '1000', 'vol', '0.5']);
  return readFileSync(path);
}

/** Frequency (Hz) of a mono tone by counting rising zero crossings. */
function toneHz(samples: Float32Array, rateHz: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if ((samples[i - 1] ?? 0) < 0 && (samples[i] ?? 0) >= 0) crossings++;
  return crossings / (samples.length / rateHz);
}

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'callseal-decode-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('decoding uploads once (C1)', () => {
  it.each([
    ['16-bit 44.1 kHz stereo', ['-r', '44100', '-c', '2', '-b', '16', '-e', 'signed']],
    ['8-bit 8 kHz', ['-r', '8000', '-c', '1', '-b', '8', '-e', 'unsigned']],
    ['24-bit 48 kHz', ['-r', '48000', '-c', '1', '-b', '24', '-e', 'signed']],
    ['32-bit float 22.05 kHz', ['-r', '22050', '-c', '1', '-b', '32', '-e', 'float']],
    ['A-law 8 kHz', ['-r', '8000', '-c', '1', '-e', 'a-law']],
    ['mu-law 8 kHz', ['-r', '8000', '-c', '1', '-e', 'u-law']],
    ['16-bit 16 kHz, 3 channels (WAVE_FORMAT_EXTENSIBLE)', ['-r', '16000', '-c', '3', '-b', '16', '-e', 'signed']],
  ])('reads a WAV file: %s', async (label, options) => {
    const bytes = soxTone(`${label.replace(/[^a-z0-9]/gi, '_')}.wav`, 0.5, options);
    expect(sniffFormat(bytes)).toBe('wav');
    const a = await decodeUpload(bytes, MAX_MS);
    expect(a.format).toBe('wav');
    expect(a.samples.length / a.sampleRateHz).toBeCloseTo(0.5, 2);
    expect(toneHz(a.samples, a.sampleRateHz)).toBeCloseTo(1000, -1);
  });

  it('reads an MP3 file made by ffmpeg (libmp3lame), gapless: its length is the tone\'s', async () => {
    const wav = join(dir, 'for-mp3.wav');
    execFileSync('sox', ['-D', '-n', '-r', '44100', '-c', '2', '-b', '16', wav, 'synth', '2', 'sine', '1000', 'vol', '0.5']);
    const mp3 = join(dir, 'tone.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-c:a', 'libmp3lame', '-b:a', '64k', mp3]);
    const bytes = readFileSync(mp3);
    expect(sniffFormat(bytes)).toBe('mp3');
    const a = await decodeUpload(bytes, MAX_MS);
    expect(a).toMatchObject({ format: 'mp3', sampleRateHz: 44100, sourceChannels: 2 });
    expect(a.samples.length / 44100).toBeCloseTo(2, 1);
    expect(toneHz(a.samples, 44100)).toBeCloseTo(1000, -1);
  });

  it('refuses what is neither WAV nor MP3, and MP3 sync bytes that decode to nothing', async () => {
    await expect(decodeUpload(Buffer.from('<html>not audio</html>'), MAX_MS)).rejects.toThrow(ParseError);
    await expect(decodeUpload(Buffer.alloc(0), MAX_MS)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_INVALID' });
    // Frame sync, then the bitrate index 15 ("bad") in every frame header.
    const fakeMp3 = Buffer.concat(Array.from({ length: 100 }, () => Buffer.from([0xff, 0xfb, 0xf0, 0x00, 0x41, 0x41])));
    await expect(decodeUpload(fakeMp3, MAX_MS)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_INVALID' });
  });

  it('refuses a file longer than allowed, WAV and MP3', async () => {
    const wav = soxTone('long.wav', 3, ['-r', '8000', '-c', '1', '-b', '16', '-e', 'signed']);
    await expect(decodeUpload(wav, 2000)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_TOO_LARGE' });
    const mp3 = join(dir, 'long.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(dir, 'long.wav'), '-c:a', 'libmp3lame', mp3]);
    await expect(decodeUpload(readFileSync(mp3), 2000)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_TOO_LARGE' });
  });

  it('refuses hostile WAV headers with a ParseError: every truncation, absurd fields, data before fmt', async () => {
    const good = soxTone('hostile.wav', 0.1, ['-r', '8000', '-c', '1', '-b', '16', '-e', 'signed']);
    for (let n = 0; n < 120; n++) {
      const cut = good.subarray(0, n);
      const r = await decodeUpload(cut, MAX_MS).then(() => 'decoded', (err: unknown) => err);
      // A cut inside the data chunk still decodes the whole frames present; anything shorter is refused.
      if (r !== 'decoded') expect(r, `cut at ${String(n)}`).toBeInstanceOf(ParseError);
    }
    const fmtAt = good.indexOf('fmt ');
    const patch = (offset: number, write: (b: Buffer) => void): Buffer => { const b = Buffer.from(good); write(b.subarray(fmtAt + 8 + offset)); return b; };
    for (const bad of [
      patch(2, (b) => b.writeUInt16LE(0, 0)), // no channels
      patch(2, (b) => b.writeUInt16LE(200, 0)), // 200 channels
      patch(4, (b) => b.writeUInt32LE(1, 0)), // 1 Hz
      patch(4, (b) => b.writeUInt32LE(0xffffffff, 0)), // 4 GHz
      patch(12, (b) => b.writeUInt16LE(7, 0)), // block align that does not fit
      patch(14, (b) => b.writeUInt16LE(12, 0)), // 12 bits per sample
      patch(0, (b) => b.writeUInt16LE(0x55, 0)), // MP3 inside WAV
      patch(-4, (b) => b.writeUInt32LE(0xfffffff0, 0)), // fmt chunk size past the end
    ]) {
      await expect(decodeUpload(bad, MAX_MS)).rejects.toThrow(ParseError);
    }
    const swapped = Buffer.from(good);
    swapped.write('data', fmtAt, 'latin1');
    await expect(decodeUpload(swapped, MAX_MS)).rejects.toThrow(ParseError);
  });

  it('survives random bytes behind WAV and MP3 magic without crashing', async () => {
    let seed = 7;
    const random = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; }));
    for (let i = 0; i < 20; i++) {
      for (const head of [Buffer.from('RIFF\u0000\u0000\u0000\u0000WAVE', 'latin1'), Buffer.from('ID3\u0003\u0000\u0000\u0000\u0000\u0000\u0000', 'latin1'), Buffer.from([0xff, 0xfb])]) {
        const r = await decodeUpload(Buffer.concat([head, random(2000)]), MAX_MS).then(() => 'decoded', (err: unknown) => err);
        if (r !== 'decoded') expect(r).toBeInstanceOf(ParseError);
      }
    }
  });
});
