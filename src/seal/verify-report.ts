/**
 * What the verifier reports: the catalogue of finding kinds, the collector the checks add to, the
 * report of a tree and its text for people. A new kind of finding is one entry in
 * {@link FINDING_KINDS} (documented in `docs/sealing.md`, which `verify-report.test.ts` checks) and
 * one `findings.add(...)` where it is found. This module does no I/O and decides nothing.
 */
import type { Checkpoint } from './checkpoint.ts';

/** Every kind of finding with a one-line meaning; a kind is stable, scripts match on it. */
export const FINDING_KINDS = {
  'altered-file': 'A file listed in the hash file does not match its SHA-256.',
  'missing-file': 'A file listed in the hash file, the signature file, or the metadata file in the hash file is missing.',
  'unlisted-file': 'A file belongs to a recording by name, or lies in the tree, but no hash file seals it.',
  'bad-signature': 'A signature file is empty, or the signature does not verify with the trusted key of its epoch.',
  'unreadable': 'A hash file cannot be read, or a metadata file carries no chain link.',
  'missing-link': 'Recordings are missing at the start of an epoch or between two recordings of the chain.',
  'replaced-link': 'A recording names another predecessor than the one found, or is not the head a rollover record or checkpoint names.',
  'duplicate-sequence': 'Two recordings claim the same position in one epoch.',
  'order': 'A recording was sealed before its predecessor.',
  'bad-genesis': 'The first recording of an epoch does not name the trusted key as genesis.',
  'missing-tail': 'An epoch ends before the chain head that a rollover record, a checkpoint or a given head names.',
  'untrusted-key': 'An epoch\'s key is reached by no pin and no rollover record, or a pinned fingerprint matches no certificate.',
  'unlinked-certificate': 'A certificate in the tree is linked to the trusted key by no rollover record; it is not a trust anchor.',
  'key-chain': 'A rollover record is missing or unsigned, the first epoch is above 1 without a rollover chain, or an old epoch goes on after its rollover.',
  'bad-checkpoint': 'A checkpoint is not signed by the trusted key of its epoch, or is not a checkpoint.',
  'audit-rewritten': 'The audit trail in the database does not match its own hash chain or the head in the signed checkpoints.',
  'bad-deletion-record': 'A deletion record is not signed by the trusted key of the epoch it names, or is not a deletion record; the recording it names counts as missing.',
} as const;

/** The kinds of problem the verifier reports. */
export type FindingKind = keyof typeof FINDING_KINDS;

/** One problem, naming the recording and file. */
export interface Finding {
  readonly kind: FindingKind;
  /** Path of the recording's base, relative to the verified folder. */
  readonly recording: string;
  readonly file?: string;
  readonly message: string;
}

/** The findings of one verification, in the order the checks found them (the report keeps it). */
export class Findings {
  readonly #list: Finding[] = [];

  /** Adds one finding. */
  add(finding: Finding): void {
    this.#list.push(finding);
  }

  /** Every finding so far. */
  get list(): readonly Finding[] {
    return this.#list;
  }
}

/** A key the verifier trusted for one chain epoch, and why (invariant 7). */
export interface TrustedKey {
  readonly epoch: number;
  readonly publicKeySha256: string;
  /** SHA-256 fingerprint of the certificate (DER), colon-separated as openssl prints it. */
  readonly certificateSha256: string;
  readonly file: string;
  /** `pinned`: given with --cert/--fingerprint; `tree`: the first key, taken unpinned from the tree; `rollover`: linked by a rollover record. */
  readonly source: 'pinned' | 'tree' | 'rollover';
  readonly detail: string;
}

/** One chain epoch as found: its first and last sequence number and how many recordings it holds. */
export interface EpochSummary {
  readonly epoch: number;
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

/** A recording deleted by retention, accounted for by its valid, signed deletion record (F6). */
export interface DeletedRecording {
  /** Folder and base name as the record names them. */
  readonly recording: string;
  readonly base: string;
  readonly epoch: number;
  readonly sequence: number;
  readonly deletedAtMs: number;
  readonly reason: string;
  /** The retention that expired, e.g. `5 years`. */
  readonly retention: string;
  /** The record, relative to the verified folder. */
  readonly file: string;
  /** Its files are still in the tree (the deletion has not finished). */
  readonly stillPresent: boolean;
}

/** The result of a verification. */
export interface VerifyReport {
  readonly folder: string;
  readonly recordings: number;
  readonly verified: number;
  readonly epochs: readonly EpochSummary[];
  readonly interrupted: readonly string[];
  /** Recordings deleted by retention, each with its valid deletion record. */
  readonly deleted: readonly DeletedRecording[];
  /** Certificates found in the tree and given with --cert; `trusted` only when linked to the trust anchor. */
  readonly certificates: readonly { readonly file: string; readonly publicKeySha256: string; readonly certificateSha256: string; readonly trusted: boolean }[];
  readonly trust: { readonly pinned: boolean; readonly pins: readonly string[]; readonly keys: readonly TrustedKey[] };
  readonly checkpoints: { readonly count: number; readonly latest: Checkpoint | undefined };
  readonly findings: readonly Finding[];
  readonly ok: boolean;
}

function trustedKeyLine(k: TrustedKey): string {
  const why = k.source === 'rollover' ? `${k.detail} (not pinned itself)` : k.detail;
  return `  trusted key, epoch ${k.epoch}: certificate SHA-256 ${k.certificateSha256} (public key sha256 ${k.publicKeySha256}), ${k.file}: ${why}`;
}

function checkpointLine(r: VerifyReport): string {
  const latest = r.checkpoints.latest;
  const detail = latest
    ? `, latest ${new Date(latest.createdAtMs).toISOString()}: chain epoch ${latest.chainEpoch} #${latest.chainHeadSequence}, audit trail #${latest.auditHeadSequence} ${latest.auditHeadSha256}`
    : '';
  return `  signed checkpoints: ${r.checkpoints.count}${detail}`;
}

/** One deleted recording as the report names it. */
export function deletionLine(d: DeletedRecording): string {
  const day = new Date(d.deletedAtMs).toISOString().slice(0, 10);
  const why = d.reason === 'retention-expired' ? `deleted by retention on ${day} (${d.retention})` : `deleted on ${day} (${d.reason})`;
  return `${d.recording} (epoch ${d.epoch} #${d.sequence}): ${why}, ${d.file}${d.stillPresent ? '; its files are still here (the deletion has not finished)' : ''}`;
}

/** Renders a report as text for people. */
export function renderReport(r: VerifyReport): string {
  const lines = [
    `callseal verify ${r.folder}`,
    ...(r.trust.keys.length === 0 ? ['  trusted key: none'] : r.trust.keys.map(trustedKeyLine)),
    `  pinned: ${r.trust.pinned ? `yes, ${r.trust.pins.join('; ') || 'no pinned key matched'}` : 'no (not pinned: give --fingerprint from the printed certificate, or --cert)'}`,
    `  recordings: ${r.recordings}, intact and signed: ${r.verified}`,
    ...r.epochs.map((e) => `  chain epoch ${e.epoch}: #${e.first}..#${e.last}, ${e.count} recording(s)`),
    checkpointLine(r),
  ];
  if (r.deleted.length > 0) lines.push(`  deleted by retention (signed deletion records): ${r.deleted.length}`, ...r.deleted.map((d) => `    ${deletionLine(d)}`));
  if (r.interrupted.length > 0) lines.push(`  interrupted recordings (sealed after a crash): ${r.interrupted.length}`, ...r.interrupted.map((i) => `    ${i}`));
  if (r.findings.length === 0) lines.push(r.recordings > 0 || r.deleted.length > 0 ? '  OK: every file, signature and chain link holds' : '  no recordings found');
  else {
    lines.push(`  FINDINGS: ${r.findings.length}`);
    for (const f of r.findings) lines.push(`    [${f.kind}] ${f.recording}${f.file !== undefined ? ` (${f.file})` : ''}: ${f.message}`);
  }
  return lines.join('\n') + '\n';
}
