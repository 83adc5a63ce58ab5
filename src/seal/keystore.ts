/**
 * The installation's signing key and certificate (E3, E4). The RSA private key is stored as
 * encrypted PKCS#8 (PBES2, AES-256-CBC) whose passphrase is derived with scrypt from the
 * installation secret; the secret lives apart from the key (its own 0600 file under `secret/`, or
 * `CALLSEAL_KEY_SECRET`). The key never leaves the process. A damaged or missing key store is
 * reported and never silently replaced: a new key starts a new chain epoch only through `reset`.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, createPublicKey, randomBytes, scryptSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CallsealError } from '../common/errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Why the key store cannot be used. */
export class KeyStoreError extends CallsealError {}

const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 } as const;
const VALIDITY_YEARS = 100;

/** What keystore.json records. */
interface KeyStoreFile {
  readonly format: 1;
  readonly epoch: number;
  readonly modulusBits: number;
  readonly createdMs: number;
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
}

/** Options of {@link KeyStore.open}. */
export interface KeyStoreOptions {
  readonly home: string;
  readonly instanceId: string;
  readonly modulusBits?: 2048 | 3072 | 4096;
  /** The secret from the environment; otherwise `secret/installation.secret`. */
  readonly secret?: string;
  /** True when sealed recordings exist: a missing key store is then an error, never regenerated. */
  readonly chainExists: boolean;
}

/** Hex SHA-256 with colons, as openssl prints fingerprints. */
export function colonHex(buf: Buffer): string {
  return buf.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** SHA-256 of a public key's SubjectPublicKeyInfo (stable across certificate re-issues). */
export function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Paths of the key store. */
export function keyPaths(home: string): { dir: string; key: string; cert: string; chain: string; meta: string; secretDir: string; secret: string } {
  const dir = join(home, 'keys');
  const secretDir = join(home, 'secret');
  return {
    dir, key: join(dir, 'private-key.p8.pem'), cert: join(dir, 'certificate.pem'), chain: join(dir, 'ca-chain.pem'),
    meta: join(dir, 'keystore.json'), secretDir, secret: join(secretDir, 'installation.secret'),
  };
}

function readSecret(o: KeyStoreOptions, create: boolean): string {
  if (o.secret !== undefined && o.secret !== '') return o.secret;
  const p = keyPaths(o.home);
  if (existsSync(p.secret)) return readFileSync(p.secret, 'utf8').trim();
  if (!create) throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `installation secret missing (${p.secret}, or CALLSEAL_KEY_SECRET)`);
  mkdirSync(p.secretDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(p.secret, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(p.secret, 0o600);
  return secret;
}

function passphrase(secret: string, kdf: KeyStoreFile['kdf']): string {
  return scryptSync(secret, Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: SCRYPT.maxmem }).toString('hex');
}

async function selfSigned(privateKey: KeyObject, publicKey: KeyObject, instanceId: string, nowMs: number): Promise<string> {
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), RSA_ALG, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), RSA_ALG, true, ['verify']),
  };
  const notBefore = new Date(nowMs - 60_000);
  const notAfter = new Date(nowMs);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=callseal ${instanceId}, O=callseal recording seal`,
    notBefore, notAfter, signingAlgorithm: RSA_ALG, keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return cert.toString('pem');
}

/** The signing key of this installation. */
export class KeyStore {
  readonly epoch: number;
  readonly modulusBits: number;
  readonly spkiSha256: string;
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  #certPem: string;
  readonly #home: string;

  private constructor(home: string, meta: KeyStoreFile, privateKey: KeyObject, certPem: string) {
    this.#home = home;
    this.epoch = meta.epoch;
    this.modulusBits = meta.modulusBits;
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.spkiSha256 = spkiSha256(this.publicKey);
    this.#certPem = certPem;
  }

  /** The certificate in PEM. */
  get certificatePem(): string {
    return this.#certPem;
  }

  /** SHA-256 fingerprint of the certificate (DER), colon-separated. */
  get certificateFingerprint(): string {
    return colonHex(createHash('sha256').update(Buffer.from(new x509.X509Certificate(this.#certPem).rawData)).digest());
  }

  /** Subject and validity of the certificate. */
  describe(): { subject: string; issuer: string; notBefore: string; notAfter: string; fingerprint: string; spkiSha256: string; epoch: number; modulusBits: number } {
    const c = new x509.X509Certificate(this.#certPem);
    return {
      subject: c.subject, issuer: c.issuer, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
      fingerprint: this.certificateFingerprint, spkiSha256: this.spkiSha256, epoch: this.epoch, modulusBits: this.modulusBits,
    };
  }

  /** RSA PKCS#1 v1.5 SHA-256 signature (E2). */
  sign(data: Buffer): Buffer {
    return sign('sha256', data, this.#privateKey);
  }

  /**
   * Opens the key store; on the very first start (no key store and no sealed recordings) creates
   * the key pair and the self-signed certificate. Anything else missing or damaged throws.
   */
  static async open(o: KeyStoreOptions, nowMs = Date.now()): Promise<{ store: KeyStore; created: boolean }> {
    const p = keyPaths(o.home);
    if (!existsSync(p.dir) || !existsSync(p.meta)) {
      if (o.chainExists || existsSync(p.key) || existsSync(p.cert)) {
        throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `key store ${p.dir} is missing or incomplete while sealed recordings exist; it is not replaced silently. Restore it from backup, or run "callseal keys reset" to start a new chain epoch`);
      }
      return { store: await KeyStore.#create(o, 1, nowMs), created: true };
    }
    return { store: KeyStore.#load(o), created: false };
  }

  static #load(o: KeyStoreOptions): KeyStore {
    const p = keyPaths(o.home);
    let meta: KeyStoreFile;
    let keyPem: string;
    let certPem: string;
    try {
      meta = JSON.parse(readFileSync(p.meta, 'utf8')) as KeyStoreFile;
      keyPem = readFileSync(p.key, 'utf8');
      certPem = readFileSync(p.cert, 'utf8');
    } catch (err) {
      throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `key store ${p.dir} is damaged: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: keyPem, format: 'pem', passphrase: passphrase(readSecret(o, false), meta.kdf) });
    } catch (err) {
      if (err instanceof KeyStoreError) throw err;
      throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `private key in ${p.key} cannot be decrypted with the installation secret (damaged key file or wrong secret)`, { cause: err });
    }
    const store = new KeyStore(o.home, meta, privateKey, certPem);
    let certKey: KeyObject;
    try {
      certKey = createPublicKey(certPem);
    } catch (err) {
      throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `certificate ${p.cert} is damaged`, { cause: err });
    }
    if (spkiSha256(certKey) !== store.spkiSha256) throw new KeyStoreError('CS_KEYSTORE_DAMAGED', `certificate ${p.cert} does not belong to the private key`);
    return store;
  }

  static async #create(o: KeyStoreOptions, epoch: number, nowMs: number): Promise<KeyStore> {
    const p = keyPaths(o.home);
    const secret = readSecret(o, true);
    const modulusBits = o.modulusBits ?? 2048;
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: modulusBits, publicExponent: 0x10001 });
    const kdf = { name: 'scrypt' as const, N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: randomBytes(16).toString('base64') };
    const meta: KeyStoreFile = { format: 1, epoch, modulusBits, createdMs: nowMs, kdf };
    const certPem = await selfSigned(privateKey, createPublicKey(privateKey), o.instanceId, nowMs);
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    writeFileSync(p.key, privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: passphrase(secret, kdf) }), { mode: 0o600 });
    writeFileSync(p.cert, certPem);
    writeFileSync(p.meta, JSON.stringify(meta, null, 2));
    return new KeyStore(o.home, meta, privateKey, certPem);
  }

  /**
   * Explicit reset: keeps the old key store under `keys/epoch-<n>/` and creates a new key and
   * certificate with the next epoch number. The chain continues in the new epoch from genesis.
   */
  static async reset(o: KeyStoreOptions & { readonly minEpoch?: number }, nowMs = Date.now()): Promise<KeyStore> {
    const p = keyPaths(o.home);
    let epoch = 1;
    if (existsSync(p.meta)) {
      try {
        epoch = (JSON.parse(readFileSync(p.meta, 'utf8')) as KeyStoreFile).epoch + 1;
      } catch {
        epoch = 1;
      }
    }
    // A lost keystore.json must not restart the numbering: the chain knows its last epoch.
    epoch = Math.max(epoch, o.minEpoch ?? 1);
    if (existsSync(p.dir)) {
      let n = Math.max(1, epoch - 1);
      while (existsSync(join(o.home, `keys-epoch-${n}`))) n++;
      renameSync(p.dir, join(o.home, `keys-epoch-${n}`));
    }
    return KeyStore.#create(o, epoch, nowMs);
  }

  /** A PKCS#10 request for a CA to sign this key (E4 +). */
  async csr(instanceId: string): Promise<string> {
    const keys = {
      privateKey: await webcrypto.subtle.importKey('pkcs8', this.#privateKey.export({ type: 'pkcs8', format: 'der' }), RSA_ALG, false, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', this.publicKey.export({ type: 'spki', format: 'der' }), RSA_ALG, true, ['verify']),
    };
    const req = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=callseal ${instanceId}, O=callseal recording seal`, keys, signingAlgorithm: RSA_ALG,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)],
    });
    return req.toString('pem');
  }

  /**
   * Imports a CA-signed certificate (PEM, leaf first, chain after). Refuses a certificate whose
   * public key is not this installation's.
   */
  importCertificate(pemBundle: string): { fingerprint: string; chainLength: number } {
    const blocks = pemBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const leaf = blocks[0];
    if (!leaf) throw new KeyStoreError('CS_KEYSTORE_CERT', 'no certificate in the file');
    let leafKey: KeyObject;
    try {
      leafKey = createPublicKey(leaf);
    } catch (err) {
      throw new KeyStoreError('CS_KEYSTORE_CERT', 'the certificate cannot be read', { cause: err });
    }
    if (spkiSha256(leafKey) !== this.spkiSha256) throw new KeyStoreError('CS_KEYSTORE_CERT', 'the certificate does not match this installation\'s key');
    const p = keyPaths(this.#home);
    writeFileSync(join(p.dir, `certificate-${Date.now()}.previous.pem`), this.#certPem);
    writeFileSync(p.cert, `${leaf}\n`);
    writeFileSync(p.chain, blocks.slice(1).join('\n') + (blocks.length > 1 ? '\n' : ''));
    this.#certPem = `${leaf}\n`;
    return { fingerprint: this.certificateFingerprint, chainLength: blocks.length - 1 };
  }
}
