/**
 * Deletion records in the verifier (F6): a recording that retention deleted is accounted for by
 * its signed deletion record (`deletion.ts`), and the chain is checked across it as if it were
 * there: the record stands in the chain at the position it names, with the recording's signature
 * and link, so its successor must name exactly that recording and signature. A record must be
 * signed by the trusted key of the epoch it names as signer; one that is not is a finding and
 * accounts for nothing, so the recording counts as missing. Files left of a deleted recording (a
 * removal cut off half-way, resumed by callseal later) are named, not reported as unsealed.
 * This module reads no file and decides no trust.
 */
import { verify as rsaVerify } from 'node:crypto';
import type { DeletionFile, DeletionRecord } from './deletion.ts';
import type { SealedEntry } from './verify-recording.ts';
import type { DeletedRecording, Findings } from './verify-report.ts';
import type { EpochKey } from './verify-trust.ts';

/** The keys deletion records claim per epoch (the signer's and the recording's): claims, never trust. */
export function deletionClaims(files: readonly DeletionFile[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of files) {
    const d = f.record;
    if (!d) continue;
    if (!out.has(d.signerEpoch) && d.publicKeySha256 !== '') out.set(d.signerEpoch, d.publicKeySha256);
    if (!out.has(d.chainEpoch) && d.recordingPublicKeySha256 !== '') out.set(d.chainEpoch, d.recordingPublicKeySha256);
  }
  return out;
}

/** Whether a file of the tree is named after a deleted recording (`<base>_...` or `<base>.…`). */
export function namedAfter(file: string, base: string): boolean {
  const name = file.split('/').pop() ?? file;
  return name.startsWith(`${base}_`) || name.startsWith(`${base}.`);
}

/**
 * Checks each deletion record with the trusted keys and puts each valid one, whose recording is
 * not in the tree, into `byEpoch` at the position it names (lists re-sorted). Returns the deleted
 * recordings, for the report.
 */
export function applyDeletions(files: readonly DeletionFile[], byEpoch: Map<number, SealedEntry[]>, keys: ReadonlyMap<number, EpochKey>, findings: Findings): DeletedRecording[] {
  const out: DeletedRecording[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const d = f.record;
    if (!d) {
      findings.add({ kind: 'bad-deletion-record', recording: '-', file: f.file, message: 'not a deletion record' });
      continue;
    }
    const t = keys.get(d.signerEpoch);
    const valid = t !== undefined && t.publicKeySha256 === d.publicKeySha256 && f.signature !== undefined && f.signature !== ''
      && rsaVerify('sha256', Buffer.from(f.text, 'utf8'), t.key, Buffer.from(f.signature, 'base64'));
    if (!valid) {
      findings.add({
        kind: 'bad-deletion-record', recording: `${d.folder}/${d.recording}`, file: f.file,
        message: `the deletion record is not signed by the trusted epoch-${d.signerEpoch} key${f.signature === undefined ? ' (no signature file)' : ''}: it accounts for nothing, the recording counts as missing`,
      });
      continue;
    }
    const key = `${d.chainEpoch}:${d.chainSequence}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = byEpoch.get(d.chainEpoch) ?? [];
    const present = list.some((e) => e.sequence === d.chainSequence && e.base === d.recording);
    out.push({ recording: `${d.folder}/${d.recording}`, base: d.recording, epoch: d.chainEpoch, sequence: d.chainSequence, deletedAtMs: d.deletedAtMs, reason: d.reason, retention: d.retention, file: f.file, stillPresent: present });
    if (present) continue;
    list.push(standIn(d));
    list.sort((a, b) => a.sequence - b.sequence);
    byEpoch.set(d.chainEpoch, list);
  }
  return out;
}

/** A chain entry for a deleted recording: its link as the record names it, no files. */
function standIn(d: DeletionRecord): SealedEntry {
  return {
    rel: `${d.folder}/${d.recording}`, base: d.recording, hashText: '', signature: d.signature, signatureFile: '', epoch: d.chainEpoch, sequence: d.chainSequence,
    previousRecording: d.previousRecording, previousSignature: d.previousSignature, sealedAtMs: d.sealedAtMs, publicKeySha256: d.recordingPublicKeySha256,
    interrupted: false, intact: true, deleted: true,
  };
}
