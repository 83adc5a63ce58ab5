import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { G722Decoder, G722Encoder } from '../media/g722.ts';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

/** A 16 kHz signal with speech-band and high-band parts: 440 Hz + 1.3 kHz + 5 kHz, and a sweep. */
function testSignal(seconds: number): Int16Array {
  const n = seconds * 16000;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const sweep = Math.sin(2 * Math.PI * (200 + 3000 * t / seconds) * t);
    pcm[i] = Math.round(6000 * Math.sin(2 * Math.PI * 440 * t) + 4000 * Math.sin(2 * Math.PI * 1300 * t) + 2000 * Math.sin(2 * Math.PI * 5000 * t) + 3000 * sweep);
  }
  return pcm;
}

function int16(b: Buffer): Int16Array {
  const out = new Int16Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}

/** Signal-to-noise ratio (dB) of `decoded` against `reference` at the lag (0-64 samples) that fits best. */
function snrDb(reference: Int16Array, decoded: Int16Array): { snr: number; lag: number } {
  let best = { snr: -Infinity, lag: 0 };
  for (let lag = 0; lag <= 64; lag++) {
    let signal = 0;
    let noise = 0;
    // Skip the first 100 ms: the adaptive quantizers start from their reset state.
    for (let i = 1600; i < reference.length - lag && i + lag < decoded.length; i++) {
      const r = reference[i] ?? 0;
      const d = decoded[i + lag] ?? 0;
      signal += r * r;
      noise += (r - d) * (r - d);
    }
    const snr = 10 * Math.log10(signal / Math.max(noise, 1));
    if (snr > best.snr) best = { snr, lag };
  }
  return best;
}

describe('G.722 encoder (ITU-T G.722, 64 kbit/s)', () => {
  it('writes one byte per two samples, chunk by chunk the same as at once', () => {
    const pcm = testSignal(1);
    const whole = new G722Encoder().encode(pcm);
    expect(whole.length).toBe(8000);
    const e = new G722Encoder();
    const parts = Buffer.concat([e.encode(pcm.subarray(0, 320)), e.encode(pcm.subarray(320, 1000)), e.encode(pcm.subarray(1000))]);
    expect(parts.equals(whole)).toBe(true);
  });

  it('decodes back with callseal\'s decoder and with ffmpeg to the same signal, close to the input', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-g722-'));
    const pcm = testSignal(3);
    const encoded = new G722Encoder().encode(pcm);
    const ours = int16(new G722Decoder().decode(encoded));
    const file = join(dir, 'x.g722');
    writeFileSync(file, encoded);
    const raw = join(dir, 'x.raw');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'g722', '-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', raw]);
    const theirs = int16(readFileSync(raw));
    expect(theirs.length).toBe(ours.length);
    // Both decoders are bit-exact implementations of the Recommendation.
    let differing = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differing++;
    expect(differing).toBe(0);
    const { snr, lag } = snrDb(pcm, ours);
    // The transmit and receive QMF together delay the signal by 22 samples (an odd lag would mean
    // the sample pairs were taken in the wrong order); 64 kbit/s G.722 keeps tones well above 20 dB.
    expect(lag).toBe(22);
    expect(snr, `SNR ${snr.toFixed(1)} dB`).toBeGreaterThan(20);
  });

  it('encodes silence to a stable code and clips full-scale input without wrapping', () => {
    const silent = new G722Encoder().encode(new Int16Array(3200));
    const decodedSilence = int16(new G722Decoder().decode(silent));
    expect(Math.max(...decodedSilence.map(Math.abs))).toBeLessThan(64);
    const loud = new Int16Array(3200).map((_v, i) => (i % 32 < 16 ? 32767 : -32768));
    const back = int16(new G722Decoder().decode(new G722Encoder().encode(loud)));
    expect(back.length).toBe(3200);
  });
});
