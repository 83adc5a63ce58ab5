/**
 * SRTP against the test vectors of RFC 3711 appendix B, plus round trips, the _32 suite, rollover
 * and tampering.
 */
import { describe, expect, it } from 'vitest';
import { aesCmKeystream, deriveSessionKey, guessRoc, newSdesCrypto, parseSdesCrypto, SrtpReceiver, SrtpSender, srtpIv } from './srtp.ts';
import { buildRtp, parseRtp } from './packet.ts';
import { ParseError } from '../common/errors.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFC 3711 appendix B.2: AES-CM keystream', () => {
  it('matches the published keystream', () => {
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    // Session salt F0F1...FD shifted by 16 bits, SSRC 0, index 0.
    const iv = srtpIv(hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0n);
    expect(iv.toString('hex').toUpperCase()).toBe('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const ks = aesCmKeystream(key, iv, 48).toString('hex').toUpperCase();
    expect(ks).toBe('E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0');
  });
});

describe('RFC 3711 appendix B.3: key derivation', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
  it('derives the cipher key', () => {
    expect(deriveSessionKey(masterKey, masterSalt, 0, 16).toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
  });
  it('derives the cipher salt', () => {
    expect(deriveSessionKey(masterKey, masterSalt, 2, 14).toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
  });
  it('derives the authentication key', () => {
    expect(deriveSessionKey(masterKey, masterSalt, 1, 20).toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });
});

function cryptoLine(suite: string): string {
  return `1 ${suite} inline:${Buffer.alloc(30, 7).toString('base64')}|2^20|1:4`.replace('|1:4', '');
}

describe('SrtpReceiver', () => {
  it.each(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'])('%s: decrypts what the sender protected', (suite) => {
    const c = parseSdesCrypto(cryptoLine(suite));
    const tx = new SrtpSender(c);
    const rx = new SrtpReceiver(c);
    for (let i = 0; i < 5; i++) {
      const plain = buildRtp({ payloadType: 8, sequenceNumber: 100 + i, timestamp: 160 * i, ssrc: 0xabcdef01, payload: Buffer.alloc(160, i + 1) });
      const sealed = tx.protect(plain);
      expect(sealed.length).toBe(plain.length + (suite.endsWith('80') ? 10 : 4));
      expect(sealed.subarray(12, 172).equals(plain.subarray(12))).toBe(false);
      expect(rx.unprotect(sealed).equals(plain)).toBe(true);
    }
  });

  it('follows the rollover counter across sequence number wrap', () => {
    const c = parseSdesCrypto(cryptoLine('AES_CM_128_HMAC_SHA1_80'));
    const tx = new SrtpSender(c);
    const rx = new SrtpReceiver(c);
    for (let seq = 65530; seq < 65545; seq++) {
      const plain = buildRtp({ payloadType: 0, sequenceNumber: seq & 0xffff, timestamp: seq * 160, ssrc: 5, payload: Buffer.alloc(20, seq & 0xff) });
      expect(parseRtp(rx.unprotect(tx.protect(plain))).payload[0]).toBe(seq & 0xff);
    }
  });

  it('keeps the rollover counter of packets sent out of order across the wrap', () => {
    const c = parseSdesCrypto(cryptoLine('AES_CM_128_HMAC_SHA1_80'));
    const tx = new SrtpSender(c);
    const rx = new SrtpReceiver(c);
    // A relay forwards what it received in the order it came: 65535 arrives after 0 and 1.
    const order = [65533, 65534, 0, 1, 65535, 2, 3];
    for (const seq of order) {
      const plain = buildRtp({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 9, payload: Buffer.alloc(20, seq & 0xff) });
      expect(rx.unprotect(tx.protect(plain)).equals(plain)).toBe(true);
    }
    expect(guessRoc({ roc: 1, highest: 1 }, 65535)).toBe(0);
    expect(guessRoc({ roc: 0, highest: 65535 }, 2)).toBe(1);
    expect(guessRoc({ roc: 3, highest: 40000 }, 40001)).toBe(3);
  });

  it('makes fresh crypto attributes of either suite that parse and differ', () => {
    const one = newSdesCrypto();
    const two = newSdesCrypto(2, 'AES_CM_128_HMAC_SHA1_32');
    expect(one).toMatch(/^1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}$/);
    expect(parseSdesCrypto(two).suite).toBe('AES_CM_128_HMAC_SHA1_32');
    expect(parseSdesCrypto(one).masterKey.equals(parseSdesCrypto(newSdesCrypto()).masterKey)).toBe(false);
  });

  it('refuses a tampered packet and a packet under another key', () => {
    const c = parseSdesCrypto(cryptoLine('AES_CM_128_HMAC_SHA1_80'));
    const other = parseSdesCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${Buffer.alloc(30, 9).toString('base64')}`);
    const sealed = new SrtpSender(c).protect(buildRtp({ payloadType: 8, sequenceNumber: 1, timestamp: 0, ssrc: 1, payload: Buffer.alloc(160) }));
    const flipped = Buffer.from(sealed);
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    expect(() => new SrtpReceiver(c).unprotect(flipped)).toThrow(/authentication failed/);
    expect(() => new SrtpReceiver(other).unprotect(sealed)).toThrow(/authentication failed/);
  });

  it('rejects malformed and unsupported crypto attributes', () => {
    expect(() => parseSdesCrypto('1 AES_256_CM_HMAC_SHA1_80 inline:abcd')).toThrow(ParseError);
    expect(() => parseSdesCrypto('1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=')).toThrow(/30 bytes/);
    expect(() => parseSdesCrypto('garbage')).toThrow(ParseError);
  });
});
