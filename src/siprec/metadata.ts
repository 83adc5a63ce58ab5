/**
 * SIPREC recording metadata (RFC 7865) and the draft variants real SRCs send
 * (`SIPREC-INTEROP.md`): namespaces with or without `:1`, the old `recording_metadata` root,
 * `id=`/`session=` attributes, `<send>`/`<recv>` inside `<participant>`, `<aor>` elements, vendor
 * blocks. The XML is untrusted: size is capped, DOCTYPE and entities are refused, nesting bounded.
 * Does no I/O.
 */
import { XMLParser } from 'fast-xml-parser';
import { SyntaxValidator } from 'fast-xml-validator';
import { ParseError } from '../common/errors.ts';
import { phoneNumber } from '../common/uri.ts';

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
  /** The telephone number in the AoR, validated by `phoneNumber`; empty when the AoR holds none (the AoR keeps the raw text). */
  readonly number: string;
  readonly name: string;
  /** Stream ids this participant sends. */
  readonly send: readonly string[];
  readonly recv: readonly string[];
  /** Role hint from a vendor extension (`calling`/`called`), if any. */
  readonly role: string | undefined;
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

function clip(value: string): string {
  // Metadata values end up in a key: value file; no control characters, bounded length (invariant 4).
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point.
  return value.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_VALUE);
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

/**
 * The telephone number of an AoR: `sip:+4930123@host;user=phone` gives `+4930123`,
 * `tel:+49-30-123;phone-context=x` gives `+4930123`, `4930123@host:5060` gives `4930123`.
 * Anything that is not a number (`sip:alice@host`, `+49 30'; DROP`, 500 digits) gives an empty
 * string, so no file name, search or policy decision rests on free text (invariant 4).
 */
export function numberFromAor(aor: string): string {
  return phoneNumber(aor) ?? '';
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
    assoc.set(pid, { send: children(a, 'send').map(text), recv: children(a, 'recv').map(text) });
  }

  const participants: Participant[] = children(root, 'participant').map((p, index) => {
    const id = attr(p, 'participant_id', 'id') || `participant-${index}`;
    const nameId = children(p, 'nameid')[0] ?? children(p, 'nameID')[0];
    const aor = attr(nameId, 'aor') || childText(nameId, 'aor') || childText(p, 'aor') || attr(p, 'aor');
    const name = childText(nameId, 'name') || childText(p, 'name');
    const a = assoc.get(id);
    const send = [...(a?.send ?? []), ...children(p, 'send').map(text)].filter(Boolean);
    const recv = [...(a?.recv ?? []), ...children(p, 'recv').map(text)].filter(Boolean);
    const role = childText(p, 'role') || undefined;
    return { id, aor, number: numberFromAor(aor), name, send, recv, role };
  });

  const streams: MetadataStream[] = children(root, 'stream').map((s, index) => ({
    id: attr(s, 'stream_id', 'id') || `stream-${index}`,
    label: childText(s, 'label'),
  }));

  return { dataMode, sessionId, participants, streams, direction: findDirection(root), diversions: findDiversions(root) };
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
    } : p);
  }
  const streams = new Map(current.streams.map((s) => [s.id, s]));
  for (const s of update.streams) streams.set(s.id, s);
  return {
    dataMode: 'complete', sessionId: update.sessionId ?? current.sessionId,
    participants: [...participants.values()].slice(0, MAX_ITEMS), streams: [...streams.values()].slice(0, MAX_ITEMS),
    direction: update.direction ?? current.direction,
    diversions: update.diversions.length > 0 ? update.diversions : current.diversions,
  };
}

/** Caller and callee of a recording, and which SDP label carries each one's voice. */
export interface Parties {
  readonly caller: Participant | undefined;
  readonly callee: Participant | undefined;
  readonly callerLabel: string | undefined;
  readonly calleeLabel: string | undefined;
}

/**
 * Works out caller and callee: a role hint wins (`calling`/`caller`/`from`), otherwise the first
 * participant in document order is the caller (every SRC in `SIPREC-INTEROP.md` lists the calling
 * party first). Each party's label is the label of the stream it sends.
 */
export function resolveParties(meta: RecordingMetadata | undefined, sdpLabels: readonly string[]): Parties {
  const real = (meta?.participants ?? []).filter((p) => p.aor !== '' || p.name !== '');
  let caller = real.find((p) => /^(calling|caller|from|originator|a[-_]?party)$/i.test(p.role ?? ''));
  let callee = real.find((p) => /^(called|callee|to|terminator|b[-_]?party)$/i.test(p.role ?? ''));
  caller ??= real.find((p) => p !== callee);
  callee ??= real.find((p) => p !== caller);
  const labelOf = (p: Participant | undefined): string | undefined => {
    if (!p || !meta) return undefined;
    for (const streamId of p.send) {
      const s = meta.streams.find((x) => x.id === streamId);
      if (s?.label && sdpLabels.includes(s.label)) return s.label;
    }
    return undefined;
  };
  let callerLabel = labelOf(caller);
  let calleeLabel = labelOf(callee);
  // Without associations, the first m-line is the caller's and the second the callee's.
  callerLabel ??= sdpLabels.find((l) => l !== calleeLabel);
  calleeLabel ??= sdpLabels.find((l) => l !== callerLabel);
  return { caller, callee, callerLabel, calleeLabel };
}
