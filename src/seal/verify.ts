/**
 * Verifies a folder tree of sealed recordings without callseal's database (E6 +): each hash file
 * against its files (`verify-recording.ts`), each signature against the key trusted for its epoch
 * (pinned, or linked by rollover records: invariant 7, `verify-trust.ts`), signed checkpoints, and
 * the chain: every epoch must run from genesis through consecutive sequence numbers, each link
 * naming its predecessor's base name and signature (`verify-chain.ts`). What it finds is reported
 * as in `verify-report.ts`. Works on a copy taken off an archive target; writes nothing.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readCheckpoints } from './checkpoint.ts';
import { readDeletionRecords } from './deletion.ts';
import { applyDeletions, deletionClaims, namedAfter } from './verify-deletions.ts';
import { HASH_SUFFIX } from './sealer.ts';
import { checkCheckpoints, checkSignatures, checkTails, walkChains, type ExpectedHead } from './verify-chain.ts';
import { checkSealedRecording, type SealedEntry } from './verify-recording.ts';
import { Findings, type DeletedRecording, type VerifyReport } from './verify-report.ts';
import { resolveTrust, type VerifyTrust } from './verify-trust.ts';

export { FINDING_KINDS, Findings, renderReport, type DeletedRecording, type EpochSummary, type Finding, type FindingKind, type TrustedKey, type VerifyReport } from './verify-report.ts';
export { verifyRecording, type RecordingCheck } from './verify-recording.ts';
export { certificatesInFolder, loadCertificates, type CertificateKey, type VerifyTrust } from './verify-trust.ts';
export type { ExpectedHead } from './verify-chain.ts';

/** Every file of the tree, relative to its root. */
async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...await walk(root, p));
    else out.push(p);
  }
  return out;
}

/**
 * Files of a tree that belong to no recording by design: the chain's own records, and what
 * callseal and the verification kit put at the top (certificates, verify.sh, the kit's README).
 */
function isTreeFile(rel: string): boolean {
  return rel.startsWith('chain/') || (!rel.includes('/') && (/\.pem$/.test(rel) || rel === 'verify.sh' || /^README/i.test(rel)));
}

/** Groups the recordings by chain epoch, each epoch sorted by sequence; one without a chain link is a finding. */
function groupByEpoch(entries: readonly SealedEntry[], findings: Findings, broken: Set<SealedEntry>): Map<number, SealedEntry[]> {
  const byEpoch = new Map<number, SealedEntry[]>();
  for (const e of entries) {
    if (!Number.isInteger(e.epoch) || !Number.isInteger(e.sequence) || e.sequence < 1) {
      findings.add({ kind: 'unreadable', recording: e.rel, message: 'metadata file has no chain link' });
      broken.add(e);
      continue;
    }
    const list = byEpoch.get(e.epoch) ?? [];
    list.push(e);
    byEpoch.set(e.epoch, list);
  }
  for (const list of byEpoch.values()) list.sort((a, b) => a.sequence - b.sequence);
  return byEpoch;
}

/**
 * Verifies every recording under `root`. Trust (invariant 7): the keys given in `trust` are pinned;
 * without them the first epoch's key is taken from the tree, unpinned, and the report says so. Every
 * further epoch's key must be linked by a rollover record (signed by the old key, or by the new key
 * back to the old one); a certificate no link reaches is a finding, never a trust anchor. `heads`
 * are chain heads known from outside the tree, which it must reach.
 */
export async function verifyTree(root: string, trust: VerifyTrust = {}, heads: readonly ExpectedHead[] = []): Promise<VerifyReport> {
  const findings = new Findings();
  const entries: SealedEntry[] = [];
  const allFiles = (await walk(root)).sort();
  const hashFiles = allFiles.filter((f) => f.endsWith(HASH_SUFFIX));
  const sealedFiles = new Set<string>();
  for (const hf of hashFiles) {
    const { claimed, entry } = await checkSealedRecording(root, hf, findings);
    for (const f of claimed) sealedFiles.add(f);
    if (entry) entries.push(entry);
  }

  // A file that no hash file names (a recording put into the tree without its seal) is a finding,
  // reported once the deletion records are checked: what a deletion cut off half-way left of a
  // recording with a valid record is named with it instead.
  const unsealed = allFiles.filter((f) => !sealedFiles.has(f) && !isTreeFile(f));

  const broken = new Set<SealedEntry>();
  const byEpoch = groupByEpoch(entries, findings, broken);
  const checkpoints = readCheckpoints(root);
  const deletionFiles = readDeletionRecords(root);
  let deleted: DeletedRecording[] = [];
  const keys = await resolveTrust(root, trust, byEpoch, checkpoints, findings, {
    claims: deletionClaims(deletionFiles),
    withKeys: (k) => { deleted = applyDeletions(deletionFiles, byEpoch, k, findings); },
  });
  for (const f of unsealed) {
    if (deleted.some((d) => namedAfter(f, d.base))) continue;
    findings.add({ kind: 'unlisted-file', recording: f.replace(/(_info\.txt|_metadata-v\d+\.xml|\.[A-Za-z0-9]+)$/, ''), file: f.split('/').pop() ?? f, message: `${f} is not part of any sealed recording (no hash file lists it)` });
  }
  checkSignatures(byEpoch, keys.keys, findings, broken);
  const epochs = walkChains(byEpoch, keys.keys, findings);
  const signed = checkCheckpoints(checkpoints, byEpoch, keys.keys, findings);
  checkTails([...heads, ...signed.heads], epochs, findings);

  return {
    folder: root, recordings: hashFiles.length, verified: entries.filter((e) => e.intact && !broken.has(e)).length, epochs,
    interrupted: entries.filter((e) => e.interrupted).map((e) => e.rel),
    deleted,
    certificates: keys.certificates,
    trust: {
      pinned: keys.pinned, pins: keys.pins,
      keys: [...keys.keys.values()].sort((a, b) => a.epoch - b.epoch).map((k) => ({ epoch: k.epoch, publicKeySha256: k.publicKeySha256, certificateSha256: k.certificateSha256, file: k.file, source: k.source, detail: k.detail })),
    },
    checkpoints: { count: checkpoints.length, latest: signed.latest },
    findings: findings.list, ok: findings.list.length === 0 && (hashFiles.length > 0 || deleted.length > 0),
  };
}
