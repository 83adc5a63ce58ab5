/**
 * Verifies a folder tree of sealed recordings without callseal's database (E6 +): each hash file
 * against its files, each signature against the key trusted for its epoch (pinned, or linked by
 * rollover records: invariant 7), signed checkpoints, and the chain: every epoch
 * must run from genesis through consecutive sequence numbers, each link naming its predecessor's
 * base name and signature. Works on a copy taken off an archive target.
 */
import { X509Certificate, createHash, createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseInfo } from '../recording/index.ts';
import { parseHashFile, sha256File } from './hashfile.ts';
import { spkiSha256 } from './keystore.ts';
import { GENESIS, HASH_SUFFIX, SIG_SUFFIX } from './sealer.ts';
import { CHAIN_DIR, NEW_KEY_SIG, OLD_KEY_SIG, rolloverFile } from './rollover.ts';
import { checkpointSignedBy, parseFields, readCheckpoints, type Checkpoint } from './checkpoint.ts';

/** The kinds of problem the verifier reports. */
export type FindingKind =
  | 'altered-file' | 'missing-file' | 'unlisted-file' | 'bad-signature' | 'unreadable'
  | 'missing-link' | 'replaced-link' | 'duplicate-sequence' | 'order' | 'bad-genesis' | 'missing-tail'
  | 'untrusted-key' | 'unlinked-certificate' | 'key-chain' | 'bad-checkpoint' | 'audit-rewritten';

/** One problem, naming the recording and file. */
export interface Finding {
  readonly kind: FindingKind;
  /** Path of the recording's base, relative to the verified folder. */
  readonly recording: string;
  readonly file?: string;
  readonly message: string;
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

/** The result of a verification. */
export interface VerifyReport {
  readonly folder: string;
  readonly recordings: number;
  readonly verified: number;
  readonly epochs: readonly { readonly epoch: number; readonly first: number; readonly last: number; readonly count: number }[];
  readonly interrupted: readonly string[];
  /** Certificates found in the tree and given with --cert; `trusted` only when linked to the trust anchor. */
  readonly certificates: readonly { readonly file: string; readonly publicKeySha256: string; readonly certificateSha256: string; readonly trusted: boolean }[];
  readonly trust: { readonly pinned: boolean; readonly pins: readonly string[]; readonly keys: readonly TrustedKey[] };
  readonly checkpoints: { readonly count: number; readonly latest: Checkpoint | undefined };
  readonly findings: readonly Finding[];
  readonly ok: boolean;
}

interface Entry {
  readonly rel: string;
  readonly base: string;
  readonly hashText: string;
  readonly signature: string;
  readonly signatureFile: string;
  readonly epoch: number;
  readonly sequence: number;
  readonly previousRecording: string;
  readonly previousSignature: string;
  readonly sealedAtMs: number;
  readonly publicKeySha256: string;
  intact: boolean;
}

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

/** The chain head an installation recorded: the tree must reach it (deleting the newest recordings shows). */
export interface ExpectedHead {
  readonly epoch: number;
  readonly sequence: number;
  readonly base?: string | undefined;
}

/** What the auditor trusts, given from outside the tree. */
export interface VerifyTrust {
  /** Certificates given with --cert: their keys are pinned. */
  readonly pinnedCertificates?: readonly CertificateKey[];
  /** Fingerprints given with --fingerprint: certificate SHA-256 or public key SHA-256, hex with or without colons. */
  readonly fingerprints?: readonly string[];
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

/**
 * Verifies every recording under `root`. Trust (invariant 7): the keys given in `trust` are pinned;
 * without them the first epoch's key is taken from the tree, unpinned, and the report says so. Every
 * further epoch's key must be linked by a rollover record (signed by the old key, or by the new key
 * back to the old one); a certificate no link reaches is a finding, never a trust anchor.
 */
export async function verifyTree(root: string, trust: VerifyTrust = {}, heads: readonly ExpectedHead[] = []): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const entries: Entry[] = [];
  const interrupted: string[] = [];
  const allFiles = (await walk(root)).sort();
  const hashFiles = allFiles.filter((f) => f.endsWith(HASH_SUFFIX));
  const sealedFiles = new Set<string>();

  for (const hf of hashFiles) {
    const base = hf.slice(0, -HASH_SUFFIX.length);
    const dir = join(root, hf, '..');
    const baseName = base.split('/').pop() ?? base;
    const add = (kind: FindingKind, message: string, file?: string): void => {
      findings.push({ kind, recording: base, message, ...(file !== undefined ? { file } : {}) });
    };
    let intact = true;
    let hashText: string;
    let listed: [string, string][];
    try {
      hashText = await readFile(join(root, hf), 'utf8');
      listed = parseHashFile(hashText);
    } catch (err) {
      add('unreadable', `hash file unreadable: ${err instanceof Error ? err.message : String(err)}`, `${baseName}${HASH_SUFFIX}`);
      continue;
    }
    const folder = hf.includes('/') ? hf.slice(0, hf.lastIndexOf('/') + 1) : '';
    sealedFiles.add(hf);
    sealedFiles.add(`${folder}${baseName}${SIG_SUFFIX}`);
    for (const [name] of listed) sealedFiles.add(`${folder}${name}`);
    for (const [name, expected] of listed) {
      const path = join(dir, name);
      try {
        await stat(path);
      } catch {
        add('missing-file', `${name} is listed in the hash file but missing`, name);
        intact = false;
        continue;
      }
      const actual = await sha256File(path);
      if (actual !== expected) {
        add('altered-file', `${name} does not match its SHA-256 in the hash file`, name);
        intact = false;
      }
    }
    const sibling = (await readdir(dir)).filter((n) => (n.startsWith(`${baseName}_`) || n.startsWith(`${baseName}.`)) && n !== `${baseName}${HASH_SUFFIX}` && n !== `${baseName}${SIG_SUFFIX}`);
    for (const n of sibling) {
      sealedFiles.add(`${folder}${n}`);
      if (!listed.some(([name]) => name === n)) add('unlisted-file', `${n} belongs to the recording by name but is not sealed`, n);
    }

    let signature = '';
    try {
      signature = (await readFile(join(dir, `${baseName}${SIG_SUFFIX}`), 'utf8')).trim();
      if (signature === '') {
        // An empty signature file is no signature: reported, never skipped.
        add('bad-signature', 'the signature file is empty', `${baseName}${SIG_SUFFIX}`);
        intact = false;
      }
    } catch {
      add('missing-file', 'signature file missing', `${baseName}${SIG_SUFFIX}`);
      intact = false;
    }

    const infoName = `${baseName}_info.txt`;
    if (!listed.some(([name]) => name === infoName)) {
      add('missing-file', 'the metadata file is not listed in the hash file', infoName);
      continue;
    }
    let info: Map<string, string[]>;
    try {
      info = parseInfo(await readFile(join(dir, infoName), 'utf8'));
    } catch {
      continue;
    }
    const one = (k: string): string => info.get(k)?.[0] ?? '';
    if (one('interrupted') === 'yes') interrupted.push(base);
    entries.push({
      rel: base, base: baseName, hashText, signature, signatureFile: `${baseName}${SIG_SUFFIX}`, epoch: Number(one('chain-epoch')), sequence: Number(one('chain-sequence')),
      previousRecording: one('previous-recording'), previousSignature: one('previous-signature'),
      sealedAtMs: Number(one('sealed-at-ms')), publicKeySha256: one('public-key-sha256'), intact,
    });
  }

  // A file that no hash file names (a recording put into the tree without its seal) is a finding:
  // the tree holds nothing that was not sealed.
  for (const f of allFiles) {
    if (sealedFiles.has(f) || isTreeFile(f)) continue;
    findings.push({ kind: 'unlisted-file', recording: f.replace(/(_info\.txt|_metadata-v\d+\.xml|\.[A-Za-z0-9]+)$/, ''), file: f.split('/').pop() ?? f, message: `${f} is not part of any sealed recording (no hash file lists it)` });
  }

  const byEpoch = new Map<number, Entry[]>();
  for (const e of entries) {
    if (!Number.isInteger(e.epoch) || !Number.isInteger(e.sequence) || e.sequence < 1) {
      findings.push({ kind: 'unreadable', recording: e.rel, message: 'metadata file has no chain link' });
      e.intact = false;
      continue;
    }
    const list = byEpoch.get(e.epoch) ?? [];
    list.push(e);
    byEpoch.set(e.epoch, list);
  }
  for (const list of byEpoch.values()) list.sort((a, b) => a.sequence - b.sequence);

  // Trust (invariant 7): pins from outside, rollover records, and only then the tree.
  const candidates = await loadCertificates(await certificatesInFolder(root));
  const pinnedCerts = trust.pinnedCertificates ?? [];
  const fingerprints = (trust.fingerprints ?? []).map(normHex);
  const pinned = pinnedCerts.length > 0 || fingerprints.length > 0;
  const all = [...pinnedCerts, ...candidates];
  const bySpki = (spki: string, preferFp?: string): CertificateKey | undefined =>
    all.find((c) => c.spki === spki && (preferFp === undefined || normHex(c.fingerprint) === preferFp)) ?? all.find((c) => c.spki === spki);
  const pinnedSpki = new Map<string, { cert: CertificateKey; detail: string }>();
  for (const c of pinnedCerts) pinnedSpki.set(c.spki, { cert: c, detail: `pinned (--cert ${relative(process.cwd(), c.file) || c.file})` });
  for (const fp of fingerprints) {
    const c = all.find((x) => normHex(x.fingerprint) === fp) ?? all.find((x) => x.spki === fp);
    if (c) pinnedSpki.set(c.spki, { cert: c, detail: `pinned (--fingerprint)` });
    else findings.push({ kind: 'untrusted-key', recording: '-', message: `the pinned fingerprint ${fp} matches no certificate given or found in the tree` });
  }

  const rollovers = await readRollovers(root);
  const epochSet = new Set<number>(byEpoch.keys());
  for (const r of rollovers.values()) {
    epochSet.add(r.epoch);
    const pe = Number(r.fields.get('previous-epoch'));
    if (Number.isInteger(pe) && pe > 0) epochSet.add(pe);
  }
  // Checkpoints name the epoch and key of a chain that may hold no recording yet.
  const checkpoints = readCheckpoints(root);
  for (const c of checkpoints) if (c.checkpoint && c.checkpoint.chainEpoch > 0) epochSet.add(c.checkpoint.chainEpoch);
  const epochList = [...epochSet].sort((a, b) => a - b);
  // The key each epoch claims: its rollover record, else its genesis recording, else the next rollover's "previous".
  const claimed = (epoch: number): string | undefined => {
    const r = rollovers.get(epoch)?.fields.get('public-key-sha256');
    if (r) return r;
    const first = byEpoch.get(epoch)?.[0];
    if (first?.sequence === 1 && first.previousSignature.startsWith('public-key-sha256:')) return first.previousSignature.slice('public-key-sha256:'.length);
    const next = rollovers.get(epoch + 1)?.fields.get('previous-public-key-sha256');
    if (next) return next;
    if (first?.publicKeySha256) return first.publicKeySha256;
    return checkpoints.find((c) => c.checkpoint?.chainEpoch === epoch)?.checkpoint?.publicKeySha256 || undefined;
  };
  const trusted = new Map<number, TrustedKey & { key: KeyObject }>();
  const setTrust = (epoch: number, cert: CertificateKey, source: TrustedKey['source'], detail: string): void => {
    trusted.set(epoch, { epoch, publicKeySha256: cert.spki, certificateSha256: cert.fingerprint, file: relative(root, cert.file).startsWith('..') ? cert.file : relative(root, cert.file), source, detail, key: cert.key });
  };
  for (const e of epochList) {
    const spki = claimed(e);
    const p = spki !== undefined ? pinnedSpki.get(spki) : undefined;
    if (p) setTrust(e, p.cert, 'pinned', p.detail);
  }
  const firstEpoch = epochList[0];
  if (!pinned && firstEpoch !== undefined) {
    const spki = claimed(firstEpoch);
    const cert = spki !== undefined ? bySpki(spki) : undefined;
    if (cert) setTrust(firstEpoch, cert, 'tree', 'NOT PINNED: taken from the tree; compare this fingerprint with the one on the printed certificate (E4) or `callseal keys show`, or pin it with --fingerprint');
  }
  // Follow the rollover records both ways until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    for (const r of rollovers.values()) {
      const prevEpoch = Number(r.fields.get('previous-epoch'));
      const newSpki = r.fields.get('public-key-sha256') ?? '';
      const oldSpki = r.fields.get('previous-public-key-sha256') ?? '';
      const older = trusted.get(prevEpoch);
      const newer = trusted.get(r.epoch);
      if (older && !newer && older.publicKeySha256 === oldSpki && signedBy(r.text, r.oldSig, older.key)) {
        const cert = bySpki(newSpki, normHex(r.fields.get('certificate-sha256') ?? ''));
        if (cert) {
          setTrust(r.epoch, cert, 'rollover', `linked by ${r.file}, signed by the epoch-${prevEpoch} key`);
          changed = true;
        }
      }
      if (newer && !older && newer.publicKeySha256 === newSpki && signedBy(r.text, r.newSig, newer.key)) {
        const cert = bySpki(oldSpki, normHex(r.fields.get('previous-certificate-sha256') ?? ''));
        if (cert) {
          setTrust(prevEpoch, cert, 'rollover', `linked by ${r.file}, vouched for by the epoch-${r.epoch} key`);
          changed = true;
        }
      }
    }
  }

  // The key chain itself: every epoch after the first has a rollover record, signed by the old key.
  if (firstEpoch !== undefined && firstEpoch > 1) {
    findings.push({ kind: 'key-chain', recording: `epoch ${firstEpoch}`, message: `the first chain epoch found is epoch ${firstEpoch}, but there is no rollover record chain from epoch 1: epochs 1..${firstEpoch - 1} and their rollover records are missing` });
  }
  for (const e of epochList) {
    if (e === firstEpoch) continue;
    const r = rollovers.get(e);
    if (!r) {
      findings.push({ kind: 'key-chain', recording: `epoch ${e}`, file: `${CHAIN_DIR}/${rolloverFile(e)}`, message: `epoch ${e}: no rollover record from epoch ${e - 1} (${CHAIN_DIR}/${rolloverFile(e)} is missing); the key change is not linked` });
      continue;
    }
    const prevEpoch = Number(r.fields.get('previous-epoch'));
    const older = trusted.get(prevEpoch);
    const newer = trusted.get(r.epoch);
    const oldSigned = older !== undefined && older.publicKeySha256 === r.fields.get('previous-public-key-sha256') && signedBy(r.text, r.oldSig, older.key);
    if (!oldSigned) {
      const why = r.oldSig === undefined ? `is not signed by the epoch-${prevEpoch} key (${r.fields.get('old-key') ?? 'no old-key signature'})` : `is not signed by the trusted epoch-${prevEpoch} key`;
      // Only a pin of the new key bridges an unsigned rollover.
      if (newer?.source !== 'pinned') findings.push({ kind: 'key-chain', recording: `epoch ${e}`, file: r.file, message: `the rollover record into epoch ${e} ${why}: a break in the key chain; only pinning the epoch-${e} key (--fingerprint) bridges it` });
    }
    if (newer && !signedBy(r.text, r.newSig, newer.key)) {
      findings.push({ kind: 'key-chain', recording: `epoch ${e}`, file: r.file, message: `the rollover record into epoch ${e} is not signed by the epoch-${e} key it names` });
    }
    // The old epoch must end exactly at the head the rollover names.
    const headSeq = Number(r.fields.get('previous-head-sequence'));
    const headBase = r.fields.get('previous-head-recording') ?? '';
    const oldList = byEpoch.get(prevEpoch) ?? [];
    const last = oldList[oldList.length - 1];
    if (Number.isInteger(headSeq) && headSeq > 0) {
      const at = oldList.find((x) => x.sequence === headSeq);
      if ((last?.sequence ?? 0) < headSeq) {
        findings.push({ kind: 'missing-tail', recording: headBase, message: `epoch ${prevEpoch}: the rollover record into epoch ${e} names the head #${headSeq} (${headBase}), but the newest recording found is #${last?.sequence ?? 0}: ${headSeq - (last?.sequence ?? 0)} recording(s) missing at the end` });
      } else if (at && (at.base !== headBase || at.signature !== (r.fields.get('previous-head-signature') ?? ''))) {
        findings.push({ kind: 'replaced-link', recording: at.rel, message: `epoch ${prevEpoch}: #${headSeq} is ${at.base} with another signature than the head the rollover record into epoch ${e} names (${headBase})` });
      }
    }
    if (last && Number.isInteger(headSeq) && last.sequence > headSeq) {
      findings.push({ kind: 'key-chain', recording: last.rel, message: `epoch ${prevEpoch}: recordings after #${headSeq}, the head named by the rollover record into epoch ${e}` });
    }
  }
  for (const e of epochList) {
    if (trusted.has(e) || !byEpoch.has(e)) continue;
    const spki = claimed(e);
    const cert = spki !== undefined ? bySpki(spki) : undefined;
    findings.push({
      kind: 'untrusted-key', recording: `epoch ${e}`, message: `epoch ${e}: its key (public key sha256 ${spki ?? 'unknown'}${cert ? `, certificate ${cert.fingerprint} in ${relative(root, cert.file)}` : ', no certificate found'}) is ${pinned ? 'not pinned and not linked to a pinned key' : 'not linked to the first key'} by rollover records; its ${byEpoch.get(e)?.length ?? 0} recording(s) are not trusted`,
    });
  }
  const trustedSpki = new Set([...trusted.values()].map((t) => t.publicKeySha256));
  for (const c of candidates) {
    if (!trustedSpki.has(c.spki)) findings.push({ kind: 'unlinked-certificate', recording: '-', file: relative(root, c.file), message: `certificate ${c.fingerprint} (public key sha256 ${c.spki}) in the tree is not linked to the trusted key by a rollover record; it is not a trust anchor` });
  }

  // Signatures, with the one trusted key of each recording's epoch.
  for (const [epoch, list] of byEpoch) {
    const t = trusted.get(epoch);
    if (!t) {
      for (const e of list) e.intact = false;
      continue;
    }
    for (const e of list) {
      if (e.signature === '') continue;
      if (!rsaVerify('sha256', Buffer.from(e.hashText, 'utf8'), t.key, Buffer.from(e.signature, 'base64'))) {
        findings.push({ kind: 'bad-signature', recording: e.rel, file: e.signatureFile, message: `the signature does not verify with the trusted epoch-${epoch} key (certificate ${t.certificateSha256})` });
        e.intact = false;
      }
    }
  }

  const epochs: { epoch: number; first: number; last: number; count: number }[] = [];
  for (const [epoch, list] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    const first = list[0];
    if (!first) continue;
    epochs.push({ epoch, first: first.sequence, last: list[list.length - 1]?.sequence ?? 0, count: list.length });
    const t = trusted.get(epoch);
    if (first.sequence !== 1) {
      findings.push({ kind: 'missing-link', recording: first.rel, message: `epoch ${epoch}: recordings 1..${first.sequence - 1} before ${first.base} are missing` });
    } else if (first.previousRecording !== GENESIS || first.previousSignature !== `public-key-sha256:${first.publicKeySha256}` || (t !== undefined && t.publicKeySha256 !== first.publicKeySha256)) {
      findings.push({ kind: 'bad-genesis', recording: first.rel, message: `epoch ${epoch}: the first recording does not name the trusted key as genesis` });
    }
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      const cur = list[i];
      if (!prev || !cur) continue;
      if (cur.sequence === prev.sequence) {
        findings.push({ kind: 'duplicate-sequence', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} and ${prev.base} both claim position ${cur.sequence}` });
        continue;
      }
      if (cur.sequence !== prev.sequence + 1) {
        findings.push({ kind: 'missing-link', recording: cur.rel, message: `epoch ${epoch}: ${cur.sequence - prev.sequence - 1} recording(s) missing between ${prev.base} (#${prev.sequence}) and ${cur.base} (#${cur.sequence}); ${cur.base} names ${cur.previousRecording} as its predecessor` });
        continue;
      }
      if (cur.previousRecording !== prev.base || cur.previousSignature !== prev.signature) {
        findings.push({ kind: 'replaced-link', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} (#${cur.sequence}) names ${cur.previousRecording} as its predecessor, but #${prev.sequence} is ${prev.base} with another signature` });
      }
      if (cur.sealedAtMs < prev.sealedAtMs) {
        findings.push({ kind: 'order', recording: cur.rel, message: `epoch ${epoch}: ${cur.base} (#${cur.sequence}) was sealed before its predecessor ${prev.base}` });
      }
    }
  }

  // Signed checkpoints name chain heads (E8): the tree must still reach each of them.
  const expected: ExpectedHead[] = [...heads];
  let latest: Checkpoint | undefined;
  for (const c of checkpoints) {
    const cp = c.checkpoint;
    const t = cp ? trusted.get(cp.chainEpoch) : undefined;
    if (!cp || !t || !checkpointSignedBy(c, [t.key])) {
      findings.push({ kind: 'bad-checkpoint', recording: '-', file: c.file, message: cp ? `the checkpoint is not signed by the trusted epoch-${cp.chainEpoch} key` : 'not a checkpoint' });
      continue;
    }
    latest = cp;
    if (cp.chainHeadSequence > 0) {
      expected.push({ epoch: cp.chainEpoch, sequence: cp.chainHeadSequence, base: cp.chainHeadRecording });
      const at = byEpoch.get(cp.chainEpoch)?.find((x) => x.sequence === cp.chainHeadSequence);
      if (at && (at.base !== cp.chainHeadRecording || at.signature !== cp.chainHeadSignature)) {
        findings.push({ kind: 'replaced-link', recording: at.rel, file: c.file, message: `epoch ${cp.chainEpoch}: #${cp.chainHeadSequence} is ${at.base} with another signature than the signed checkpoint names (${cp.chainHeadRecording})` });
      }
    }
  }
  // Without a successor, the newest recordings of an epoch can only be missed against a known head.
  const reported = new Set<string>();
  for (const h of expected.sort((a, b) => b.sequence - a.sequence)) {
    const found = epochs.find((e) => e.epoch === h.epoch);
    const last = found?.last ?? 0;
    if (last < h.sequence && !reported.has(String(h.epoch))) {
      reported.add(String(h.epoch));
      findings.push({ kind: 'missing-tail', recording: h.base ?? `epoch ${h.epoch}`, message: `epoch ${h.epoch}: the chain head is #${h.sequence}${h.base ? ` (${h.base})` : ''}, but the newest recording found is #${last}: ${h.sequence - last} recording(s) missing at the end` });
    }
  }

  const verified = entries.filter((e) => e.intact).length;
  return {
    folder: root, recordings: hashFiles.length, verified, epochs, interrupted,
    certificates: all.map((c) => ({ file: relative(process.cwd(), c.file) || c.file, publicKeySha256: c.spki, certificateSha256: c.fingerprint, trusted: trustedSpki.has(c.spki) })),
    trust: { pinned, pins: [...pinnedSpki.values()].map((p) => `${p.cert.fingerprint} ${p.detail}`), keys: [...trusted.values()].sort((a, b) => a.epoch - b.epoch).map((k) => ({ epoch: k.epoch, publicKeySha256: k.publicKeySha256, certificateSha256: k.certificateSha256, file: k.file, source: k.source, detail: k.detail })) },
    checkpoints: { count: checkpoints.length, latest },
    findings, ok: findings.length === 0 && hashFiles.length > 0,
  };
}

/** Renders a report as text for people. */
export function renderReport(r: VerifyReport): string {
  const lines = [
    `callseal verify ${r.folder}`,
    ...(r.trust.keys.length === 0 ? ['  trusted key: none'] : r.trust.keys.map((k) => `  trusted key, epoch ${k.epoch}: certificate SHA-256 ${k.certificateSha256} (public key sha256 ${k.publicKeySha256}), ${k.file}: ${k.source === 'tree' ? k.detail : k.source === 'pinned' ? k.detail : `${k.detail} (not pinned itself)`}`)),
    `  pinned: ${r.trust.pinned ? `yes, ${r.trust.pins.join('; ') || 'no pinned key matched'}` : 'no (not pinned: give --fingerprint from the printed certificate, or --cert)'}`,
    `  recordings: ${r.recordings}, intact and signed: ${r.verified}`,
    ...r.epochs.map((e) => `  chain epoch ${e.epoch}: #${e.first}..#${e.last}, ${e.count} recording(s)`),
    `  signed checkpoints: ${r.checkpoints.count}${r.checkpoints.latest ? `, latest ${new Date(r.checkpoints.latest.createdAtMs).toISOString()}: chain epoch ${r.checkpoints.latest.chainEpoch} #${r.checkpoints.latest.chainHeadSequence}, audit trail #${r.checkpoints.latest.auditHeadSequence} ${r.checkpoints.latest.auditHeadSha256}` : ''}`,
  ];
  if (r.interrupted.length > 0) lines.push(`  interrupted recordings (sealed after a crash): ${r.interrupted.length}`, ...r.interrupted.map((i) => `    ${i}`));
  if (r.findings.length === 0) lines.push(r.recordings > 0 ? '  OK: every file, signature and chain link holds' : '  no recordings found');
  else {
    lines.push(`  FINDINGS: ${r.findings.length}`);
    for (const f of r.findings) lines.push(`    [${f.kind}] ${f.recording}${f.file !== undefined ? ` (${f.file})` : ''}: ${f.message}`);
  }
  return lines.join('\n') + '\n';
}

/** The check of one recording in place (the web UI's verification status). */
export interface RecordingCheck {
  readonly ok: boolean;
  readonly files: readonly { readonly name: string; readonly ok: boolean; readonly problem?: string }[];
  readonly signature: 'valid' | 'invalid' | 'missing';
  /** Whether the hash file and signature are the ones the recording log holds. */
  readonly matchesLog: boolean;
}

/**
 * Checks one sealed recording in its folder: each listed file against the hash file, the signature
 * against the given keys, and the hash file's SHA-256 and signature against the recording log.
 */
export async function verifyRecording(dir: string, baseName: string, keys: readonly KeyObject[], logged: { hashFileSha256: string; signature: string }): Promise<RecordingCheck> {
  let hashText: string;
  try {
    hashText = await readFile(join(dir, `${baseName}${HASH_SUFFIX}`), 'utf8');
  } catch {
    return { ok: false, files: [{ name: `${baseName}${HASH_SUFFIX}`, ok: false, problem: 'missing' }], signature: 'missing', matchesLog: false };
  }
  const files: { name: string; ok: boolean; problem?: string }[] = [];
  for (const [name, expected] of parseHashFile(hashText)) {
    try {
      const actual = await sha256File(join(dir, name));
      files.push(actual === expected ? { name, ok: true } : { name, ok: false, problem: 'SHA-256 differs from the hash file' });
    } catch {
      files.push({ name, ok: false, problem: 'missing' });
    }
  }
  let signature: RecordingCheck['signature'] = 'missing';
  let sigText = '';
  try {
    sigText = (await readFile(join(dir, `${baseName}${SIG_SUFFIX}`), 'utf8')).trim();
    const sig = Buffer.from(sigText, 'base64');
    signature = keys.some((k) => rsaVerify('sha256', Buffer.from(hashText, 'utf8'), k, sig)) ? 'valid' : 'invalid';
  } catch {
    signature = 'missing';
  }
  const matchesLog = createHash('sha256').update(hashText, 'utf8').digest('hex') === logged.hashFileSha256 && sigText === logged.signature;
  return { ok: files.every((f) => f.ok) && signature === 'valid' && matchesLog, files, signature, matchesLog };
}
