/**
 * `<base>_info.txt` (D3): UTF-8, one `key: value` per line, grep-able on any PC. Values from the
 * network are escaped so that no value can start a new line or fake a key (invariant 4).
 * The chain fields (`previous-recording`, `previous-signature`) are written by sealing.
 */
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
  /** Storage targets (not written to the file). */
  readonly targetIds?: readonly string[];
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

/** Escapes a value for one line: backslash, CR, LF and other controls become escapes. */
export function escapeValue(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')
    // eslint-disable-next-line no-control-regex -- escaping control characters is the point.
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(total % 1000).padStart(3, '0')}`;
}

function statsLine(s: StreamStats): string {
  return `expected=${s.expected} received=${s.received} lost=${s.lost} late=${s.late} duplicated=${s.duplicated} ` +
    `malformed=${s.malformed} auth-failures=${s.authFailures} other-payload=${s.otherPayload} ssrc-changes=${s.ssrcChanges} ` +
    `silence-bytes=${s.silenceBytes} audio-bytes=${s.audioBytes} foreign-source=${s.foreignSource} oversized=${s.oversized} ` +
    `clipped-bytes=${s.clippedBytes}`;
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
    ['codec', f.codec],
    ['audio-files', f.audioFiles.join(' ')],
    ['metadata-files', f.metadataFiles.join(' ')],
    ['end-reason', f.endReason],
    ['interrupted', f.interrupted ? 'yes' : 'no'],
  ];
  if (f.interrupted) rows.push(['last-packet', f.lastPacketAtMs !== undefined ? isoWithOffset(f.lastPacketAtMs, tz) : '']);
  f.participants.forEach((p, i) => {
    rows.push([`participant-${i + 1}`, `number=${p.number} name=${p.name} aor=${p.aor}`]);
  });
  for (const s of f.streams) {
    rows.push([`stream-${s.role}`, `label=${s.label} codec=${s.codec}`]);
    rows.push([`stats-${s.role}`, statsLine(s.stats)]);
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
  return rows.map(([k, v]) => `${k}: ${escapeValue(v)}`).join('\n') + '\n';
}

/** Reads a metadata file back into key/value pairs (repeated keys keep every value). */
export function parseInfo(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i <= 0) continue;
    const key = line.slice(0, i);
    const list = out.get(key) ?? [];
    list.push(line.slice(i + 2));
    out.set(key, list);
  }
  return out;
}
