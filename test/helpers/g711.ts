/**
 * G.711 encoders (ITU-T G.711) for test signals. Tests generate tones with these; the recorder
 * itself never transcodes.
 */

const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/** Encodes one 16-bit linear sample to A-law (the classic Sun reference algorithm). */
export function linearToAlaw(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask: number;
  if (pcm >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  let seg = SEG_AEND.findIndex((end) => pcm <= end);
  if (seg < 0) seg = 8;
  if (seg >= 8) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f);
  return aval ^ mask;
}

/** Encodes one 16-bit linear sample to µ-law. */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let pcm = Math.max(-32635, Math.min(32635, Math.round(sample)));
  const sign = pcm < 0 ? 0x80 : 0x00;
  if (pcm < 0) pcm = -pcm;
  pcm += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (pcm >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** `seconds` of a sine tone at `hz`, 8 kHz, encoded with `encode`. */
export function tone(hz: number, seconds: number, encode: (s: number) => number, amplitude = 8000): Buffer {
  const n = Math.round(seconds * 8000);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = encode(amplitude * Math.sin((2 * Math.PI * hz * i) / 8000));
  return out;
}
