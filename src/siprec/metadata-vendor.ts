/**
 * The vendor extensions of rs-metadata that say who called and how the call came (`SIPREC-INTEROP.md`):
 * Oracle `callingParty` flags, BroadWorks `termCall`/`origCall`, Metaswitch `callType` with
 * `recordedParty`, Ribbon `callData`, calling and called number elements of any namespace,
 * diversions and stated directions. Every walk is bounded in depth and count. Does no I/O.
 */
import type { PartyHint } from './metadata.ts';
import { attr, childText, clip, numberFromAor, text, type XmlNode } from './metadata-values.ts';

/**
 * A participant's own `callingParty`-style flag in its extension data (Oracle `apkt:callingParty`
 * `true`/`false`, any prefix): `calling` or `called`.
 */
export function findCallingFlag(node: XmlNode, depth = 0): { role: string; source: string } | undefined {
  if (depth > 6) return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (!Array.isArray(value) || key.startsWith('@')) continue;
    for (const v of value) {
      const t = typeof v === 'string' ? clip(v) : v && typeof v === 'object' ? text(v as XmlNode) : '';
      if (/^(callingparty|iscallingparty|callerorig|iscaller|caller)$/i.test(key) && /^(true|false|1|0|yes|no)$/i.test(t)) {
        return { role: /^(true|1|yes)$/i.test(t) ? 'calling' : 'called', source: `${key} extension` };
      }
      if (v && typeof v === 'object') {
        const nested = findCallingFlag(v as XmlNode, depth + 1);
        if (nested) return nested;
      }
    }
  }
  return undefined;
}

/** Element names whose value is the calling party in vendor extensions (BroadWorks, Metaswitch, Ribbon `callData`, ...). */
const CALLER_NAME = /^(callingpartynumber|callingnumber|callingpartyid|callingpartyaddress|fromhdr|fromheader|from|ani|callernumber|callerid)$/i;
/** Element names whose value is the called party. */
const CALLEE_NAME = /^(calledpartynumber|callednumber|calledpartyid|calledpartyaddress|tohdr|toheader|to|dnis|dialeddigits)$/i;
/** Core RFC 7865 elements, whose content is never a vendor's statement of who called. */
const CORE_ELEMENT = /^(participant|stream|participantstreamassoc|participantsessionassoc|sessionrecordingassoc)$/i;

/**
 * Walks the document for statements of who called: BroadWorks `termCall`/`origCall` (the
 * recorded user is called or calling), Metaswitch `callType` with `recordedParty`, and the
 * calling/called number elements of any vendor namespace. Bounded in depth and count.
 */
export function findHints(root: XmlNode): { hints: PartyHint[]; direction: 'in' | 'out' | undefined } {
  const hints: PartyHint[] = [];
  let direction: 'in' | 'out' | undefined;
  const push = (role: PartyHint['role'], value: string, source: string): void => {
    if (value !== '' && !/^(true|false)$/i.test(value) && hints.length < 16) hints.push({ role, value, source });
  };
  const walk = (node: XmlNode, depth: number, context: string | undefined): void => {
    if (depth > 10) return;
    // Metaswitch: `<callType>terminating</callType>` beside `<recordedParty>`.
    const callType = childText(node, 'calltype').toLowerCase();
    const typeDirection = /^(terminating|incoming|inbound|termcall)$/.test(callType) ? 'in' : /^(originating|outgoing|outbound|origcall)$/.test(callType) ? 'out' : undefined;
    if (typeDirection) direction ??= typeDirection;
    for (const [key, value] of Object.entries(node)) {
      if (!Array.isArray(value) || key.startsWith('@') || key === '#text' || CORE_ELEMENT.test(key)) continue;
      for (const v of value) {
        const isObject = v !== null && typeof v === 'object';
        const t = typeof v === 'string' ? clip(v) : isObject ? text(v as XmlNode) : '';
        const source = context ? `${context} extension (${key})` : `${key} extension`;
        if (/^(termcall|origcall)$/i.test(key) && isObject) {
          // BroadWorks: termCall means the recorded user is called (an incoming call), origCall calling.
          direction ??= /^termcall$/i.test(key) ? 'in' : 'out';
          walk(v as XmlNode, depth + 1, key);
        } else if (CALLER_NAME.test(key)) push('caller', t, context ? source : `${key} extension`);
        else if (CALLEE_NAME.test(key)) push('callee', t, context ? source : `${key} extension`);
        else if (/^recordedparty$/i.test(key) && typeDirection) push(typeDirection === 'in' ? 'callee' : 'caller', t, `callType ${callType} extension (${key})`);
        else if (isObject) walk(v as XmlNode, depth + 1, /^calldata$/i.test(key) ? key : context);
      }
    }
  };
  walk(root, 0, undefined);
  return { hints, direction };
}

/** Element names vendors use for the original called or redirecting party (B4). */
const DIVERSION_NAME = /^(originalto|originalcalled(party|number)?|originalcalledpartynumber|redirect(ing|ed)(number|from|party)?|diversion|ocn)$/i;

/** Collects diversion numbers from vendor extension blocks, bounded. */
export function findDiversions(node: XmlNode, depth = 0, out: string[] = []): string[] {
  if (depth > 8 || out.length >= 8) return out;
  for (const [key, value] of Object.entries(node)) {
    if (!Array.isArray(value)) continue;
    for (const v of value) {
      if (DIVERSION_NAME.test(key)) {
        const raw = typeof v === 'string' ? clip(v) : v && typeof v === 'object' ? text(v as XmlNode) || attr(v as XmlNode, 'aor', 'uri', 'number') : '';
        const n = numberFromAor(raw);
        if (n !== '' && !out.includes(n)) out.push(n);
      } else if (v && typeof v === 'object') findDiversions(v as XmlNode, depth + 1, out);
    }
  }
  return out;
}

/** Looks for a direction stated in vendor extensions (`<direction>inbound</direction>` and similar). */
export function findDirection(node: XmlNode, depth = 0): 'in' | 'out' | undefined {
  if (depth > 8) return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (!Array.isArray(value)) continue;
    for (const v of value) {
      if (typeof v === 'string' || (v && typeof v === 'object')) {
        if (/^(direction|calldirection|call-direction)$/i.test(key)) {
          const t = (typeof v === 'string' ? clip(v) : text(v as XmlNode)).toLowerCase();
          if (/^(in|inbound|incoming)$/.test(t)) return 'in';
          if (/^(out|outbound|outgoing)$/.test(t)) return 'out';
        }
      }
      if (!v || typeof v !== 'object') continue;
      const nested = findDirection(v as XmlNode, depth + 1);
      if (nested) return nested;
    }
  }
  return undefined;
}

