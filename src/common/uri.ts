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

/** Longest telephone number kept: E.164 has 15 digits; dial strings with codes and subaddresses are longer. */
export const MAX_NUMBER_LENGTH = 32;

/**
 * The telephone number in a `tel:`/`sip:` URI or bare number, or `undefined` when the user part is
 * not one (invariant 4: numbers from the network are hostile). The RFC 3966 section 5.1.1 visual
 * separators `-`, `.`, `(` and `)` are removed; what is left must be digits, `*` and `#`, with an
 * optional leading `+`, at most {@link MAX_NUMBER_LENGTH} characters. `sip:alice@host`,
 * `+49 30'; DROP`, `=1+1` and bidi or zero-width characters are not numbers.
 */
export function phoneNumber(raw: string): string | undefined {
  const s = uriUserPart(raw).replace(/[-.()]/g, '');
  return s.length <= MAX_NUMBER_LENGTH && /^\+?[0-9*#]+$/.test(s) ? s : undefined;
}

/**
 * The user name of a `sip:` URI that names an account rather than a number (`sip:alice@pbx`,
 * `sip:ASBCE@sbc`, `sip:müller@x`), or `undefined`: a letter first, then letters, digits, `.`, `_`
 * or `-`, at most {@link MAX_NUMBER_LENGTH} characters. No space, `=`, control, bidi or zero-width
 * character can pass, so such a name is as safe in a file name or `_info.txt` as a number.
 */
export function sipUserName(raw: string): string | undefined {
  const s = uriUserPart(raw);
  return /^\p{L}[\p{L}\p{N}._-]{0,31}$/u.test(s) ? s : undefined;
}
