/**
 * Number normalisation: the same party arrives as `+4930123`, `004930123`, `030123`,
 * `sip:+4930123@host;user=phone` or `tel:+49-30-123`; with a country and area context all of them
 * become `+4930123`. Short numbers (extensions) stay as they are. Anything that is not a number
 * (or a plain SIP user name) normalises to the empty string, which matches nothing (invariant 4).
 * Does no I/O.
 */

import { phoneNumber, sipUserName, uriUserPart } from '../common/uri.ts';

/** Dialling context of the installation. */
export interface NumberContext {
  /** Country code without `+`, e.g. `49`. */
  readonly countryCode: string;
  /** Area code without the national prefix, e.g. `30`; empty when not used. */
  readonly areaCode: string;
  readonly internationalPrefix: string;
  readonly nationalPrefix: string;
  /** Numbers with at most this many digits are extensions, never expanded. */
  readonly maxExtensionDigits: number;
}

/** The default context: Germany, no area code. */
export const DEFAULT_CONTEXT: NumberContext = { countryCode: '49', areaCode: '', internationalPrefix: '00', nationalPrefix: '0', maxExtensionDigits: 6 };

/** Takes the user part of a SIP/tel URI or a bare number, without parameters or separators. */
export function userPart(raw: string): string {
  return uriUserPart(raw).replace(/[\s().\-/]/g, '');
}

/** True for feature codes (A8): a valid number with a `*`. */
export function isFeatureCode(raw: string): boolean {
  return phoneNumber(raw)?.includes('*') ?? false;
}

/**
 * Normalises a number in the context. A plain SIP user name is returned lower-cased; anything else
 * that is not a number (`+49 30'; DROP`, `=1+1`, bidi characters, 500 digits) gives `''`.
 */
export function normalizeNumber(raw: string, ctx: NumberContext = DEFAULT_CONTEXT): string {
  const s = phoneNumber(raw);
  if (s === undefined) {
    return sipUserName(raw)?.toLowerCase() ?? '';
  }
  if (s.startsWith('+')) return s;
  if (ctx.internationalPrefix && s.startsWith(ctx.internationalPrefix)) return `+${s.slice(ctx.internationalPrefix.length)}`;
  if (s.length <= ctx.maxExtensionDigits || /[*#]/.test(s)) return s;
  if (ctx.nationalPrefix && s.startsWith(ctx.nationalPrefix)) return `+${ctx.countryCode}${s.slice(ctx.nationalPrefix.length)}`;
  return `+${ctx.countryCode}${ctx.areaCode}${s}`;
}

/** Normalises a number prefix (`089`, `0049 89`, `+4989`) to international form where it has a prefix. */
export function normalizePrefix(raw: string, ctx: NumberContext = DEFAULT_CONTEXT): string {
  const s = userPart(raw);
  if (s.startsWith('+')) return s;
  if (ctx.internationalPrefix && s.startsWith(ctx.internationalPrefix)) return `+${s.slice(ctx.internationalPrefix.length)}`;
  if (ctx.nationalPrefix && s.startsWith(ctx.nationalPrefix)) return `+${ctx.countryCode}${s.slice(ctx.nationalPrefix.length)}`;
  return s;
}
