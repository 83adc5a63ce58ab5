/**
 * The user part of a SIP/tel URI or bare number (`sip:+4930123@host;user=phone` → `+4930123`,
 * `tel:+49-30-123` → `+49-30-123`, `4930123@host:5060` → `4930123`), %-escapes decoded.
 * Shared by the SIPREC metadata and the policy's number normalisation.
 */
export function uriUserPart(raw: string): string {
  let s = raw.trim().replace(/^<|>$/g, '');
  s = s.replace(/^(sips?|tel):/i, '');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  s = s.split(';')[0] ?? '';
  try {
    return decodeURIComponent(s);
  } catch {
    // Malformed escapes: keep the text as it is.
    return s;
  }
}
