/**
 * Sample rate conversion of decoded announcements to the rates the telephone codecs take (8 kHz for
 * G.711, 16 kHz for G.722): a windowed-sinc low-pass interpolator (Blackman window, ten zero
 * crossings each side, cut-off at 90 % of the lower Nyquist frequency), output as 16-bit linear
 * PCM. The kernel is tabulated once per conversion (512 points per input sample, read with linear
 * interpolation), so each tap is a multiply-add. It runs once per upload, yielding to the event loop between blocks so SIP handling on the
 * main thread is not held up by a long file. No I/O.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';

const ZERO_CROSSINGS = 10;
const PASSBAND = 0.9;
/** Output samples computed between two yields to the event loop. */
const BLOCK = 16_000;
/** Kernel table points per input sample. */
const TABLE_STEPS = 512;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function blackman(x: number): number {
  // x in [-1, 1]: the window centred on 0.
  const a = Math.PI * (x + 1);
  return 0.42 - 0.5 * Math.cos(a) + 0.08 * Math.cos(2 * a);
}

/** Rounds and clips a sample in [-1, 1] to 16 bits. */
function toInt16(v: number): number {
  const s = Math.round(v * 32767);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

/** Resamples mono `input` at `inRateHz` to 16-bit PCM at `outRateHz`. */
export async function resample(input: Float32Array, inRateHz: number, outRateHz: number): Promise<Int16Array> {
  const outLength = Math.max(1, Math.round((input.length * outRateHz) / inRateHz));
  const out = new Int16Array(outLength);
  if (inRateHz === outRateHz) {
    for (let i = 0; i < input.length; i++) out[i] = toInt16(input[i] ?? 0);
    return out;
  }
  const step = inRateHz / outRateHz;
  // Cut-off in cycles per input sample: below half the lower of the two rates.
  const fc = 0.5 * PASSBAND * Math.min(1, outRateHz / inRateHz);
  const half = ZERO_CROSSINGS / (2 * fc);
  // The kernel is symmetric: tabulate it for |x| in [0, half], one point past the end for interpolation.
  const table = new Float64Array(Math.ceil(half * TABLE_STEPS) + 2);
  for (let j = 0; j < table.length; j++) {
    const x = j / TABLE_STEPS;
    table[j] = x <= half ? sinc(2 * fc * x) * blackman(x / half) : 0;
  }
  for (let n = 0; n < outLength; n++) {
    if (n % BLOCK === BLOCK - 1) await yieldToLoop();
    const t = n * step;
    const first = Math.max(0, Math.ceil(t - half));
    const last = Math.min(input.length - 1, Math.floor(t + half));
    let acc = 0;
    let weights = 0;
    for (let k = first; k <= last; k++) {
      const pos = Math.abs(t - k) * TABLE_STEPS;
      const j = Math.floor(pos);
      const a = table[j] ?? 0;
      const w = a + ((table[j + 1] ?? 0) - a) * (pos - j);
      acc += (input[k] ?? 0) * w;
      weights += w;
    }
    out[n] = toInt16(weights > 0 ? acc / weights : 0);
  }
  return out;
}
