/**
 * G.722 (ITU-T G.722, 64 kbit/s mode). The decoder serves playback in the browser: each code byte
 * (two high-band bits, six low-band bits) becomes two 16 kHz linear samples. The encoder makes
 * announcements playable into G.722 calls: two 16 kHz samples become one code byte. Integer
 * arithmetic as the Recommendation specifies it (transmit and receive QMF, block 1L/1H quantizers,
 * block 2-4 inverse quantizers and adaptive predictors shared by both directions), so the decoder's
 * output is bit-exact; its test compares it with ffmpeg's decoder, the encoder's test decodes what
 * it wrote with this decoder and with ffmpeg.
 */

/** Inverse logarithm table of the scale factor (ITU-T G.722 Table 16 "ILA", 32 entries). */
const ILB = [
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/** Log scale factor steps of the low band by 4-bit code (WL through RIL4). */
const LOW_STEP = [-60, 3042, 1198, 538, 334, 172, 58, -30, 3042, 1198, 538, 334, 172, 58, -30, -60];
/** Inverse quantizer outputs of the low band: 4-bit (predictor) and 6-bit (reconstruction). */
const LOW_INV4 = [0, -2557, -1612, -1121, -786, -530, -323, -150, 2557, 1612, 1121, 786, 530, 323, 150, 0];
const LOW_INV6 = [
  -17, -17, -17, -17, -3101, -2738, -2376, -2088, -1873, -1689, -1535, -1399, -1279, -1170, -1072, -982,
  -899, -822, -750, -682, -618, -558, -501, -447, -396, -347, -300, -254, -211, -170, -130, -91,
  3101, 2738, 2376, 2088, 1873, 1689, 1535, 1399, 1279, 1170, 1072, 982, 899, 822, 750, 682,
  618, 558, 501, 447, 396, 347, 300, 254, 211, 170, 130, 91, 54, 17, -54, -17,
];
/** High band: inverse quantizer and log scale factor steps by 2-bit code. */
const HIGH_INV = [-926, -202, 926, 202];
const HIGH_STEP = [798, -214];
/** Receive QMF coefficients (ITU-T G.722 Table 11). */
const QMF = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/** Low-band quantizer decision levels (block 1L, ITU-T G.722 Table 6, scaled as Q6). */
const Q6 = [0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919];
/** Low-band 6-bit codes by quantizer interval, for negative and positive differences. */
const ILN = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4];
const ILP = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32];
/** High-band decision level (block 1H) and 2-bit codes for negative and positive differences. */
const HIGH_LEVEL = 564;
const IHN = [0, 1, 0];
const IHP = [0, 3, 2];

const clip = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
const clip16 = (v: number): number => clip(v, -32768, 32767);

/** Field offsets of one band's state in an Int32Array. */
const PRED = 0, ZERO = 1, SIGN0 = 2, SIGN1 = 3, PREV = 4, POLE0 = 5, POLE1 = 6, LOG = 7, SCALE = 8, DIFF = 9, ZMEM = 15, BAND_SIZE = 21;

/**
 * Adapts one band's predictor to the dequantized difference `diff` and computes its next
 * prediction (blocks 4L/4H: pole and zero sections, sign memories).
 */
function adapt(b: Int32Array, diff: number): void {
  const zeroPart = b[ZERO] ?? 0;
  const sign = zeroPart + diff < 0 ? 1 : 0;
  const sg0 = sign !== b[SIGN0] ? 1 : -1;
  const sg1 = sign === b[SIGN1] ? 1 : -1;
  b[SIGN1] = b[SIGN0] ?? 0;
  b[SIGN0] = sign;
  const p0 = b[POLE0] ?? 0;
  const p0c = p0 < -8191 ? -8191 : p0 > 8191 ? 8191 : p0;
  let p1 = ((sg0 * p0c) >> 5) + (sg1 << 7) + (((b[POLE1] ?? 0) * 127) >> 7);
  p1 = p1 < -12288 ? -12288 : p1 > 12288 ? 12288 : p1;
  b[POLE1] = p1;
  const limit = 15360 - p1;
  let np0 = -192 * sg0 + ((p0 * 255) >> 8);
  np0 = np0 < -limit ? -limit : np0 > limit ? limit : np0;
  b[POLE0] = np0;
  let zero = 0;
  for (let i = 5; i >= 0; i--) {
    let z = ((b[ZMEM + i] ?? 0) * 255) >> 8;
    if (diff !== 0) z += ((b[DIFF + i] ?? 0) ^ diff) < 0 ? -128 : 128;
    b[ZMEM + i] = z;
    // The difference memory shifts by one; the zero section then uses the shifted values.
    const d = i === 0 ? clip16(diff << 1) : (b[DIFF + i - 1] ?? 0);
    b[DIFF + i] = d;
    zero += (z * d) >> 15;
  }
  b[ZERO] = zero;
  const reconst = clip16(((b[PRED] ?? 0) + diff) << 1);
  b[PRED] = clip16(zero + ((np0 * reconst) >> 15) + ((p1 * (b[PREV] ?? 0)) >> 15));
  b[PREV] = reconst;
}

/** Scale factor from the log factor (block 3L/3H). */
function rescale(b: Int32Array, offset: number): void {
  const log = (b[LOG] ?? 0) - offset;
  const wd = ILB[(log >> 6) & 31] ?? 0;
  const shift = log >> 11;
  b[SCALE] = shift < 0 ? wd >> -shift : wd << shift;
}

/** Decodes a G.722 stream chunk by chunk, keeping state between chunks. */
export class G722Decoder {
  readonly #low = new Int32Array(BAND_SIZE);
  readonly #high = new Int32Array(BAND_SIZE);
  /** Band samples (low+high, low-high pairs) for the QMF: the newest 24 end at #pos. */
  readonly #history = new Int32Array(4096);
  #pos = 24;

  constructor() {
    this.#low[SCALE] = 8;
    this.#high[SCALE] = 2;
  }

  /** Two 16-bit little-endian samples per input byte. */
  decode(input: Buffer): Buffer {
    const pcm = new Int16Array(input.length * 2);
    const low = this.#low;
    const high = this.#high;
    const h = this.#history;
    for (let n = 0; n < input.length; n++) {
      const code = input[n] ?? 0;
      const ilow = code & 0x3f;
      const ihigh = code >> 6;
      const lowScale = low[SCALE] ?? 0;
      let rlow = ((lowScale * (LOW_INV6[ilow] ?? 0)) >> 10) + (low[PRED] ?? 0);
      rlow = rlow < -16384 ? -16384 : rlow > 16383 ? 16383 : rlow;
      adapt(low, (lowScale * (LOW_INV4[ilow >> 2] ?? 0)) >> 10);
      low[LOG] = clip((((low[LOG] ?? 0) * 127) >> 7) + (LOW_STEP[ilow >> 2] ?? 0), 0, 18432);
      rescale(low, 8 << 11);

      const dhigh = ((high[SCALE] ?? 0) * (HIGH_INV[ihigh] ?? 0)) >> 10;
      let rhigh = dhigh + (high[PRED] ?? 0);
      rhigh = rhigh < -16384 ? -16384 : rhigh > 16383 ? 16383 : rhigh;
      adapt(high, dhigh);
      high[LOG] = clip((((high[LOG] ?? 0) * 127) >> 7) + (HIGH_STEP[ihigh & 1] ?? 0), 0, 22528);
      rescale(high, 10 << 11);

      if (this.#pos + 2 > h.length) {
        h.copyWithin(0, this.#pos - 22, this.#pos);
        this.#pos = 22;
      }
      h[this.#pos++] = rlow + rhigh;
      h[this.#pos++] = rlow - rhigh;
      const base = this.#pos - 24;
      let x1 = 0;
      let x2 = 0;
      for (let i = 0; i < 12; i++) {
        x2 += (h[base + 2 * i] ?? 0) * (QMF[i] ?? 0);
        x1 += (h[base + 2 * i + 1] ?? 0) * (QMF[11 - i] ?? 0);
      }
      pcm[n * 2] = clip16(x1 >> 11);
      pcm[n * 2 + 1] = clip16(x2 >> 11);
    }
    // Int16Array is little-endian on every platform Node runs callseal on (x86-64, arm64).
    return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  }
}

/** Encodes 16 kHz linear PCM to G.722 chunk by chunk, keeping state between chunks. */
export class G722Encoder {
  readonly #low = new Int32Array(BAND_SIZE);
  readonly #high = new Int32Array(BAND_SIZE);
  /** The last 24 input samples for the transmit QMF, oldest first. */
  readonly #x = new Int32Array(24);

  constructor() {
    this.#low[SCALE] = 8;
    this.#high[SCALE] = 2;
  }

  /** One code byte per two samples; an odd last sample is dropped. */
  encode(pcm: Int16Array): Buffer {
    const out = Buffer.alloc(pcm.length >> 1);
    const low = this.#low;
    const high = this.#high;
    const x = this.#x;
    for (let n = 0; n < out.length; n++) {
      // Transmit QMF: shift in two samples, keep every other output (the even and odd sums).
      x.copyWithin(0, 2);
      x[22] = pcm[2 * n] ?? 0;
      x[23] = pcm[2 * n + 1] ?? 0;
      let sumOdd = 0;
      let sumEven = 0;
      for (let i = 0; i < 12; i++) {
        sumOdd += (x[2 * i] ?? 0) * (QMF[i] ?? 0);
        sumEven += (x[2 * i + 1] ?? 0) * (QMF[11 - i] ?? 0);
      }
      const xlow = (sumEven + sumOdd) >> 14;
      const xhigh = (sumEven - sumOdd) >> 14;

      // Low band: block 1L quantizes the prediction error on the 30 levels scaled by the step size.
      const lowScale = low[SCALE] ?? 0;
      const el = clip16(xlow - (low[PRED] ?? 0));
      const wd = el >= 0 ? el : -(el + 1);
      let level = 1;
      while (level < 30 && wd >= (((Q6[level] ?? 0) * lowScale) >> 10)) level++;
      const ilow = el < 0 ? (ILN[level] ?? 0) : (ILP[level] ?? 0);
      adapt(low, (lowScale * (LOW_INV4[ilow >> 2] ?? 0)) >> 10);
      low[LOG] = clip((((low[LOG] ?? 0) * 127) >> 7) + (LOW_STEP[ilow >> 2] ?? 0), 0, 18432);
      rescale(low, 8 << 11);

      // High band: block 1H, one decision level.
      const highScale = high[SCALE] ?? 0;
      const eh = clip16(xhigh - (high[PRED] ?? 0));
      const wdh = eh >= 0 ? eh : -(eh + 1);
      const mih = wdh >= ((HIGH_LEVEL * highScale) >> 10) ? 2 : 1;
      const ihigh = eh < 0 ? (IHN[mih] ?? 0) : (IHP[mih] ?? 0);
      adapt(high, (highScale * (HIGH_INV[ihigh] ?? 0)) >> 10);
      high[LOG] = clip((((high[LOG] ?? 0) * 127) >> 7) + (HIGH_STEP[ihigh & 1] ?? 0), 0, 22528);
      rescale(high, 10 << 11);

      out[n] = (ihigh << 6) | ilow;
    }
    return out;
  }
}
