/**
 * Reading values out of an untrusted rs-metadata tree (RFC 7865), as fast-xml-parser gives it:
 * children by local name (bounded in count), text and attributes decoded and clipped (no control
 * characters, bounded length: invariant 4), and the telephone number of an AoR. Does no I/O.
 */
import { phoneNumber, sipUserName } from '../common/uri.ts';

/** Most participants or streams kept from one document. */
export const MAX_ITEMS = 64;
/** Longest value kept (names, AoRs, ids). */
const MAX_VALUE = 256;

/** An element as the parser gives it: attributes as `@name`, text as `#text`, children as arrays. */
export type XmlNode = Record<string, unknown>;

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decodes XML character references (`&#252;`, `&#xFC;`) and the five predefined entities
 * (XML 1.0 sections 4.1 and 4.6); the parser keeps them literal because entity processing is off
 * (declared entities are refused before parsing). A reference to a code point XML does not allow
 * becomes U+FFFD.
 */
export function decodeXmlReferences(value: string): string {
  return value.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(amp|lt|gt|quot|apos));/gi, (whole, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return PREDEFINED[name.toLowerCase()] ?? whole;
    const cp = dec !== undefined ? Number(dec) : parseInt(hex ?? '', 16);
    const allowed = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    return allowed ? String.fromCodePoint(cp) : '\ufffd';
  });
}

/** A value as kept: references decoded, control characters replaced, clipped. */
export function clip(value: string): string {
  // Metadata values end up in a key: value file; no control characters, bounded length (invariant 4).
  // References are decoded first, so `&#10;` cannot smuggle a line break either.
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point.
  return decodeXmlReferences(value).replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_VALUE);
}

/** The children of `node` with local name `name` (any case), at most {@link MAX_ITEMS}. */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (!node) return [];
  const found: XmlNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key.toLowerCase() !== name.toLowerCase() || !Array.isArray(value)) continue;
    for (const v of value) {
      if (v && typeof v === 'object') found.push(v as XmlNode);
      else if (typeof v === 'string') found.push({ '#text': v });
    }
  }
  return found.slice(0, MAX_ITEMS);
}

/** The clipped text of an element, or empty. */
export function text(node: XmlNode | undefined): string {
  if (!node) return '';
  const t = node['#text'];
  if (typeof t === 'string') return clip(t);
  if (Array.isArray(t) && typeof t[0] === 'string') return clip(t[0]);
  return '';
}

/** The clipped value of the first of `names` that is an attribute of `node`, or empty. */
export function attr(node: XmlNode | undefined, ...names: string[]): string {
  if (!node) return '';
  for (const n of names) {
    const v = node[`@${n}`];
    if (typeof v === 'string') return clip(v);
  }
  return '';
}

/** The text of the first child named `name`. */
export function childText(node: XmlNode | undefined, name: string): string {
  return text(children(node, name)[0]);
}

/** A stream id in `<send>`/`<recv>`: the text, or an `<id>` child (BroadWorks, Webex Calling). */
export function streamRef(node: XmlNode): string {
  return text(node) || childText(node, 'id');
}

/**
 * The telephone number of an AoR: `sip:+4930123@host;user=phone` gives `+4930123`,
 * `tel:+49-30-123;phone-context=x` gives `+4930123`, `4930123@host:5060` gives `4930123`.
 * An account name (`sip:alice@host`, checked by `sipUserName`) is kept as it is. Anything else
 * (`+49 30'; DROP`, `=1+1`, 500 digits, bidi characters) gives an empty string, so no file name,
 * search or policy decision rests on free text (invariant 4).
 */
export function numberFromAor(aor: string): string {
  return phoneNumber(aor) ?? sipUserName(aor) ?? '';
}

