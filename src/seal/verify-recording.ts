/**
 * The check of one sealed recording: its hash file against the files it lists, the files that
 * belong to it by name, its signature file and its chain link from `_info.txt`. Two callers: the
 * tree verifier (which checks signatures and the chain afterwards, with the key it trusts for each
 * epoch) and the web UI (one recording in place, against the recording log). This module decides no
 * trust and walks no chain.
 */
import { createHash, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseInfo } from '../recording/index.ts';
import { parseHashFile, sha256File } from './hashfile.ts';
import { HASH_SUFFIX, SIG_SUFFIX } from './sealer.ts';
import type { FindingKind, Findings } from './verify-report.ts';

/** A sealed recording as found in the tree, with the chain link its metadata file names. */
export interface SealedEntry {
  /** Path of the recording's base, relative to the verified folder. */
  readonly rel: string;
  readonly base: string;
  readonly hashText: string;
  /** The signature as found (trimmed); empty when the file is empty or missing. */
  readonly signature: string;
  readonly signatureFile: string;
  readonly epoch: number;
  readonly sequence: number;
  readonly previousRecording: string;
  readonly previousSignature: string;
  readonly sealedAtMs: number;
  readonly publicKeySha256: string;
  readonly interrupted: boolean;
  /** Every listed file is present and matches, and the signature file is not missing or empty. */
  readonly intact: boolean;
  /** Not in the tree: deleted by retention, standing in the chain by its signed deletion record (F6). */
  readonly deleted?: boolean;
}

/** What checking one hash file of a tree gave. */
export interface SealedCheck {
  /** Paths (relative to the tree) that this recording accounts for, sealed or not. */
  readonly claimed: readonly string[];
  /** The recording, when its metadata file could be read; undefined otherwise. */
  readonly entry: SealedEntry | undefined;
}

/**
 * Checks the recording whose hash file is `hashFile` (relative to `root`): every listed file, the
 * files named after it that the hash file does not list, the signature file and the metadata file.
 * Problems go to `findings`, in the order they are found.
 */
export async function checkSealedRecording(root: string, hashFile: string, findings: Findings): Promise<SealedCheck> {
  const base = hashFile.slice(0, -HASH_SUFFIX.length);
  const dir = join(root, hashFile, '..');
  const baseName = base.split('/').pop() ?? base;
  const add = (kind: FindingKind, message: string, file?: string): void => {
    findings.add({ kind, recording: base, message, ...(file !== undefined ? { file } : {}) });
  };
  let intact = true;
  let hashText: string;
  let listed: [string, string][];
  try {
    hashText = await readFile(join(root, hashFile), 'utf8');
    listed = parseHashFile(hashText);
  } catch (err) {
    add('unreadable', `hash file unreadable: ${err instanceof Error ? err.message : String(err)}`, `${baseName}${HASH_SUFFIX}`);
    return { claimed: [], entry: undefined };
  }
  const folder = hashFile.includes('/') ? hashFile.slice(0, hashFile.lastIndexOf('/') + 1) : '';
  const claimed = [hashFile, `${folder}${baseName}${SIG_SUFFIX}`, ...listed.map(([name]) => `${folder}${name}`)];
  for (const [name, expected] of listed) {
    const path = join(dir, name);
    try {
      await stat(path);
    } catch {
      add('missing-file', `${name} is listed in the hash file but missing`, name);
      intact = false;
      continue;
    }
    if (await sha256File(path) !== expected) {
      add('altered-file', `${name} does not match its SHA-256 in the hash file`, name);
      intact = false;
    }
  }
  const siblings = (await readdir(dir)).filter((n) => (n.startsWith(`${baseName}_`) || n.startsWith(`${baseName}.`)) && n !== `${baseName}${HASH_SUFFIX}` && n !== `${baseName}${SIG_SUFFIX}`);
  for (const n of siblings) {
    claimed.push(`${folder}${n}`);
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
    return { claimed, entry: undefined };
  }
  let info: Map<string, string[]>;
  try {
    info = parseInfo(await readFile(join(dir, infoName), 'utf8'));
  } catch {
    // Without a readable metadata file the recording has no chain link; a missing or altered one
    // was reported above against the hash file.
    return { claimed, entry: undefined };
  }
  const one = (k: string): string => info.get(k)?.[0] ?? '';
  return {
    claimed,
    entry: {
      rel: base, base: baseName, hashText, signature, signatureFile: `${baseName}${SIG_SUFFIX}`, epoch: Number(one('chain-epoch')), sequence: Number(one('chain-sequence')),
      previousRecording: one('previous-recording'), previousSignature: one('previous-signature'),
      sealedAtMs: Number(one('sealed-at-ms')), publicKeySha256: one('public-key-sha256'), interrupted: one('interrupted') === 'yes', intact,
    },
  };
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
