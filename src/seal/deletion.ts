/**
 * Deletion records (F6): before retention deletes a recording, callseal writes a signed record of
 * it into `chain/deletions/<year>/<base>.txt` in the recordings tree, with `.sig` (base64 RSA
 * SHA-256 by the current key, checked like a checkpoint with `openssl dgst -sha256 -verify`). It
 * names the recording, its chain position, signature and hash file, its predecessor's link, the
 * setting, the retention and why it went. The verifiers then tell a recording deleted by retention
 * (a valid record) from one that is missing (none, or a record with a bad signature), and the chain
 * stays checkable across it: the successor's link must name exactly the recording the record names.
 * A record removed from the tree only turns the deletion back into a gap, so the records need no
 * chain of their own. This module writes and reads records; it does not decide trust.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath } from '../common/fsync.ts';
import { writeDurable } from '../recording/index.ts';
import { parseFields } from './checkpoint.ts';
import type { KeyStore } from './keystore.ts';
import { CHAIN_DIR } from './rollover.ts';

/** Folder of the deletion records, relative to the recordings root. */
export const DELETION_DIR = `${CHAIN_DIR}/deletions`;
/** Suffix of a deletion record's signature. */
export const DELETION_SIG = '.sig';
/** The one reason callseal deletes a recording by itself. */
export const RETENTION_EXPIRED = 'retention-expired';

/** What a deletion record states. */
export interface DeletionRecord {
  readonly recording: string;
  readonly recordingId: string;
  /** Folder of the recording, relative to the recordings root. */
  readonly folder: string;
  readonly chainEpoch: number;
  readonly chainSequence: number;
  /** The recording's signature (base64), as its successor's `previous-signature` names it. */
  readonly signature: string;
  readonly hashFileSha256: string;
  readonly previousRecording: string;
  readonly previousSignature: string;
  readonly sealedAtMs: number;
  /** The key the recording was signed with. */
  readonly recordingPublicKeySha256: string;
  readonly startMs: number;
  readonly setting: string;
  /** e.g. `5 years`. */
  readonly retention: string;
  readonly retainUntilMs: number;
  readonly deletedAtMs: number;
  readonly reason: string;
  /** Chain epoch and key of the signature on the record (the key current at deletion). */
  readonly signerEpoch: number;
  readonly publicKeySha256: string;
}

/** A deletion record as found in the tree. */
export interface DeletionFile {
  /** Path relative to the recordings root. */
  readonly file: string;
  readonly text: string;
  readonly signature: string | undefined;
  readonly record: DeletionRecord | undefined;
}

// One line per value: control characters (a line break in a setting name) become spaces.
// eslint-disable-next-line no-control-regex -- removing control characters is the point.
const oneLine = (v: string): string => v.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');

/** Renders a deletion record as the signed text. */
export function renderDeletion(d: DeletionRecord): string {
  const rows: [string, string][] = [
    ['format', 'callseal-deletion 1'],
    ['recording', d.recording],
    ['recording-id', d.recordingId],
    ['folder', d.folder],
    ['chain-epoch', String(d.chainEpoch)],
    ['chain-sequence', String(d.chainSequence)],
    ['signature', d.signature],
    ['hash-file-sha256', d.hashFileSha256],
    ['previous-recording', d.previousRecording],
    ['previous-signature', d.previousSignature],
    ['sealed-at-ms', String(d.sealedAtMs)],
    ['recording-public-key-sha256', d.recordingPublicKeySha256],
    ['start', new Date(d.startMs).toISOString()],
    ['start-ms', String(d.startMs)],
    ['setting', d.setting],
    ['retention', d.retention],
    ['retain-until', new Date(d.retainUntilMs).toISOString()],
    ['retain-until-ms', String(d.retainUntilMs)],
    ['deleted-at', new Date(d.deletedAtMs).toISOString()],
    ['deleted-at-ms', String(d.deletedAtMs)],
    ['reason', d.reason],
    ['signer-epoch', String(d.signerEpoch)],
    ['public-key-sha256', d.publicKeySha256],
  ];
  return rows.map(([k, v]) => `${k}: ${oneLine(v)}`).join('\n') + '\n';
}

/** Parses a deletion record; undefined when it is not one. */
export function parseDeletion(text: string): DeletionRecord | undefined {
  const f = parseFields(text);
  if (f.get('format') !== 'callseal-deletion 1') return undefined;
  const num = (k: string): number => Number(f.get(k) ?? 'x');
  const str = (k: string): string => f.get(k) ?? '';
  const d: DeletionRecord = {
    recording: str('recording'), recordingId: str('recording-id'), folder: str('folder'), chainEpoch: num('chain-epoch'), chainSequence: num('chain-sequence'),
    signature: str('signature'), hashFileSha256: str('hash-file-sha256'), previousRecording: str('previous-recording'), previousSignature: str('previous-signature'),
    sealedAtMs: num('sealed-at-ms'), recordingPublicKeySha256: str('recording-public-key-sha256'), startMs: num('start-ms'), setting: str('setting'),
    retention: str('retention'), retainUntilMs: num('retain-until-ms'), deletedAtMs: num('deleted-at-ms'), reason: str('reason'),
    signerEpoch: num('signer-epoch'), publicKeySha256: str('public-key-sha256'),
  };
  const ints = [d.chainEpoch, d.chainSequence, d.sealedAtMs, d.startMs, d.retainUntilMs, d.deletedAtMs, d.signerEpoch];
  return ints.every(Number.isInteger) && d.recording !== '' && d.signature !== '' ? d : undefined;
}

/** Path (relative to the recordings root) of the record of a recording deleted at `deletedAtMs`. */
export function deletionFile(recording: string, deletedAtMs: number): string {
  return `${DELETION_DIR}/${new Date(deletedAtMs).getUTCFullYear()}/${recording}.txt`;
}

/**
 * Signs and writes a deletion record (fsynced, with its folder) before anything is deleted: a crash
 * after this leaves a recording with a record, never a recording gone without one. Returns its
 * path relative to the recordings root.
 */
export async function writeDeletionRecord(recordingsRoot: string, keys: KeyStore, d: Omit<DeletionRecord, 'signerEpoch' | 'publicKeySha256'>): Promise<string> {
  const record: DeletionRecord = { ...d, signerEpoch: keys.epoch, publicKeySha256: keys.spkiSha256 };
  const text = renderDeletion(record);
  const rel = deletionFile(d.recording, d.deletedAtMs);
  const path = join(recordingsRoot, rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeDurable(path, text);
  await writeDurable(`${path}${DELETION_SIG}`, `${keys.sign(Buffer.from(text, 'utf8')).toString('base64')}\n`);
  await fsyncPath(join(path, '..'));
  return rel;
}

/** Every deletion record under `<root>/chain/deletions/`, by year, then name. */
export function readDeletionRecords(root: string): DeletionFile[] {
  const dir = join(root, DELETION_DIR);
  if (!existsSync(dir)) return [];
  const out: DeletionFile[] = [];
  for (const y of readdirSync(dir).filter((n) => /^\d{4}$/.test(n)).sort()) {
    for (const n of readdirSync(join(dir, y)).filter((x) => x.endsWith('.txt')).sort()) {
      const file = `${DELETION_DIR}/${y}/${n}`;
      const text = readFileSync(join(root, file), 'utf8');
      let signature: string | undefined;
      try {
        signature = readFileSync(join(root, `${file}${DELETION_SIG}`), 'utf8').trim();
      } catch {
        signature = undefined;
      }
      out.push({ file, text, signature, record: parseDeletion(text) });
    }
  }
  return out;
}
