/**
 * G.711 expansion to 16-bit linear PCM, per ITU-T G.711 (the table form of its reference decoders).
 * Used by browser playback and by the announcement reader (A-law and mu-law WAV uploads).
 */

/** The linear value of an A-law code. */
export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return (a & 0x80) !== 0 ? t : -t;
}

/** The linear value of a mu-law code. */
export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return (u & 0x80) !== 0 ? 0x84 - t : t - 0x84;
}
