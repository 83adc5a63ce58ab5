/**
 * The chain walk of the verifier: each recording's signature with the key trusted for its epoch,
 * every epoch running from genesis through consecutive sequence numbers with each link naming its
 * predecessor's base name and signature, the heads that signed checkpoints name, and the heads the
 * tree must reach (deleting the newest recordings shows). This module reads no file and decides no
 * trust: it takes the recordings found and the keys trusted.
 */
import { verify as rsaVerify } from 'node:crypto';
import { checkpointSignedBy, type Checkpoint, type CheckpointFile } from './checkpoint.ts';
import { GENESIS } from './sealer.ts';
import type { SealedEntry } from './verify-recording.ts';
import type { EpochChains, EpochKey } from './verify-trust.ts';
import type { EpochSummary, Findings } from './verify-report.ts';

/** The chain head an installation recorded: the tree must reach it (deleting the newest recordings shows). */
export interface ExpectedHead {
  readonly epoch: number;
  readonly sequence: number;
  readonly base?: string | undefined;
}

/**
 * Checks each recording's signature with the one trusted key of its epoch. Recordings of an epoch
 * without a trusted key, and those whose signature fails, are added to `broken`.
 */
export function checkSignatures(byEpoch: EpochChains, keys: ReadonlyMap<number, EpochKey>, findings: Findings, broken: Set<SealedEntry>): void {
  for (const [epoch, list] of byEpoch) {
    const t = keys.get(epoch);
    if (!t) {
      for (const e of list) broken.add(e);
      continue;
    }
    for (const e of list) {
      // A deleted recording's signature was checked when it was sealed; its record is checked instead.
      if (e.signature === '' || e.deleted === true) continue;
      if (!rsaVerify('sha256', Buffer.from(e.hashText, 'utf8'), t.key, Buffer.from(e.signature, 'base64'))) {
        findings.add({ kind: 'bad-signature', recording: e.rel, file: e.signatureFile, message: `the signature does not verify with the trusted epoch-${epoch} key (certificate ${t.certificateSha256})` });
        broken.add(e);
      }
    }
  }
}

/** The links of one epoch after its first recording: no gap, no duplicate, each naming its predecessor. */
function checkLinks(epoch: number, list: readonly SealedEntry[], findings: Findings): void {
  for (let i = 1; i < list.length; i++) {
    const prev = list[i - 1];
    const cur = list[i];
    if (!prev || !cur) continue;
    if (cur.sequence === prev.sequence) {
      findings.add({ kind: 'duplicate-sequence', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} and ${prev.base} both claim position ${cur.sequence}` });
      continue;
    }
    if (cur.sequence !== prev.sequence + 1) {
      findings.add({ kind: 'missing-link', recording: cur.rel, message: `epoch ${epoch}: ${cur.sequence - prev.sequence - 1} recording(s) missing between ${prev.base} (#${prev.sequence}) and ${cur.base} (#${cur.sequence}); ${cur.base} names ${cur.previousRecording} as its predecessor` });
      continue;
    }
    if (cur.previousRecording !== prev.base || cur.previousSignature !== prev.signature) {
      findings.add({ kind: 'replaced-link', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} (#${cur.sequence}) names ${cur.previousRecording} as its predecessor, but #${prev.sequence} is ${prev.base} with another signature` });
    }
    if (cur.sealedAtMs < prev.sealedAtMs) {
      findings.add({ kind: 'order', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} (#${cur.sequence}) was sealed before its predecessor ${prev.base}` });
    }
  }
}

/** Walks every epoch in ascending order from its genesis; returns what each epoch holds. */
export function walkChains(byEpoch: EpochChains, keys: ReadonlyMap<number, EpochKey>, findings: Findings): EpochSummary[] {
  const epochs: EpochSummary[] = [];
  for (const [epoch, list] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    const first = list[0];
    if (!first) continue;
    epochs.push({ epoch, first: first.sequence, last: list[list.length - 1]?.sequence ?? 0, count: list.filter((e) => e.deleted !== true).length });
    const t = keys.get(epoch);
    if (first.sequence !== 1) {
      findings.add({ kind: 'missing-link', recording: first.rel, message: `epoch ${epoch}: recordings 1..${first.sequence - 1} before ${first.base} are missing` });
    } else if (first.previousRecording !== GENESIS || first.previousSignature !== `public-key-sha256:${first.publicKeySha256}` || (t !== undefined && t.publicKeySha256 !== first.publicKeySha256)) {
      findings.add({ kind: 'bad-genesis', recording: first.rel, message: `epoch ${epoch}: the first recording does not name the trusted key as genesis` });
    }
    checkLinks(epoch, list, findings);
  }
  return epochs;
}

/**
 * Checks the signed checkpoints (E8): each must be signed by the trusted key of its epoch, and the
 * recording at the head it names must be that one. Returns the heads they name and the latest.
 */
export function checkCheckpoints(checkpoints: readonly CheckpointFile[], byEpoch: EpochChains, keys: ReadonlyMap<number, EpochKey>, findings: Findings): { heads: ExpectedHead[]; latest: Checkpoint | undefined } {
  const heads: ExpectedHead[] = [];
  let latest: Checkpoint | undefined;
  for (const c of checkpoints) {
    const cp = c.checkpoint;
    const t = cp ? keys.get(cp.chainEpoch) : undefined;
    if (!cp || !t || !checkpointSignedBy(c, [t.key])) {
      findings.add({ kind: 'bad-checkpoint', recording: '-', file: c.file, message: cp ? `the checkpoint is not signed by the trusted epoch-${cp.chainEpoch} key` : 'not a checkpoint' });
      continue;
    }
    latest = cp;
    if (cp.chainHeadSequence > 0) {
      heads.push({ epoch: cp.chainEpoch, sequence: cp.chainHeadSequence, base: cp.chainHeadRecording });
      const at = byEpoch.get(cp.chainEpoch)?.find((x) => x.sequence === cp.chainHeadSequence);
      if (at && (at.base !== cp.chainHeadRecording || at.signature !== cp.chainHeadSignature)) {
        findings.add({ kind: 'replaced-link', recording: at.rel, file: c.file, message: `epoch ${cp.chainEpoch}: #${cp.chainHeadSequence} is ${at.base} with another signature than the signed checkpoint names (${cp.chainHeadRecording})` });
      }
    }
  }
  return { heads, latest };
}

/**
 * The newest recordings of an epoch have no successor, so their deletion shows only against a known
 * head: each epoch must reach the highest head named for it (reported once per epoch).
 */
export function checkTails(heads: readonly ExpectedHead[], epochs: readonly EpochSummary[], findings: Findings): void {
  const reported = new Set<number>();
  for (const h of [...heads].sort((a, b) => b.sequence - a.sequence)) {
    const last = epochs.find((e) => e.epoch === h.epoch)?.last ?? 0;
    if (last < h.sequence && !reported.has(h.epoch)) {
      reported.add(h.epoch);
      findings.add({ kind: 'missing-tail', recording: h.base ?? `epoch ${h.epoch}`, message: `epoch ${h.epoch}: the chain head is #${h.sequence}${h.base ? ` (${h.base})` : ''}, but the newest recording found is #${last}: ${h.sequence - last} recording(s) missing at the end` });
    }
  }
}
