/**
 * `<base>_info.txt` (D3): UTF-8, one `key: value` per line, grep-able on any PC. Values from the
 * network are escaped so that no value can start a new line or fake a key (invariant 4).
 * The chain fields (`previous-recording`, `previous-signature`) are written by sealing.
 */
import type { Retention } from '../common/retention.ts';
import type { StreamStats } from '../rtp/index.ts';
import { isoWithOffset } from './naming.ts';

/** A party as it appears in the metadata file. */
export interface PartyInfo {
  readonly number: string;
  readonly name: string;
  readonly aor: string;
}

/** One recorded stream. */
export interface StreamInfo {
  /** caller, callee or stream-<label>. */
  readonly role: string;
  readonly label: string;
  readonly codec: string;
  readonly stats: StreamStats;
}

/** Everything the metadata file says about one recording. */
export interface RecordingFacts {
  readonly id: string;
  readonly baseName: string;
  readonly callId: string;
  readonly siprecSessionId: string | undefined;
  readonly startMs: number;
  readonly endMs: number;
  readonly endReason: string;
  readonly interrupted: boolean;
  readonly lastPacketAtMs: number | undefined;
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly participants: readonly PartyInfo[];
  readonly direction: 'in' | 'out' | 'internal' | 'external' | 'unknown';
  readonly setting: string;
  readonly channels: 'stereo' | 'separate' | 'mono';
  readonly codec: string;
  readonly streams: readonly StreamInfo[];
  readonly audioFiles: readonly string[];
  readonly metadataFiles: readonly string[];
  readonly dtmf: readonly { readonly digit: string; readonly atMs: number; readonly role: string }[];
  readonly recorder: string;
  readonly instanceId: string;
  readonly timeZone: string | undefined;
  /** Which source decided who called (`role element`, a vendor extension, `document order`). */
  readonly callerBy?: string | undefined;
  /** Which source tied streams to parties (`stream association`, `m-line order`). */
  readonly channelsBy?: string | undefined;
  /** Why the channel layout differs from the configured one (streams in different codecs). */
  readonly layoutNote?: string | undefined;
  /** Storage targets (not written to the file). */
  readonly targetIds?: readonly string[];
  /** F6: the setting's retention (not written to the file; sealing fixes the retain-until from it). */
  readonly retention?: Retention | undefined;
  /** C3: the consent IVR's outcome, for in-line calls that had one (written as `consent`). */
  readonly consent?: ConsentInfo | undefined;
}

/** The consent IVR's outcome as the metadata file states it (C3). */
export interface ConsentInfo {
  /** `opt-in`, `opt-out` or `no-choice`. */
  readonly mode: string;
  readonly recorded: boolean;
  /** `key`, `timeout` or `no-choice`. */
  readonly outcome: string;
  readonly key?: string | undefined;
  /** When it was decided: the key press or the end of the wait. */
  readonly atMs: number;
}

/** Chain link written by sealing (E5). */
export interface ChainLink {
  readonly epoch: number;
  /** 1 for the first recording of an epoch. */
  readonly sequence: number;
  /** Base name of the previously sealed recording, or `genesis`. */
  readonly previousRecording: string;
  /** Its signature (base64), or `public-key-sha256:<hex>` at genesis. */
  readonly previousSignature: string;
  readonly sealedAtMs: number;
  readonly certificateSha256: string;
  readonly publicKeySha256: string;
}

/*
 * Escaping (invariant 4). A value is written on one line after `key: `.
 * - Every value: `\` becomes `\\`, LF `\n`, CR `\r`, and every character that can break a line, hide
 *   text or reorder it on screen becomes `\uXXXX` (UTF-16 units, as in JSON): C0 and C1 controls
 *   (with NEL U+0085), DEL, soft hyphen, LS/PS (U+2028, U+2029), the bidi controls (U+061C, U+200E,
 *   U+200F, U+202A-U+202E, U+2066-U+2069), zero-width and invisible characters (U+180E,
 *   U+200B-U+200D, U+2060-U+2064, U+FEFF, U+FFF9-U+FFFB, tags U+E0000-U+E007F; with them every
 *   other Unicode Default_Ignorable_Code_Point: U+034F, the Hangul fillers, variation selectors),
 *   and lone surrogates (UTF-8 cannot carry them, so they would not read back exactly).
 * - Lines made of fields (`participant-1: number=… name=… aor=…`, `stream-caller: label=… codec=…`,
 *   `stats-caller: expected=… …`) separate fields with a space and split each at its first `=`, so a
 *   field value also has `%` written as `%25`, space as `%20` and `=` as `%3D`: it can never end its
 *   field or fake another one (`label=1 codec=FAKE`).
 * `parseInfo` undoes the first, `parseFields` the second; both round-trip exactly.
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\u061c\u2028\u2029\u202a-\u202e\ufff9-\ufffb\ud800-\udfff\p{Default_Ignorable_Code_Point}]/gu;
const LINE_ESCAPE = /\\(?:([\\nr])|u([0-9a-fA-F]{4}))/g;
const FIELD_UNSAFE = /[% =]/g;
const FIELD_ESCAPE = /%(25|20|3[dD])/g;

function unicodeEscape(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** Escapes a value for one line: backslash, CR, LF, controls, bidi and invisible characters become escapes. */
export function escapeValue(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')
    .replace(UNSAFE, unicodeEscape);
}

/** Undoes {@link escapeValue}. A backslash that does not start an escape (only in hand-edited files) stays. */
export function unescapeValue(text: string): string {
  return text.replace(LINE_ESCAPE, (_m, simple: string | undefined, code: string | undefined) => {
    if (simple === 'n') return '\n';
    if (simple === 'r') return '\r';
    if (simple === '\\') return '\\';
    return String.fromCharCode(parseInt(code ?? '0', 16));
  });
}

/** Encodes the value of one `name=value` field: `%`, space and `=` become `%25`, `%20`, `%3D`. */
export function encodeField(value: string): string {
  return value.replace(FIELD_UNSAFE, (c) => (c === '%' ? '%25' : c === ' ' ? '%20' : '%3D'));
}

function decodeField(text: string): string {
  return text.replace(FIELD_ESCAPE, (_m, code: string) => (code === '25' ? '%' : code === '20' ? ' ' : '='));
}

/** Renders `name=value` fields separated by single spaces, each value encoded with {@link encodeField}. */
function fields(list: readonly (readonly [string, string | number])[]): string {
  return list.map(([name, value]) => `${name}=${encodeField(String(value))}`).join(' ');
}

/**
 * Splits a field line's value (as {@link parseInfo} returns it for `participant-<n>`,
 * `stream-<role>` and `stats-<role>`) into its fields, decoded; the first of a repeated name wins.
 */
export function parseFields(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const token of value.split(' ')) {
    const eq = token.indexOf('=');
    if (eq <= 0) continue;
    const name = token.slice(0, eq);
    if (!out.has(name)) out.set(name, decodeField(token.slice(eq + 1)));
  }
  return out;
}

function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(total % 1000).padStart(3, '0')}`;
}

function statsLine(s: StreamStats): string {
  return fields([
    ['expected', s.expected], ['received', s.received], ['lost', s.lost], ['late', s.late], ['duplicated', s.duplicated],
    ['malformed', s.malformed], ['auth-failures', s.authFailures], ['other-payload', s.otherPayload], ['ssrc-changes', s.ssrcChanges],
    ['silence-bytes', s.silenceBytes], ['audio-bytes', s.audioBytes], ['foreign-source', s.foreignSource], ['oversized', s.oversized],
    ['clipped-bytes', s.clippedBytes],
  ]);
}

/** Renders the metadata file. */
export function renderInfo(f: RecordingFacts, chain?: ChainLink): string {
  const tz = f.timeZone;
  const rows: [string, string][] = [
    ['format', 'callseal-info 1'],
    ['recording-id', f.id],
    ['base-name', f.baseName],
    ['start', isoWithOffset(f.startMs, tz)],
    ['start-ms', String(f.startMs)],
    ['end', isoWithOffset(f.endMs, tz)],
    ['end-ms', String(f.endMs)],
    ['duration-ms', String(f.endMs - f.startMs)],
    ['duration', duration(f.endMs - f.startMs)],
    ['call-id', f.callId],
    ['siprec-session-id', f.siprecSessionId ?? ''],
    ['caller-number', f.caller.number],
    ['caller-name', f.caller.name],
    ['caller-aor', f.caller.aor],
    ['callee-number', f.callee.number],
    ['callee-name', f.callee.name],
    ['callee-aor', f.callee.aor],
    ['direction', f.direction],
    ['setting', f.setting],
    ['channels', f.channels],
  ];
  // Written only when known, so recordings finished from an older spool read as before.
  if (f.callerBy !== undefined) rows.push(['caller-by', f.callerBy]);
  if (f.channelsBy !== undefined) rows.push(['channels-by', f.channelsBy]);
  if (f.layoutNote !== undefined) rows.push(['layout-note', f.layoutNote]);
  rows.push(
    ['codec', f.codec],
    ['audio-files', f.audioFiles.join(' ')],
    ['metadata-files', f.metadataFiles.join(' ')],
    ['end-reason', f.endReason],
    ['interrupted', f.interrupted ? 'yes' : 'no'],
  );
  if (f.interrupted) rows.push(['last-packet', f.lastPacketAtMs !== undefined ? isoWithOffset(f.lastPacketAtMs, tz) : '']);
  f.participants.forEach((p, i) => {
    rows.push([`participant-${i + 1}`, fields([['number', p.number], ['name', p.name], ['aor', p.aor]])]);
  });
  for (const s of f.streams) {
    rows.push([`stream-${s.role}`, fields([['label', s.label], ['codec', s.codec]])]);
    rows.push([`stats-${s.role}`, statsLine(s.stats)]);
  }
  if (f.consent) {
    const c = f.consent;
    rows.push(['consent', fields([['mode', c.mode], ['recorded', c.recorded ? 'yes' : 'no'], ['outcome', c.outcome], ...(c.key !== undefined ? [['key', c.key] as const] : []), ['at', isoWithOffset(c.atMs, tz)], ['at-ms', c.atMs]])]);
  }
  for (const d of f.dtmf) rows.push(['dtmf', `${d.digit} at ${isoWithOffset(d.atMs, tz)} from ${d.role}`]);
  rows.push(['recorder', f.recorder]);
  rows.push(['instance-id', f.instanceId]);
  if (chain) {
    rows.push(['sealed-at', isoWithOffset(chain.sealedAtMs, tz)]);
    rows.push(['sealed-at-ms', String(chain.sealedAtMs)]);
    rows.push(['certificate-sha256', chain.certificateSha256]);
    rows.push(['public-key-sha256', chain.publicKeySha256]);
    rows.push(['chain-epoch', String(chain.epoch)]);
    rows.push(['chain-sequence', String(chain.sequence)]);
    rows.push(['previous-recording', chain.previousRecording]);
    rows.push(['previous-signature', chain.previousSignature]);
  }
  // A field line is encoded field by field, then escaped as a whole like every other value.
  return rows.map(([k, v]) => `${k}: ${escapeValue(v)}`).join('\n') + '\n';
}

/**
 * Reads a metadata file back into key/value pairs (repeated keys keep every value), each value
 * unescaped exactly as it was given to {@link renderInfo}; split field lines with {@link parseFields}.
 */
export function parseInfo(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i <= 0) continue;
    const key = line.slice(0, i);
    const list = out.get(key) ?? [];
    list.push(unescapeValue(line.slice(i + 2)));
    out.set(key, list);
  }
  return out;
}
