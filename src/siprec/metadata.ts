/**
 * SIPREC recording metadata (RFC 7865) and the draft variants real SRCs send
 * (`SIPREC-INTEROP.md`): namespaces with or without `:1`, the old `recording_metadata` root,
 * `id=`/`session=` attributes, `<send>`/`<recv>` inside `<participant>`, `<aor>` elements, vendor
 * blocks, and the vendor extensions that say who called (Oracle `callingParty`, BroadWorks
 * `termCall`/`origCall`, Metaswitch `callType`, Ribbon `callData`, `<role>`), whatever their
 * namespace prefix. The XML is untrusted: size is capped, DOCTYPE and entity declarations are
 * refused (only character references and the five predefined entities are decoded), nesting
 * bounded. Does no I/O.
 */
import { XMLParser } from 'fast-xml-parser';
import { SyntaxValidator } from 'fast-xml-validator';
import { ParseError } from '../common/errors.ts';
import { phoneNumber, sipUserName } from '../common/uri.ts';

/** Largest metadata document accepted. */
export const MAX_METADATA_BYTES = 64 * 1024;
/** Most participants or streams kept from one document. */
const MAX_ITEMS = 64;
/** Longest value kept (names, AoRs, ids). */
const MAX_VALUE = 256;

/** One participant of the recorded call. */
export interface Participant {
  readonly id: string;
  /** The address of record as sent (`sip:+4930123@host`, `tel:+4930123`, ...). */
  readonly aor: string;
  /** The telephone number (or account name) in the AoR, validated by `phoneNumber`/`sipUserName`; empty when the AoR holds neither (the AoR keeps the raw text). */
  readonly number: string;
  readonly name: string;
  /** Stream ids this participant sends. */
  readonly send: readonly string[];
  readonly recv: readonly string[];
  /** Role hint from a vendor extension (`calling`/`called`), if any. */
  readonly role: string | undefined;
  /** What set `role`: `role element` or `<name> extension` (e.g. `callingParty extension`). */
  readonly roleSource?: string | undefined;
}

/** A party named by a document-level vendor extension, matched to a participant by number. */
export interface PartyHint {
  readonly role: 'caller' | 'callee';
  /** The number, AoR or header value as sent. */
  readonly value: string;
  /** Which extension said so, e.g. `termCall extension (callingPartyNumber)`. */
  readonly source: string;
}

/** One recorded stream as the metadata declares it. */
export interface MetadataStream {
  readonly id: string;
  /** The SDP `a=label` it belongs to. */
  readonly label: string;
}

/** The parsed metadata of one version. */
export interface RecordingMetadata {
  readonly dataMode: 'complete' | 'partial';
  readonly sessionId: string | undefined;
  readonly participants: readonly Participant[];
  readonly streams: readonly MetadataStream[];
  /** Direction stated by the SRC (vendor extensions), if any. */
  readonly direction: 'in' | 'out' | undefined;
  /** Numbers the call was diverted from (vendor extensions such as an original called number), oldest first. */
  readonly diversions: readonly string[];
  /** Caller and callee as document-level vendor extensions name them, in document order. */
  readonly hints: readonly PartyHint[];
}

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (_name: string, _jpath: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});

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

function clip(value: string): string {
  // Metadata values end up in a key: value file; no control characters, bounded length (invariant 4).
  // References are decoded first, so `&#10;` cannot smuggle a line break either.
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point.
  return decodeXmlReferences(value).replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_VALUE);
}

function children(node: XmlNode | undefined, name: string): XmlNode[] {
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

function text(node: XmlNode | undefined): string {
  if (!node) return '';
  const t = node['#text'];
  if (typeof t === 'string') return clip(t);
  if (Array.isArray(t) && typeof t[0] === 'string') return clip(t[0]);
  return '';
}

function attr(node: XmlNode | undefined, ...names: string[]): string {
  if (!node) return '';
  for (const n of names) {
    const v = node[`@${n}`];
    if (typeof v === 'string') return clip(v);
  }
  return '';
}

function childText(node: XmlNode | undefined, name: string): string {
  return text(children(node, name)[0]);
}

/** A stream id in `<send>`/`<recv>`: the text, or an `<id>` child (BroadWorks, Webex Calling). */
function streamRef(node: XmlNode): string {
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

/** Parses one metadata document. Throws `ParseError` (CS_SIPREC_METADATA) when it is unusable. */
export function parseMetadata(xml: Buffer | string): RecordingMetadata {
  const size = typeof xml === 'string' ? Buffer.byteLength(xml) : xml.length;
  if (size > MAX_METADATA_BYTES) throw new ParseError('CS_SIPREC_METADATA', `metadata of ${size} bytes exceeds ${MAX_METADATA_BYTES}`);
  const doc = typeof xml === 'string' ? xml : xml.toString('utf8');
  // Entities and DTDs are refused outright (billion laughs, external entities).
  if (/<!DOCTYPE|<!ENTITY/i.test(doc)) throw new ParseError('CS_SIPREC_METADATA', 'metadata with a DOCTYPE or ENTITY declaration is refused');
  if (/&(?!(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-f]{1,6});)/i.test(doc)) throw new ParseError('CS_SIPREC_METADATA', 'metadata with an undeclared entity reference');
  let root: XmlNode;
  try {
    new SyntaxValidator().validate(doc);
    const parsed = parser.parse(doc) as XmlNode;
    const top = children(parsed, 'recording')[0] ?? children(parsed, 'recording_metadata')[0];
    if (!top) throw new ParseError('CS_SIPREC_METADATA', 'metadata without a <recording> root element');
    root = top;
  } catch (err) {
    if (err instanceof ParseError) throw err;
    throw new ParseError('CS_SIPREC_METADATA', `metadata is not well-formed XML: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
  const dataMode = /partial/i.test(childText(root, 'datamode')) ? 'partial' : 'complete';
  const sessionId = attr(children(root, 'session')[0], 'session_id', 'id') || undefined;

  const assoc = new Map<string, { send: string[]; recv: string[] }>();
  for (const a of children(root, 'participantstreamassoc')) {
    const pid = attr(a, 'participant_id', 'id');
    assoc.set(pid, { send: children(a, 'send').map(streamRef), recv: children(a, 'recv').map(streamRef) });
  }

  const participants: Participant[] = children(root, 'participant').map((p, index) => {
    const id = attr(p, 'participant_id', 'id') || `participant-${index}`;
    const nameId = children(p, 'nameid')[0] ?? children(p, 'nameID')[0];
    const aor = attr(nameId, 'aor') || childText(nameId, 'aor') || childText(p, 'aor') || attr(p, 'aor');
    const name = childText(nameId, 'name') || childText(p, 'name');
    const a = assoc.get(id);
    const send = [...(a?.send ?? []), ...children(p, 'send').map(streamRef)].filter(Boolean);
    const recv = [...(a?.recv ?? []), ...children(p, 'recv').map(streamRef)].filter(Boolean);
    const roleElement = childText(p, 'role');
    const flag = roleElement ? undefined : findCallingFlag(p);
    const role = roleElement || flag?.role || undefined;
    const roleSource = roleElement ? 'role element' : flag?.source;
    return { id, aor, number: numberFromAor(aor), name, send, recv, role, roleSource };
  });

  const streams: MetadataStream[] = children(root, 'stream').map((s, index) => ({
    id: attr(s, 'stream_id', 'id') || `stream-${index}`,
    label: childText(s, 'label'),
  }));

  const found = findHints(root);
  return {
    dataMode, sessionId, participants, streams, direction: findDirection(root) ?? found.direction,
    diversions: findDiversions(root), hints: found.hints,
  };
}

/**
 * A participant's own `callingParty`-style flag in its extension data (Oracle `apkt:callingParty`
 * `true`/`false`, any prefix): `calling` or `called`.
 */
function findCallingFlag(node: XmlNode, depth = 0): { role: string; source: string } | undefined {
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
function findHints(root: XmlNode): { hints: PartyHint[]; direction: 'in' | 'out' | undefined } {
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
function findDiversions(node: XmlNode, depth = 0, out: string[] = []): string[] {
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
function findDirection(node: XmlNode, depth = 0): 'in' | 'out' | undefined {
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

/**
 * Merges a partial update into the current view (RFC 7865 section 6.2): participants and
 * streams are replaced by id, new ones appended. A complete snapshot replaces everything.
 */
export function mergeMetadata(current: RecordingMetadata | undefined, update: RecordingMetadata): RecordingMetadata {
  if (!current || update.dataMode === 'complete') return update;
  const participants = new Map(current.participants.map((p) => [p.id, p]));
  for (const p of update.participants) {
    const old = participants.get(p.id);
    participants.set(p.id, old ? {
      ...old, ...p, aor: p.aor || old.aor, number: p.number || old.number, name: p.name || old.name,
      send: p.send.length ? p.send : old.send, recv: p.recv.length ? p.recv : old.recv, role: p.role ?? old.role,
      roleSource: p.role !== undefined ? p.roleSource : old.roleSource,
    } : p);
  }
  const streams = new Map(current.streams.map((s) => [s.id, s]));
  for (const s of update.streams) streams.set(s.id, s);
  return {
    dataMode: 'complete', sessionId: update.sessionId ?? current.sessionId,
    participants: [...participants.values()].slice(0, MAX_ITEMS), streams: [...streams.values()].slice(0, MAX_ITEMS),
    direction: update.direction ?? current.direction,
    diversions: update.diversions.length > 0 ? update.diversions : current.diversions,
    hints: update.hints.length > 0 ? update.hints : current.hints,
  };
}

/** Caller and callee of a recording, and which SDP label carries each one's voice. */
export interface Parties {
  readonly caller: Participant | undefined;
  readonly callee: Participant | undefined;
  readonly callerLabel: string | undefined;
  readonly calleeLabel: string | undefined;
  /** What decided who called: `role element`, `callingParty extension`, `termCall extension (callingPartyNumber)`, ..., or `document order`. */
  readonly source: string;
  /** What decided the channels: `stream association` or `m-line order`. */
  readonly labelSource: string;
}

/** Digits of a number, without a leading `+` or separators. */
function digitsOf(value: string): string {
  return /^\+?[\d\s().-]+$/.test(value) ? value.replace(/\D/g, '') : '';
}

/**
 * How well a hint's value names a participant: 3 for the same number or user, 2 when one number
 * ends with the other (`+18638254725` and `8638254725`, at least 4 digits), 0 otherwise.
 */
function matchScore(hint: string, p: Participant): number {
  // A header value such as `"Extension 8500" <sip:2249888500@host>;tag=x` names the URI inside <>.
  const uri = /<([^>]*)>/.exec(hint)?.[1] ?? hint;
  const a = numberFromAor(uri).toLowerCase();
  const b = p.number.toLowerCase();
  if (a === '' || b === '') return 0;
  if (a === b) return 3;
  const da = digitsOf(a);
  const db = digitsOf(b);
  if (da.length >= 4 && db.length >= 4 && (da.endsWith(db) || db.endsWith(da))) return da === db ? 3 : 2;
  return 0;
}

/**
 * Works out caller and callee (the first participant is not always the caller), in this order:
 * a participant's own role (`<role>calling</role>`, Oracle `callingParty` true/false); the
 * calling/called numbers of document-level vendor extensions matched to participants (BroadWorks
 * `termCall`/`origCall`, Metaswitch `callType`, Ribbon `callData` From/To); otherwise document
 * order. Each party's label is the label of the stream it sends (the stream associations, Webex:
 * label 1 is the callee's); only labels no participant sends fall back to m-line order.
 */
export function resolveParties(meta: RecordingMetadata | undefined, sdpLabels: readonly string[]): Parties {
  const real = (meta?.participants ?? []).filter((p) => p.aor !== '' || p.name !== '');
  let caller = real.find((p) => /^(calling|caller|from|originator|a[-_]?party)$/i.test(p.role ?? ''));
  let callee = real.find((p) => p !== caller && /^(called|callee|to|terminator|b[-_]?party)$/i.test(p.role ?? ''));
  let source = caller?.roleSource ?? callee?.roleSource;
  if (!caller && !callee) {
    let callerSource: string | undefined;
    let calleeSource: string | undefined;
    for (const hint of meta?.hints ?? []) {
      const other = hint.role === 'caller' ? callee : caller;
      let best: Participant | undefined;
      let bestScore = 0;
      for (const p of real) {
        const score = p === other ? 0 : matchScore(hint.value, p);
        if (score > bestScore) {
          best = p;
          bestScore = score;
        }
      }
      if (!best) continue;
      if (hint.role === 'caller' && !caller) {
        caller = best;
        callerSource = hint.source;
      } else if (hint.role === 'callee' && !callee) {
        callee = best;
        calleeSource = hint.source;
      }
    }
    // The statement naming the caller is the one reported; a callee statement decides otherwise.
    source = callerSource ?? calleeSource;
  }
  caller ??= real.find((p) => p !== callee);
  callee ??= real.find((p) => p !== caller);
  source ??= 'document order';
  const labelOf = (p: Participant | undefined): string | undefined => {
    if (!p || !meta) return undefined;
    for (const streamId of p.send) {
      const s = meta.streams.find((x) => x.id === streamId);
      if (s?.label && sdpLabels.includes(s.label)) return s.label;
    }
    return undefined;
  };
  // Labels that some participant sends belong to that participant, never to another by position.
  const claimed = new Set<string>();
  for (const p of real) {
    for (const id of p.send) {
      const label = meta?.streams.find((x) => x.id === id)?.label;
      if (label) claimed.add(label);
    }
  }
  let callerLabel = labelOf(caller);
  let calleeLabel = labelOf(callee);
  const associated = callerLabel !== undefined || calleeLabel !== undefined;
  // Without associations, the first unclaimed m-line is the caller's and the next the callee's;
  // when the metadata declares its streams, an m-line it does not declare is nobody's.
  const declared = new Set((meta?.streams ?? []).map((x) => x.label).filter(Boolean));
  const free = (l: string): boolean => !claimed.has(l) && (declared.size === 0 || declared.has(l));
  callerLabel ??= sdpLabels.find((l) => l !== calleeLabel && free(l));
  calleeLabel ??= sdpLabels.find((l) => l !== callerLabel && free(l));
  return { caller, callee, callerLabel, calleeLabel, source, labelSource: associated ? 'stream association' : 'm-line order' };
}
