import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { signatureHeader, signedPayload, verifySignatureHeader } from './signature.ts';

const SECRET = 'whsec-0123456789abcdef';
const BODY = '{"id":"e1","type":"recording.started","data":{"callId":"c1"}}';

describe('webhook signature (t=...,v1=...)', () => {
  it('is the HMAC-SHA256 of "<t>.<body>" in hex', () => {
    const header = signatureHeader(SECRET, 1_767_225_600, BODY);
    const expected = createHmac('sha256', SECRET).update(`1767225600.${BODY}`).digest('hex');
    expect(header).toBe(`t=1767225600,v1=${expected}`);
    expect(signedPayload(5, 'x')).toBe('5.x');
  });

  it('verifies its own header and refuses a changed body, secret or timestamp', () => {
    const header = signatureHeader(SECRET, 1000, BODY);
    expect(verifySignatureHeader(header, SECRET, BODY, 1000)).toBe(true);
    expect(verifySignatureHeader(header, SECRET, `${BODY} `, 1000)).toBe(false);
    expect(verifySignatureHeader(header, 'another-secret-of-length', BODY, 1000)).toBe(false);
    expect(verifySignatureHeader(header.replace('t=1000', 't=1001'), SECRET, BODY, 1000)).toBe(false);
  });

  it('refuses a timestamp outside the tolerance (a replayed delivery)', () => {
    const header = signatureHeader(SECRET, 1000, BODY);
    expect(verifySignatureHeader(header, SECRET, BODY, 1300, 300)).toBe(true);
    expect(verifySignatureHeader(header, SECRET, BODY, 1301, 300)).toBe(false);
  });

  it('accepts any of several v1 values and ignores malformed parts', () => {
    const good = signatureHeader(SECRET, 1000, BODY).split(',')[1] ?? '';
    expect(verifySignatureHeader(`t=1000,v1=${'0'.repeat(64)},junk,v0=abc,${good}`, SECRET, BODY, 1000)).toBe(true);
    expect(verifySignatureHeader(`t=1000,v1=${'0'.repeat(63)}`, SECRET, BODY, 1000)).toBe(false);
    expect(verifySignatureHeader('v1=00', SECRET, BODY, 1000)).toBe(false);
    expect(verifySignatureHeader('', SECRET, BODY, 1000)).toBe(false);
  });
});
