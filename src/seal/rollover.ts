/**
 * Key rollover records (E7, invariant 7): a key change (`callseal keys reset`, a new chain epoch)
 * writes one record that names the new key and the head of the old epoch's chain, signed by the
 * old key (forward link) and by the new key (backward link). The verifier follows these records
 * from a pinned or first key; a certificate that no record links is never a trust anchor.
 *
 * Where they live: `chain/rollover-epoch<N>.txt` in the recordings tree, with
 * `rollover-epoch<N>.txt.old-key.sig` and `.new-key.sig` (base64 RSA SHA-256, like the recordings'
 * signatures, so `openssl dgst -sha256 -verify` checks them) and the certificates of both keys as
 * `chain/certificate-epoch<N>.pem`; the same record and signatures in the `key_rollovers` table.
 * This module must not decide trust: that is the verifier's job.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { errorMessage } from '../common/errors.ts';
import { KeyRolloverRepository, RecordingRepository, type KeyRolloverRow } from '../store/index.ts';
import { KeyStore, type KeyStoreOptions } from './keystore.ts';

/** Folder of the rollover records (and checkpoints), relative to the recordings root. */
export const CHAIN_DIR = 'chain';
/** Suffix of the old key's signature of a rollover record. */
export const OLD_KEY_SIG = '.old-key.sig';
/** Suffix of the new key's signature of a rollover record. */
export const NEW_KEY_SIG = '.new-key.sig';

/** File name of the rollover record into `epoch`. */
export function rolloverFile(epoch: number): string {
  return `rollover-epoch${epoch}.txt`;
}

/** One rollover record as stored (`key_rollovers`, `store/key-rollovers.ts`) and written into the tree. */
export type RolloverRecord = KeyRolloverRow;

/**
 * This installation's own certificates, outside the recordings tree: the current key store and the
 * ones `keys reset` kept (`keys-epoch-<n>/`). They are what the recorder itself trusts.
 */
export function installationCertificateFiles(home: string): string[] {
  const out = [join(home, 'keys', 'certificate.pem')];
  for (const n of existsSync(home) ? readdirSync(home).sort() : []) if (/^keys-epoch-\d+$/.test(n)) out.push(join(home, n, 'certificate.pem'));
  return out.filter((f) => existsSync(f));
}

/** Writes a record, its signatures and both certificates into `<recordingsRoot>/chain/`; keeps files already there. */
export function writeRollover(recordingsRoot: string, r: RolloverRecord): void {
  const dir = join(recordingsRoot, CHAIN_DIR);
  mkdirSync(dir, { recursive: true });
  const put = (name: string, text: string): void => {
    const p = join(dir, name);
    if (!existsSync(p)) writeFileSync(p, text);
  };
  const name = rolloverFile(r.epoch);
  put(name, r.text);
  if (r.oldKeySignature !== undefined) put(`${name}${OLD_KEY_SIG}`, `${r.oldKeySignature}\n`);
  put(`${name}${NEW_KEY_SIG}`, `${r.newKeySignature}\n`);
  if (r.oldCertificatePem !== undefined) put(`certificate-epoch${r.epoch - 1}.pem`, r.oldCertificatePem);
  put(`certificate-epoch${r.epoch}.pem`, r.newCertificatePem);
}

const certSha256 = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

/** Options of {@link resetKeys}. */
export interface ResetKeysOptions extends KeyStoreOptions {
  readonly db: DatabaseSync;
  readonly recordingsRoot: string;
}

/**
 * `callseal keys reset`: opens the old key (to sign the rollover), creates the new key and epoch,
 * and writes the rollover record to the database and the tree. A damaged or lost old key cannot
 * sign: the record is then written unsigned by it and `oldKeyProblem` says why; verification
 * reports that break in the key chain until the new key is pinned.
 */
export async function resetKeys(o: ResetKeysOptions, nowMs = Date.now()): Promise<{ keys: KeyStore; record: RolloverRecord; oldKeyProblem: string | undefined }> {
  const repo = new RecordingRepository(o.db);
  const rollovers = new KeyRolloverRepository(o.db);
  const head = repo.currentHead();
  let old: KeyStore | undefined;
  let oldKeyProblem: string | undefined;
  try {
    old = (await KeyStore.open({ ...o, chainExists: true }, nowMs)).store;
    if (head && old.spkiSha256 !== head.spkiSha256) {
      oldKeyProblem = `the key store's key (public key sha256 ${old.spkiSha256}) is not the key of chain epoch ${head.epoch}`;
      old = undefined;
    }
  } catch (err) {
    oldKeyProblem = errorMessage(err);
  }
  const keys = await KeyStore.reset({ ...o, minEpoch: (head?.epoch ?? 0) + 1 }, nowMs);
  repo.startEpoch(keys.epoch, keys.spkiSha256, nowMs);
  const lines: [string, string][] = [
    ['format', 'callseal-rollover 1'],
    ['epoch', String(keys.epoch)],
    ['public-key-sha256', keys.spkiSha256],
    ['certificate-sha256', certSha256(keys.certificatePem)],
    ['previous-epoch', String(head?.epoch ?? keys.epoch - 1)],
    ['previous-public-key-sha256', head?.spkiSha256 ?? old?.spkiSha256 ?? ''],
    ['previous-certificate-sha256', old ? certSha256(old.certificatePem) : ''],
    ['previous-head-sequence', String(head?.seq ?? 0)],
    ['previous-head-recording', head?.base ?? 'genesis'],
    ['previous-head-signature', head?.signature ?? ''],
    ['created-at-ms', String(nowMs)],
    ['old-key', old ? 'signed' : `unavailable (${oldKeyProblem ?? 'unknown'})`.replace(/[\r\n]+/g, ' ')],
  ];
  const text = lines.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
  const data = Buffer.from(text, 'utf8');
  const record: RolloverRecord = {
    epoch: keys.epoch, text,
    oldKeySignature: old ? old.sign(data).toString('base64') : undefined,
    newKeySignature: keys.sign(data).toString('base64'),
    oldCertificatePem: old?.certificatePem, newCertificatePem: keys.certificatePem,
  };
  rollovers.insert(record, nowMs);
  writeRollover(o.recordingsRoot, record);
  return { keys, record, oldKeyProblem };
}
