/**
 * Which key the verifier trusts for each chain epoch (invariant 7): keys pinned from outside the
 * tree, then the rollover records followed both ways from a trusted key, and only without any pin
 * the first epoch's key taken from the tree (unpinned, and the report says so). It also checks the
 * key chain itself: every epoch after the first needs a rollover record signed by the old key, and
 * the old epoch must end at the head that record names. A certificate found in the tree is a
 * candidate, never a trust anchor by being there. This module checks no recording's signature.
 */
import { X509Certificate, createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseFields, type CheckpointFile } from './checkpoint.ts';
import { spkiSha256 } from './keystore.ts';
import { CHAIN_DIR, NEW_KEY_SIG, OLD_KEY_SIG, rolloverFile } from './rollover.ts';
import type { SealedEntry } from './verify-recording.ts';
import type { Findings, TrustedKey, VerifyReport } from './verify-report.ts';

/** A certificate's public key and fingerprints. */
export interface CertificateKey {
  readonly file: string;
  readonly key: KeyObject;
  readonly spki: string;
  /** Colon-separated SHA-256 of the certificate (DER). */
  readonly fingerprint: string;
}

/** Loads public keys from certificate files (PEM; the leaf of a bundle). */
export async function loadCertificates(files: readonly string[]): Promise<CertificateKey[]> {
  const out: CertificateKey[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    // Only the leaf of a bundle signs recordings.
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
    if (!pem) continue;
    const key = createPublicKey(pem);
    out.push({ file, key, spki: spkiSha256(key), fingerprint: new X509Certificate(pem).fingerprint256 });
  }
  return out;
}

/**
 * Certificates left in the tree: `callseal-cert*.pem` in the root and `chain/*.pem`. Candidates
 * only: none of them is trusted because it is there (invariant 7).
 */
export async function certificatesInFolder(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const chain = await readdir(join(root, CHAIN_DIR)).catch(() => [] as string[]);
  return [
    ...names.filter((n) => /^callseal-cert.*\.pem$/.test(n)).sort().map((n) => join(root, n)),
    ...chain.filter((n) => n.endsWith('.pem')).sort().map((n) => join(root, CHAIN_DIR, n)),
  ];
}

/** What the auditor trusts, given from outside the tree. */
export interface VerifyTrust {
  /** Certificates given with --cert: their keys are pinned. */
  readonly pinnedCertificates?: readonly CertificateKey[];
  /** Fingerprints given with --fingerprint: certificate SHA-256 or public key SHA-256, hex with or without colons. */
  readonly fingerprints?: readonly string[];
}

/** The recordings found per chain epoch, each list sorted by sequence number. */
export type EpochChains = ReadonlyMap<number, readonly SealedEntry[]>;

/** A key trusted for one epoch, with the key itself to check signatures. */
export interface EpochKey extends TrustedKey {
  readonly key: KeyObject;
}

/** The keys trusted per epoch, and what the report says about trust and certificates. */
export interface TrustResult {
  readonly keys: ReadonlyMap<number, EpochKey>;
  readonly pinned: boolean;
  readonly pins: readonly string[];
  readonly certificates: VerifyReport['certificates'];
}

const normHex = (s: string): string => s.replace(/[:\s]/g, '').toLowerCase();

interface Rollover {
  readonly epoch: number;
  readonly file: string;
  readonly fields: Map<string, string>;
  readonly text: string;
  readonly oldSig: string | undefined;
  readonly newSig: string | undefined;
}

async function readRollovers(root: string): Promise<Map<number, Rollover>> {
  const out = new Map<number, Rollover>();
  const names = await readdir(join(root, CHAIN_DIR)).catch(() => [] as string[]);
  for (const n of names) {
    const m = /^rollover-epoch(\d+)\.txt$/.exec(n);
    if (!m) continue;
    const file = `${CHAIN_DIR}/${n}`;
    const text = await readFile(join(root, file), 'utf8');
    const opt = async (p: string): Promise<string | undefined> => (await readFile(join(root, p), 'utf8').catch(() => undefined))?.trim();
    out.set(Number(m[1]), { epoch: Number(m[1]), file, fields: parseFields(text), text, oldSig: await opt(`${file}${OLD_KEY_SIG}`), newSig: await opt(`${file}${NEW_KEY_SIG}`) });
  }
  return out;
}

const signedBy = (text: string, sig: string | undefined, key: KeyObject): boolean =>
  sig !== undefined && sig !== '' && rsaVerify('sha256', Buffer.from(text, 'utf8'), key, Buffer.from(sig, 'base64'));

/** What the steps of trust resolution share. */
interface TrustContext {
  readonly root: string;
  readonly byEpoch: EpochChains;
  readonly rollovers: ReadonlyMap<number, Rollover>;
  readonly checkpoints: readonly CheckpointFile[];
  /** Every certificate known: the pinned ones first, then the tree's. */
  readonly all: readonly CertificateKey[];
  readonly trusted: Map<number, EpochKey>;
  readonly findings: Findings;
  readonly claims: ReadonlyMap<number, string>;
}

/** What other signed records of the tree add to trust resolution. */
export interface TrustExtras {
  /** Keys that deletion records claim per epoch: claims only, like a genesis link, never trust. */
  readonly claims?: ReadonlyMap<number, string>;
  /**
   * Called once every key is known and before the key chain is checked: records signed by those
   * keys (deletion records) may then put deleted recordings into the chains the key chain checks.
   */
  readonly withKeys?: (keys: ReadonlyMap<number, EpochKey>) => void;
}

/** The certificate with this public key, preferring the one with the given fingerprint. */
function bySpki(c: TrustContext, spki: string, preferFp?: string): CertificateKey | undefined {
  return c.all.find((x) => x.spki === spki && (preferFp === undefined || normHex(x.fingerprint) === preferFp)) ?? c.all.find((x) => x.spki === spki);
}

function setTrust(c: TrustContext, epoch: number, cert: CertificateKey, source: TrustedKey['source'], detail: string): void {
  const rel = relative(c.root, cert.file);
  c.trusted.set(epoch, { epoch, publicKeySha256: cert.spki, certificateSha256: cert.fingerprint, file: rel.startsWith('..') ? cert.file : rel, source, detail, key: cert.key });
}

/** The key each epoch claims: its rollover record, else its genesis recording, else the next rollover's "previous". */
function claimedKey(c: TrustContext, epoch: number): string | undefined {
  const r = c.rollovers.get(epoch)?.fields.get('public-key-sha256');
  if (r) return r;
  const first = c.byEpoch.get(epoch)?.[0];
  if (first?.sequence === 1 && first.previousSignature.startsWith('public-key-sha256:')) return first.previousSignature.slice('public-key-sha256:'.length);
  const next = c.rollovers.get(epoch + 1)?.fields.get('previous-public-key-sha256');
  if (next) return next;
  if (first?.publicKeySha256) return first.publicKeySha256;
  return c.checkpoints.find((x) => x.checkpoint?.chainEpoch === epoch)?.checkpoint?.publicKeySha256 || c.claims.get(epoch);
}

/** Every epoch the tree names: by its recordings, its rollover records or its checkpoints, ascending. */
function epochsNamed(c: TrustContext): number[] {
  const epochSet = new Set<number>(c.byEpoch.keys());
  for (const r of c.rollovers.values()) {
    epochSet.add(r.epoch);
    const pe = Number(r.fields.get('previous-epoch'));
    if (Number.isInteger(pe) && pe > 0) epochSet.add(pe);
  }
  // Checkpoints name the epoch and key of a chain that may hold no recording yet.
  for (const x of c.checkpoints) if (x.checkpoint && x.checkpoint.chainEpoch > 0) epochSet.add(x.checkpoint.chainEpoch);
  for (const e of c.claims.keys()) if (e > 0) epochSet.add(e);
  return [...epochSet].sort((a, b) => a - b);
}

/** Follows the rollover records both ways from the trusted keys until nothing changes. */
function followRollovers(c: TrustContext): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const r of c.rollovers.values()) {
      const prevEpoch = Number(r.fields.get('previous-epoch'));
      const newSpki = r.fields.get('public-key-sha256') ?? '';
      const oldSpki = r.fields.get('previous-public-key-sha256') ?? '';
      const older = c.trusted.get(prevEpoch);
      const newer = c.trusted.get(r.epoch);
      if (older && !newer && older.publicKeySha256 === oldSpki && signedBy(r.text, r.oldSig, older.key)) {
        const cert = bySpki(c, newSpki, normHex(r.fields.get('certificate-sha256') ?? ''));
        if (cert) {
          setTrust(c, r.epoch, cert, 'rollover', `linked by ${r.file}, signed by the epoch-${prevEpoch} key`);
          changed = true;
        }
      }
      if (newer && !older && newer.publicKeySha256 === newSpki && signedBy(r.text, r.newSig, newer.key)) {
        const cert = bySpki(c, oldSpki, normHex(r.fields.get('previous-certificate-sha256') ?? ''));
        if (cert) {
          setTrust(c, prevEpoch, cert, 'rollover', `linked by ${r.file}, vouched for by the epoch-${r.epoch} key`);
          changed = true;
        }
      }
    }
  }
}

/** The rollover record into epoch `e`: signed both ways, and the old epoch ending at the head it names. */
function checkRollover(c: TrustContext, e: number, r: Rollover): void {
  const { findings } = c;
  const prevEpoch = Number(r.fields.get('previous-epoch'));
  const older = c.trusted.get(prevEpoch);
  const newer = c.trusted.get(r.epoch);
  const oldSigned = older !== undefined && older.publicKeySha256 === r.fields.get('previous-public-key-sha256') && signedBy(r.text, r.oldSig, older.key);
  if (!oldSigned) {
    const why = r.oldSig === undefined ? `is not signed by the epoch-${prevEpoch} key (${r.fields.get('old-key') ?? 'no old-key signature'})` : `is not signed by the trusted epoch-${prevEpoch} key`;
    // Only a pin of the new key bridges an unsigned rollover.
    if (newer?.source !== 'pinned') findings.add({ kind: 'key-chain', recording: `epoch ${e}`, file: r.file, message: `the rollover record into epoch ${e} ${why}: a break in the key chain; only pinning the epoch-${e} key (--fingerprint) bridges it` });
  }
  if (newer && !signedBy(r.text, r.newSig, newer.key)) {
    findings.add({ kind: 'key-chain', recording: `epoch ${e}`, file: r.file, message: `the rollover record into epoch ${e} is not signed by the epoch-${e} key it names` });
  }
  // The old epoch must end exactly at the head the rollover names.
  const headSeq = Number(r.fields.get('previous-head-sequence'));
  const headBase = r.fields.get('previous-head-recording') ?? '';
  const oldList = c.byEpoch.get(prevEpoch) ?? [];
  const last = oldList[oldList.length - 1];
  if (Number.isInteger(headSeq) && headSeq > 0) {
    const at = oldList.find((x) => x.sequence === headSeq);
    if ((last?.sequence ?? 0) < headSeq) {
      findings.add({ kind: 'missing-tail', recording: headBase, message: `epoch ${prevEpoch}: the rollover record into epoch ${e} names the head #${headSeq} (${headBase}), but the newest recording found is #${last?.sequence ?? 0}: ${headSeq - (last?.sequence ?? 0)} recording(s) missing at the end` });
    } else if (at && (at.base !== headBase || at.signature !== (r.fields.get('previous-head-signature') ?? ''))) {
      findings.add({ kind: 'replaced-link', recording: at.rel, message: `epoch ${prevEpoch}: #${headSeq} is ${at.base} with another signature than the head the rollover record into epoch ${e} names (${headBase})` });
    }
  }
  if (last && Number.isInteger(headSeq) && last.sequence > headSeq) {
    findings.add({ kind: 'key-chain', recording: last.rel, message: `epoch ${prevEpoch}: recordings after #${headSeq}, the head named by the rollover record into epoch ${e}` });
  }
}

/** The key chain: every epoch after the first has a rollover record, signed by the old key. */
function checkKeyChain(c: TrustContext, epochList: readonly number[]): void {
  const firstEpoch = epochList[0];
  if (firstEpoch !== undefined && firstEpoch > 1) {
    c.findings.add({ kind: 'key-chain', recording: `epoch ${firstEpoch}`, message: `the first chain epoch found is epoch ${firstEpoch}, but there is no rollover record chain from epoch 1: epochs 1..${firstEpoch - 1} and their rollover records are missing` });
  }
  for (const e of epochList) {
    if (e === firstEpoch) continue;
    const r = c.rollovers.get(e);
    if (r) checkRollover(c, e, r);
    else c.findings.add({ kind: 'key-chain', recording: `epoch ${e}`, file: `${CHAIN_DIR}/${rolloverFile(e)}`, message: `epoch ${e}: no rollover record from epoch ${e - 1} (${CHAIN_DIR}/${rolloverFile(e)} is missing); the key change is not linked` });
  }
}

/**
 * Decides the key of every epoch. The keys given in `trust` are pinned; without them the first
 * epoch's key is taken from the tree, unpinned. Every further epoch's key must be linked by a
 * rollover record (signed by the old key, or by the new key back to the old one). Problems with
 * pins, the key chain, untrusted epochs and unlinked certificates go to `findings`.
 */
export async function resolveTrust(root: string, trust: VerifyTrust, byEpoch: EpochChains, checkpoints: readonly CheckpointFile[], findings: Findings, extras: TrustExtras = {}): Promise<TrustResult> {
  const candidates = await loadCertificates(await certificatesInFolder(root));
  const pinnedCerts = trust.pinnedCertificates ?? [];
  const fingerprints = (trust.fingerprints ?? []).map(normHex);
  const pinned = pinnedCerts.length > 0 || fingerprints.length > 0;
  const all = [...pinnedCerts, ...candidates];
  const pinnedSpki = new Map<string, { cert: CertificateKey; detail: string }>();
  for (const cert of pinnedCerts) pinnedSpki.set(cert.spki, { cert, detail: `pinned (--cert ${relative(process.cwd(), cert.file) || cert.file})` });
  for (const fp of fingerprints) {
    const cert = all.find((x) => normHex(x.fingerprint) === fp) ?? all.find((x) => x.spki === fp);
    if (cert) pinnedSpki.set(cert.spki, { cert, detail: `pinned (--fingerprint)` });
    else findings.add({ kind: 'untrusted-key', recording: '-', message: `the pinned fingerprint ${fp} matches no certificate given or found in the tree` });
  }

  const c: TrustContext = { root, byEpoch, rollovers: await readRollovers(root), checkpoints, all, trusted: new Map(), findings, claims: extras.claims ?? new Map() };
  const epochList = epochsNamed(c);
  for (const e of epochList) {
    const spki = claimedKey(c, e);
    const p = spki !== undefined ? pinnedSpki.get(spki) : undefined;
    if (p) setTrust(c, e, p.cert, 'pinned', p.detail);
  }
  const firstEpoch = epochList[0];
  if (!pinned && firstEpoch !== undefined) {
    const spki = claimedKey(c, firstEpoch);
    const cert = spki !== undefined ? bySpki(c, spki) : undefined;
    if (cert) setTrust(c, firstEpoch, cert, 'tree', 'NOT PINNED: taken from the tree; compare this fingerprint with the one on the printed certificate (E4) or `callseal keys show`, or pin it with --fingerprint');
  }
  followRollovers(c);
  extras.withKeys?.(c.trusted);
  checkKeyChain(c, epochList);

  for (const e of epochList) {
    if (c.trusted.has(e) || !byEpoch.has(e)) continue;
    const spki = claimedKey(c, e);
    const cert = spki !== undefined ? bySpki(c, spki) : undefined;
    findings.add({
      kind: 'untrusted-key', recording: `epoch ${e}`, message: `epoch ${e}: its key (public key sha256 ${spki ?? 'unknown'}${cert ? `, certificate ${cert.fingerprint} in ${relative(root, cert.file)}` : ', no certificate found'}) is ${pinned ? 'not pinned and not linked to a pinned key' : 'not linked to the first key'} by rollover records; its ${byEpoch.get(e)?.length ?? 0} recording(s) are not trusted`,
    });
  }
  const trustedSpki = new Set([...c.trusted.values()].map((t) => t.publicKeySha256));
  for (const cert of candidates) {
    if (!trustedSpki.has(cert.spki)) findings.add({ kind: 'unlinked-certificate', recording: '-', file: relative(root, cert.file), message: `certificate ${cert.fingerprint} (public key sha256 ${cert.spki}) in the tree is not linked to the trusted key by a rollover record; it is not a trust anchor` });
  }
  return {
    keys: c.trusted,
    pinned,
    pins: [...pinnedSpki.values()].map((p) => `${p.cert.fingerprint} ${p.detail}`),
    certificates: all.map((x) => ({ file: relative(process.cwd(), x.file) || x.file, publicKeySha256: x.spki, certificateSha256: x.fingerprint, trusted: trustedSpki.has(x.spki) })),
  };
}
