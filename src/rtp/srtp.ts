/**
 * SRTP receive and send sides (RFC 3711) for the SDES suites AES_CM_128_HMAC_SHA1_80 and _32 (RFC 4568):
 * key derivation (section 4.3), AES counter mode (section 4.1.1), HMAC-SHA1 authentication
 * (section 4.2) and rollover-counter estimation (section 3.3.1). The block cipher and HMAC come
 * from node:crypto (OpenSSL); tags are compared in constant time. Does no I/O.
 */
import { createCipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CallsealError, ParseError } from '../common/errors.ts';
import { parseRtp, seqDelta } from './packet.ts';

/** Supported SDES crypto suites and their authentication tag lengths. */
export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { tagBytes: 10 },
  AES_CM_128_HMAC_SHA1_32: { tagBytes: 4 },
} as const;

/** A supported suite name. */
export type SrtpSuite = keyof typeof SRTP_SUITES;

/** An SDES `a=crypto` line, parsed (RFC 4568 section 9.1). */
export interface SdesCrypto {
  readonly tag: number;
  readonly suite: SrtpSuite;
  readonly masterKey: Buffer;
  readonly masterSalt: Buffer;
  readonly mkiLength: number;
}

/** Parses the value of `a=crypto:` (after the colon). Throws CS_SRTP_KEY on anything unsupported. */
export function parseSdesCrypto(value: string): SdesCrypto {
  const m = /^(\d{1,9})\s+([A-Z0-9_]+)\s+inline:([A-Za-z0-9+/=]+)((?:\|[^\s|]+)*)(?:\s.*)?$/.exec(value.trim());
  if (!m?.[1] || !m[2] || !m[3]) throw new ParseError('CS_SRTP_KEY', `malformed crypto attribute "${value.slice(0, 80)}"`);
  if (!(m[2] in SRTP_SUITES)) throw new ParseError('CS_SRTP_KEY', `unsupported crypto suite ${m[2]}`);
  const keySalt = Buffer.from(m[3], 'base64');
  if (keySalt.length !== 30) throw new ParseError('CS_SRTP_KEY', `SDES key must be 30 bytes, got ${keySalt.length}`);
  let mkiLength = 0;
  for (const param of (m[4] ?? '').split('|').filter(Boolean)) {
    const mki = /^(\d+):(\d+)$/.exec(param);
    if (mki?.[2]) mkiLength = Number(mki[2]);
  }
  if (mkiLength > 128) throw new ParseError('CS_SRTP_KEY', `MKI length ${mkiLength} out of range`);
  return { tag: Number(m[1]), suite: m[2] as SrtpSuite, masterKey: keySalt.subarray(0, 16), masterSalt: keySalt.subarray(16, 30), mkiLength };
}

/** AES-128 in counter mode: `length` bytes of keystream from a 16-byte IV. */
export function aesCmKeystream(key: Buffer, iv: Buffer, length: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return cipher.update(Buffer.alloc(length));
}

/** RFC 3711 section 4.3.1 key derivation with a key derivation rate of zero. */
export function deriveSessionKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  // key_id = label || r (r = 0); x = key_id XOR master_salt; IV = x * 2^16.
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, 14);
  iv[7] = (iv[7] ?? 0) ^ label;
  return aesCmKeystream(masterKey, iv, length);
}

/** Session keys of one SRTP direction. */
export interface SrtpSessionKeys {
  readonly cipherKey: Buffer;
  readonly cipherSalt: Buffer;
  readonly authKey: Buffer;
}

/** Derives the SRTP (not SRTCP) session keys, labels 0, 1 and 2. */
export function deriveSrtpKeys(masterKey: Buffer, masterSalt: Buffer): SrtpSessionKeys {
  return {
    cipherKey: deriveSessionKey(masterKey, masterSalt, 0x00, 16),
    authKey: deriveSessionKey(masterKey, masterSalt, 0x01, 20),
    cipherSalt: deriveSessionKey(masterKey, masterSalt, 0x02, 14),
  };
}

/** The counter-mode IV of RFC 3711 section 4.1.1: (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16). */
export function srtpIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, 14);
  const s = Buffer.alloc(4);
  s.writeUInt32BE(ssrc >>> 0);
  for (let i = 0; i < 4; i++) iv[4 + i] = (iv[4 + i] ?? 0) ^ (s[i] ?? 0);
  const idx = Buffer.alloc(8);
  idx.writeBigUInt64BE(index);
  // The 48-bit index occupies bytes 8..13.
  for (let i = 0; i < 6; i++) iv[8 + i] = (iv[8 + i] ?? 0) ^ (idx[2 + i] ?? 0);
  return iv;
}

/** Why a packet was refused. */
export class SrtpError extends CallsealError {}

/** Decrypts and authenticates the SRTP packets of one SDES key (all SSRCs of one stream). */
export class SrtpReceiver {
  readonly #keys: SrtpSessionKeys;
  readonly #tagBytes: number;
  readonly #mkiLength: number;
  readonly #roc = new Map<number, { roc: number; highest: number }>();

  constructor(crypto: SdesCrypto) {
    this.#keys = deriveSrtpKeys(crypto.masterKey, crypto.masterSalt);
    this.#tagBytes = SRTP_SUITES[crypto.suite].tagBytes;
    this.#mkiLength = crypto.mkiLength;
  }

  /** Returns the plain RTP packet, or throws `SrtpError` (CS_SRTP_AUTH) / `ParseError`. */
  unprotect(packet: Buffer): Buffer {
    const trailer = this.#tagBytes + this.#mkiLength;
    if (packet.length < 12 + trailer) throw new ParseError('CS_RTP_TRUNCATED', 'SRTP packet shorter than its trailer');
    const authenticated = packet.subarray(0, packet.length - trailer);
    const tag = packet.subarray(packet.length - this.#tagBytes);
    const header = parseRtp(authenticated, false);
    const state = this.#roc.get(header.ssrc);
    // RFC 3711 section 3.3.1: guess the rollover counter from the highest sequence number seen.
    let roc = state?.roc ?? 0;
    if (state) {
      const delta = seqDelta(header.sequenceNumber, state.highest);
      if (delta > 0 && header.sequenceNumber < state.highest) roc++;
      else if (delta < 0 && header.sequenceNumber > state.highest && roc > 0) roc--;
    }
    const rocBuf = Buffer.alloc(4);
    rocBuf.writeUInt32BE(roc >>> 0);
    const expected = createHmac('sha1', this.#keys.authKey).update(authenticated).update(rocBuf).digest().subarray(0, this.#tagBytes);
    if (!timingSafeEqual(expected, tag)) throw new SrtpError('CS_SRTP_AUTH', `SRTP authentication failed [ssrc:${header.ssrc}, seq:${header.sequenceNumber}]`);
    if (!state) this.#roc.set(header.ssrc, { roc, highest: header.sequenceNumber });
    else if (roc > state.roc || (roc === state.roc && seqDelta(header.sequenceNumber, state.highest) > 0)) {
      state.roc = roc;
      state.highest = header.sequenceNumber;
    }
    const index = (BigInt(roc) << 16n) | BigInt(header.sequenceNumber);
    const iv = srtpIv(this.#keys.cipherSalt, header.ssrc, index);
    const encrypted = authenticated.subarray(header.headerSize);
    const plain = Buffer.alloc(authenticated.length);
    authenticated.copy(plain, 0, 0, header.headerSize);
    createCipheriv('aes-128-ctr', this.#keys.cipherKey, iv).update(encrypted).copy(plain, header.headerSize);
    return plain;
  }
}

/**
 * The rollover counter of a packet (RFC 3711 section 3.3.1): the guess v of ROC - 1, ROC or ROC + 1
 * whose index lies closest to the highest index seen, so a packet reordered across a wrap of the
 * sequence number keeps the ROC it was sent with.
 */
export function guessRoc(state: { readonly roc: number; readonly highest: number }, seq: number): number {
  if (state.highest < 32768) return seq - state.highest > 32768 && state.roc > 0 ? state.roc - 1 : state.roc;
  return state.highest - 32768 > seq ? state.roc + 1 : state.roc;
}

/**
 * Protects RTP packets (the sending side): used by the relay for what callseal sends to an SRTP
 * peer, and by tests. The index of each packet follows RFC 3711 section 3.3.1 from the highest
 * sequence number sent per SSRC, so packets forwarded out of order keep their rollover counter.
 */
export class SrtpSender {
  readonly #keys: SrtpSessionKeys;
  readonly #tagBytes: number;
  readonly #roc = new Map<number, { roc: number; highest: number }>();

  constructor(crypto: SdesCrypto) {
    this.#keys = deriveSrtpKeys(crypto.masterKey, crypto.masterSalt);
    this.#tagBytes = SRTP_SUITES[crypto.suite].tagBytes;
  }

  /** Returns the SRTP packet (encrypted payload, authentication tag appended); throws `ParseError` on a bad header. */
  protect(rtp: Buffer): Buffer {
    const header = parseRtp(rtp, false);
    const seq = header.sequenceNumber;
    let state = this.#roc.get(header.ssrc);
    if (!state) {
      state = { roc: 0, highest: seq };
      // Bounded: a stream that changes SSRC on every packet keeps at most a few states.
      if (this.#roc.size >= 16) this.#roc.clear();
      this.#roc.set(header.ssrc, state);
    }
    const roc = guessRoc(state, seq);
    if (roc > state.roc || (roc === state.roc && seq > state.highest)) {
      state.roc = roc;
      state.highest = seq;
    }
    const index = (BigInt(roc) << 16n) | BigInt(seq);
    const iv = srtpIv(this.#keys.cipherSalt, header.ssrc, index);
    const out = Buffer.allocUnsafe(rtp.length + this.#tagBytes);
    rtp.copy(out, 0, 0, header.headerSize);
    createCipheriv('aes-128-ctr', this.#keys.cipherKey, iv).update(rtp.subarray(header.headerSize)).copy(out, header.headerSize);
    const rocBuf = Buffer.alloc(4);
    rocBuf.writeUInt32BE(roc >>> 0);
    const authenticated = out.subarray(0, rtp.length);
    createHmac('sha1', this.#keys.authKey).update(authenticated).update(rocBuf).digest().copy(out, rtp.length, 0, this.#tagBytes);
    return out;
  }
}

/**
 * A fresh SDES crypto attribute value of callseal's own (RFC 4568 section 9.1): `<tag> <suite>
 * inline:<base64 of 16 key and 14 salt bytes>`, from the system's cryptographic random source.
 */
export function newSdesCrypto(tag = 1, suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): string {
  return `${tag} ${suite} inline:${randomBytes(30).toString('base64')}`;
}
