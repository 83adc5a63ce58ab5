/**
 * G.711 encoders (ITU-T G.711, the segment search of its reference encoders in ITU-T G.191): 16-bit
 * linear samples to A-law (PCMA) and mu-law (PCMU) codes. The decoders are `media/playback.ts`'s
 * tables; `g711.test.ts` checks every code round trips. No I/O.
 */

/** Upper ends of the A-law segments on 13-bit magnitudes. */
const ALAW_SEGMENT_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
/** Upper ends of the mu-law segments on 14-bit biased magnitudes. */
const ULAW_SEGMENT_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
/** mu-law bias (33 on 14-bit magnitudes, 0x84 on 16-bit) and clip level. */
const ULAW_BIAS = 0x21;
const ULAW_CLIP = 8159;

function segment(value: number, ends: readonly number[]): number {
  let seg = 0;
  while (seg < ends.length && value > (ends[seg] ?? 0)) seg++;
  return seg;
}

/** A-law code of a 16-bit linear sample; even bits inverted (0x55) as G.711 transmits them. */
export function linearToAlaw(sample: number): number {
  let pcm = sample >> 3;
  let mask = 0xd5;
  if (pcm < 0) {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const seg = segment(pcm, ALAW_SEGMENT_END);
  if (seg >= 8) return 0x7f ^ mask;
  const mantissa = seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  return ((seg << 4) | mantissa) ^ mask;
}

/** mu-law code of a 16-bit linear sample (all bits inverted, as G.711 transmits them). */
export function linearToUlaw(sample: number): number {
  let pcm = sample >> 2;
  let mask = 0xff;
  if (pcm < 0) {
    pcm = -pcm;
    mask = 0x7f;
  }
  if (pcm > ULAW_CLIP) pcm = ULAW_CLIP;
  pcm += ULAW_BIAS;
  const seg = segment(pcm, ULAW_SEGMENT_END);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Encodes 16-bit samples with `encode`, one code byte per sample. */
export function encodeG711(pcm: Int16Array, encode: (sample: number) => number): Buffer {
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = encode(pcm[i] ?? 0);
  return out;
}
