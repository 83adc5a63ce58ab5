/**
 * The installation's sealing at start: the database and key store opened together, with the check
 * that the key is the key of the chain (a new key starts its epoch); the verification kit written
 * into the recordings tree (certificates, `verify.sh`, rollover records: they travel with the
 * recordings, E6, issue 6); and the keys the recorder itself trusts (its own, never certificates
 * found in the tree: invariant 7).
 */
import { chmod, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { CallsealError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Config } from '../config/index.ts';
import { openDatabase, RecordingRepository } from '../store/index.ts';
import { KeyStore } from './keystore.ts';
import { installationCertificateFiles, RolloverStore, writeRollover } from './rollover.ts';
import { loadCertificates } from './verify-trust.ts';

/** The database and key store of an installation, opened together. */
export interface Sealing {
  readonly db: DatabaseSync;
  readonly repo: RecordingRepository;
  readonly keys: KeyStore;
  /** Closes the database; idempotent. */
  close(): void;
}

/** Opens the database and key store; starts the chain epoch of a new key. */
export async function openSealing(config: Pick<Config, 'home' | 'seal'>, id: string, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Sealing> {
  const db = openDatabase(join(config.home, 'callseal.db'));
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    db.close();
  };
  try {
    const repo = new RecordingRepository(db);
    const head = repo.currentHead();
    const { store: keys, created } = await KeyStore.open({
      home: config.home, instanceId: id, modulusBits: config.seal.keyBits, chainExists: head !== undefined,
      ...(env['CALLSEAL_KEY_SECRET'] ? { secret: env['CALLSEAL_KEY_SECRET'] } : {}),
    });
    if (!head || head.epoch < keys.epoch) repo.startEpoch(keys.epoch, keys.spkiSha256, Date.now());
    else if (head.epoch > keys.epoch || head.spkiSha256 !== keys.spkiSha256) {
      throw new CallsealError('CS_KEYSTORE_WRONG_CHAIN', `the key store (epoch ${keys.epoch}) is not the key of the chain (epoch ${head.epoch}); restore the key store or run "callseal keys reset"`);
    }
    const d = keys.describe();
    log.info({ created, subject: d.subject, fingerprintSha256: d.fingerprint, publicKeySha256: d.spkiSha256, epoch: d.epoch, modulusBits: d.modulusBits, notAfter: d.notAfter }, created ? 'signing key and certificate created' : 'signing certificate');
    return { db, repo, keys, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Writes what an auditor needs next to the recordings: the certificate (also per epoch), the
 * stand-alone `verify.sh`, and the rollover records kept in the database.
 */
export async function publishVerificationKit(recordingsRoot: string, keys: KeyStore, db: DatabaseSync): Promise<void> {
  await writeFile(join(recordingsRoot, 'callseal-cert.pem'), keys.certificatePem);
  await writeFile(join(recordingsRoot, `callseal-cert-epoch${keys.epoch}.pem`), keys.certificatePem);
  await copyFile(new URL('../../tools/verify.sh', import.meta.url), join(recordingsRoot, 'verify.sh'));
  // copyFile keeps the source's 0755 whatever the umask; the recordings tree is owner only.
  await chmod(join(recordingsRoot, 'verify.sh'), 0o700);
  // The database holds the originals of the rollover records.
  for (const r of new RolloverStore(db).list()) writeRollover(recordingsRoot, r);
}

/** This installation's keys of every epoch: the current one and those `keys reset` kept. */
export async function installationKeys(home: string, keys: KeyStore): Promise<KeyObject[]> {
  return [keys.publicKey, ...(await loadCertificates(installationCertificateFiles(home))).map((c) => c.key)];
}
