/**
 * Verifies a folder tree of sealed recordings without callseal's database (E6 +): each hash file
 * against its files, each signature against the given certificates, and the chain: every epoch
 * must run from genesis through consecutive sequence numbers, each link naming its predecessor's
 * base name and signature. Works on a copy taken off an archive target.
 */
import { createHash, createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseInfo } from '../recording/index.ts';
import { parseHashFile, sha256File } from './hashfile.ts';
import { spkiSha256 } from './keystore.ts';
import { GENESIS, HASH_SUFFIX, SIG_SUFFIX } from './sealer.ts';

/** The kinds of problem the verifier reports. */
export type FindingKind =
  | 'altered-file' | 'missing-file' | 'unlisted-file' | 'bad-signature' | 'unreadable'
  | 'missing-link' | 'replaced-link' | 'duplicate-sequence' | 'order' | 'bad-genesis' | 'missing-tail';

/** One problem, naming the recording and file. */
export interface Finding {
  readonly kind: FindingKind;
  /** Path of the recording's base, relative to the verified folder. */
  readonly recording: string;
  readonly file?: string;
  readonly message: string;
}

/** The result of a verification. */
export interface VerifyReport {
  readonly folder: string;
  readonly recordings: number;
  readonly verified: number;
  readonly epochs: readonly { readonly epoch: number; readonly first: number; readonly last: number; readonly count: number }[];
  readonly interrupted: readonly string[];
  readonly certificates: readonly { readonly file: string; readonly publicKeySha256: string }[];
  readonly findings: readonly Finding[];
  readonly ok: boolean;
}

interface Entry {
  readonly rel: string;
  readonly base: string;
  readonly signature: string;
  readonly epoch: number;
  readonly sequence: number;
  readonly previousRecording: string;
  readonly previousSignature: string;
  readonly sealedAtMs: number;
  readonly publicKeySha256: string;
  readonly intact: boolean;
}

async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...await walk(root, p));
    else if (e.name.endsWith(HASH_SUFFIX)) out.push(p);
  }
  return out;
}

/** Loads public keys from certificate files (PEM). */
export async function loadCertificates(files: readonly string[]): Promise<{ file: string; key: KeyObject }[]> {
  const out: { file: string; key: KeyObject }[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
      out.push({ file, key: createPublicKey(pem) });
      // Only the leaf of a bundle signs recordings.
      break;
    }
  }
  return out;
}

/** Finds certificates left beside the recordings (`callseal-cert*.pem` in the root). */
export async function certificatesInFolder(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.filter((n) => /^callseal-cert.*\.pem$/.test(n)).map((n) => join(root, n));
}

/** Verifies every recording under `root` with the public keys of `certs`. */
/** The chain head an installation recorded: the tree must reach it (deleting the newest recordings shows). */
export interface ExpectedHead {
  readonly epoch: number;
  readonly sequence: number;
  readonly base?: string | undefined;
}

export async function verifyTree(root: string, certs: readonly { file: string; key: KeyObject }[], heads: readonly ExpectedHead[] = []): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const entries: Entry[] = [];
  const interrupted: string[] = [];
  const hashFiles = (await walk(root)).sort();
  const keyIds = new Map(certs.map((c) => [spkiSha256(c.key), c.key]));

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
    for (const n of sibling) if (!listed.some(([name]) => name === n)) add('unlisted-file', `${n} belongs to the recording by name but is not sealed`, n);

    let signature = '';
    try {
      signature = (await readFile(join(dir, `${baseName}${SIG_SUFFIX}`), 'utf8')).trim();
      const sig = Buffer.from(signature, 'base64');
      const good = [...keyIds.values()].some((key) => rsaVerify('sha256', Buffer.from(hashText, 'utf8'), key, sig));
      if (!good) {
        add('bad-signature', certs.length === 0 ? 'no certificate given to check the signature' : 'the signature does not verify with the given certificate(s)', `${baseName}${SIG_SUFFIX}`);
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
      rel: base, base: baseName, signature, epoch: Number(one('chain-epoch')), sequence: Number(one('chain-sequence')),
      previousRecording: one('previous-recording'), previousSignature: one('previous-signature'),
      sealedAtMs: Number(one('sealed-at-ms')), publicKeySha256: one('public-key-sha256'), intact,
    });
  }

  const epochs: { epoch: number; first: number; last: number; count: number }[] = [];
  const byEpoch = new Map<number, Entry[]>();
  for (const e of entries) {
    if (!Number.isInteger(e.epoch) || !Number.isInteger(e.sequence) || e.sequence < 1) {
      findings.push({ kind: 'unreadable', recording: e.rel, message: 'metadata file has no chain link' });
      continue;
    }
    const list = byEpoch.get(e.epoch) ?? [];
    list.push(e);
    byEpoch.set(e.epoch, list);
  }
  for (const [epoch, list] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    list.sort((a, b) => a.sequence - b.sequence);
    const first = list[0];
    if (!first) continue;
    epochs.push({ epoch, first: first.sequence, last: list[list.length - 1]?.sequence ?? 0, count: list.length });
    if (first.sequence !== 1) {
      findings.push({ kind: 'missing-link', recording: first.rel, message: `epoch ${epoch}: recordings 1..${first.sequence - 1} before ${first.base} are missing` });
    } else if (first.previousRecording !== GENESIS || first.previousSignature !== `public-key-sha256:${first.publicKeySha256}` || !keyIds.has(first.publicKeySha256)) {
      findings.push({ kind: 'bad-genesis', recording: first.rel, message: `epoch ${epoch}: the first recording does not name the certificate's key as genesis` });
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
  // Without a successor, the newest recordings of an epoch can only be missed against a known head.
  for (const h of heads) {
    const found = epochs.find((e) => e.epoch === h.epoch);
    const last = found?.last ?? 0;
    if (last < h.sequence) {
      findings.push({ kind: 'missing-tail', recording: h.base ?? `epoch ${h.epoch}`, message: `epoch ${h.epoch}: the chain head is #${h.sequence}${h.base ? ` (${h.base})` : ''}, but the newest recording found is #${last}: ${h.sequence - last} recording(s) missing at the end` });
    }
  }
  const verified = entries.filter((e) => e.intact).length;
  return {
    folder: root, recordings: hashFiles.length, verified, epochs, interrupted,
    certificates: certs.map((c) => ({ file: relative(process.cwd(), c.file) || c.file, publicKeySha256: spkiSha256(c.key) })),
    findings, ok: findings.length === 0 && hashFiles.length > 0,
  };
}

/** Renders a report as text for people. */
export function renderReport(r: VerifyReport): string {
  const lines = [
    `callseal verify ${r.folder}`,
    `  certificates: ${r.certificates.map((c) => `${c.file} (public key sha256 ${c.publicKeySha256})`).join(', ') || 'none'}`,
    `  recordings: ${r.recordings}, intact and signed: ${r.verified}`,
    ...r.epochs.map((e) => `  chain epoch ${e.epoch}: #${e.first}..#${e.last}, ${e.count} recording(s)`),
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
