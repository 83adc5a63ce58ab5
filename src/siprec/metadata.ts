/**
 * SIPREC recording metadata (RFC 7865) and the draft variants real SRCs send
 * (`SIPREC-INTEROP.md`): namespaces with or without `:1`, the old `recording_metadata` root,
 * `id=`/`session=` attributes, `<send>`/`<recv>` inside `<participant>`, `<aor>` elements, vendor
 * blocks, and the vendor extensions that say who called (Oracle `callingParty`, BroadWorks
 * `termCall`/`origCall`, Metaswitch `callType`, Ribbon `callData`, `<role>`), whatever their
 * namespace prefix. The XML is untrusted: size is capped, DOCTYPE and entity declarations are
 * refused (only character references and the five predefined entities are decoded), nesting
 * bounded. This file parses and merges documents; values are read in `metadata-values.ts`, the
 * vendor extensions in `metadata-vendor.ts`, and caller and callee are resolved in `parties.ts`.
 * Does no I/O.
 */
import { XMLParser } from 'fast-xml-parser';
import { SyntaxValidator } from 'fast-xml-validator';
import { ParseError } from '../common/errors.ts';
import { MAX_ITEMS, attr, children, childText, numberFromAor, streamRef, type XmlNode } from './metadata-values.ts';
import { findCallingFlag, findDirection, findDiversions, findHints } from './metadata-vendor.ts';

export { decodeXmlReferences, numberFromAor } from './metadata-values.ts';
export { resolveParties, type Parties } from './parties.ts';

/** Largest metadata document accepted. */
export const MAX_METADATA_BYTES = 64 * 1024;

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

