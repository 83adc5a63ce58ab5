/**
 * DTMF in SIP INFO (`application/dtmf-relay`, the de-facto format of Cisco and most PBXs):
 *
 * ```
 *   Signal=1
 *   Duration=160
 * ```
 * Only `Signal` matters here (0-9, *, #, A-D; 10 and 11 stand for * and # in some devices). Pure.
 */

/** The largest body read. */
const MAX_BODY_BYTES = 1024;

/** The digit of a `application/dtmf-relay` body; undefined when it names none. */
export function dtmfRelayDigit(body: Buffer): string | undefined {
  if (body.length > MAX_BODY_BYTES) return undefined;
  for (const line of body.toString('latin1').split(/\r?\n/)) {
    const m = /^\s*signal\s*=\s*(\S+)\s*$/i.exec(line);
    if (!m?.[1]) continue;
    const v = m[1].toUpperCase();
    if (v === '10') return '*';
    if (v === '11') return '#';
    return /^[0-9*#A-D]$/.test(v) ? v : undefined;
  }
  return undefined;
}
