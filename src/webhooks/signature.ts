/**
 * The signature of a webhook delivery (H8): HMAC-SHA256 with the endpoint's secret over
 * `<timestamp>.<body>`, sent as `callseal-signature: t=<timestamp>,v1=<hex>` (the common
 * "t=...,v1=..." scheme). The timestamp is in seconds since the epoch and is signed with the body,
 * so a receiver that refuses old timestamps refuses replayed deliveries. Pure: no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature. */
export const SIGNATURE_HEADER = 'callseal-signature';

/** The string that is signed: the timestamp, a full stop, and the body exactly as sent. */
export function signedPayload(timestampSec: number, body: string): string {
  return `${String(timestampSec)}.${body}`;
}

/** The hex HMAC-SHA256 of {@link signedPayload}. */
export function signatureOf(secret: string, timestampSec: number, body: string): string {
  return createHmac('sha256', secret).update(signedPayload(timestampSec, body), 'utf8').digest('hex');
}

/** The header value `t=<timestamp>,v1=<hex>`. */
export function signatureHeader(secret: string, timestampSec: number, body: string): string {
  return `t=${String(timestampSec)},v1=${signatureOf(secret, timestampSec, body)}`;
}

/**
 * Checks a signature header as a receiver should: the timestamp within `toleranceSec` of
 * `nowSec`, and one `v1` value equal to the expected HMAC (compared in constant time).
 */
export function verifySignatureHeader(header: string, secret: string, body: string, nowSec: number, toleranceSec = 300): boolean {
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (timestamp === undefined || Math.abs(nowSec - timestamp) > toleranceSec) return false;
  const expected = Buffer.from(signatureOf(secret, timestamp, body), 'hex');
  return candidates.some((c) => {
    const got = Buffer.from(c, 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
