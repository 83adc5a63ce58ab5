/**
 * Key store: creation, reopening, damage detection (never silently replaced), CSR and CA-signed
 * certificate import, reset to a new epoch. openssl judges the certificate and the CSR.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { KeyStore, KeyStoreError, keyPaths } from './keystore.ts';

const home = (): string => mkdtempSync(join(tmpdir(), 'callseal-keys-'));
const openssl = (args: string[], input?: string): string => execFileSync('openssl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });

describe('KeyStore', () => {
  it('creates an RSA key and a 100-year self-signed certificate naming the instance; openssl reads both', async () => {
    const h = home();
    const { store, created } = await KeyStore.open({ home: h, instanceId: 'inst-1234', chainExists: false });
    expect(created).toBe(true);
    const p = keyPaths(h);
    const text = openssl(['x509', '-in', p.cert, '-noout', '-text']);
    expect(text).toContain('Subject: CN = callseal inst-1234');
    expect(text).toMatch(/Public-Key: \(2048 bit\)/);
    expect(text).toMatch(/Digital Signature, Non Repudiation/);
    expect(text).toMatch(/Not After : .*21(2[5-6])/);
    expect(readFileSync(p.key, 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(statSync(p.secret).mode & 0o777).toBe(0o600);
    const fp = openssl(['x509', '-in', p.cert, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1];
    expect(store.certificateFingerprint).toBe(fp);
    // Signature made by the store, verified by openssl with the certificate's key.
    const data = Buffer.from('hello');
    writeFileSync(join(h, 'd'), data);
    writeFileSync(join(h, 's'), store.sign(data));
    writeFileSync(join(h, 'pub.pem'), openssl(['x509', '-in', p.cert, '-noout', '-pubkey']));
    expect(openssl(['dgst', '-sha256', '-verify', join(h, 'pub.pem'), '-signature', join(h, 's'), join(h, 'd')])).toContain('Verified OK');
  });

  it('reopens with the same key; a wrong secret or a damaged key file is reported, never replaced', async () => {
    const h = home();
    const first = (await KeyStore.open({ home: h, instanceId: 'x', chainExists: false })).store;
    const again = await KeyStore.open({ home: h, instanceId: 'x', chainExists: true });
    expect(again.created).toBe(false);
    expect(again.store.spkiSha256).toBe(first.spkiSha256);
    await expect(KeyStore.open({ home: h, instanceId: 'x', chainExists: true, secret: 'wrong' })).rejects.toThrow(/cannot be decrypted/);
    const p = keyPaths(h);
    writeFileSync(p.key, readFileSync(p.key, 'utf8').replace(/[A-Za-z]{20}/, 'AAAAAAAAAAAAAAAAAAAA'));
    await expect(KeyStore.open({ home: h, instanceId: 'x', chainExists: true })).rejects.toThrow(KeyStoreError);
    expect(readFileSync(p.key, 'utf8')).toContain('AAAAAAAAAAAAAAAAAAAA');
  });

  it('refuses to create a new key when the key store is missing but a chain exists', async () => {
    const h = home();
    await KeyStore.open({ home: h, instanceId: 'x', chainExists: false });
    rmSync(keyPaths(h).dir, { recursive: true });
    await expect(KeyStore.open({ home: h, instanceId: 'x', chainExists: true })).rejects.toThrow(/not replaced silently/);
  });

  it('keeps the secret apart: CALLSEAL_KEY_SECRET works without a secret file', async () => {
    const h = home();
    const { store } = await KeyStore.open({ home: h, instanceId: 'x', chainExists: false, secret: 'from-the-environment' });
    expect(() => statSync(keyPaths(h).secret)).toThrow();
    const again = await KeyStore.open({ home: h, instanceId: 'x', chainExists: true, secret: 'from-the-environment' });
    expect(again.store.spkiSha256).toBe(store.spkiSha256);
  });

  it('makes a CSR openssl verifies, imports the CA-signed certificate, refuses one for another key', async () => {
    const h = home();
    const { store } = await KeyStore.open({ home: h, instanceId: 'inst', chainExists: false });
    const csr = await store.csr('inst');
    writeFileSync(join(h, 'req.pem'), csr);
    expect(execFileSync('openssl', ['req', '-in', join(h, 'req.pem'), '-noout', '-verify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBeDefined();
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(h, 'ca.key'), '-out', join(h, 'ca.pem'), '-days', '30', '-subj', '/CN=Test CA']);
    openssl(['x509', '-req', '-in', join(h, 'req.pem'), '-CA', join(h, 'ca.pem'), '-CAkey', join(h, 'ca.key'), '-CAcreateserial', '-out', join(h, 'signed.pem'), '-days', '30']);
    const bundle = readFileSync(join(h, 'signed.pem'), 'utf8') + readFileSync(join(h, 'ca.pem'), 'utf8');
    const r = store.importCertificate(bundle);
    expect(r.chainLength).toBe(1);
    expect(openssl(['x509', '-in', keyPaths(h).cert, '-noout', '-issuer'])).toContain('Test CA');
    const reopened = await KeyStore.open({ home: h, instanceId: 'inst', chainExists: true });
    expect(reopened.store.describe().issuer).toContain('Test CA');
    expect(() => store.importCertificate(readFileSync(join(h, 'ca.pem'), 'utf8'))).toThrow(/does not match/);
  });

  it('reset keeps the old key store and starts epoch 2 with a new key', async () => {
    const h = home();
    const { store } = await KeyStore.open({ home: h, instanceId: 'x', chainExists: false });
    const fresh = await KeyStore.reset({ home: h, instanceId: 'x', chainExists: true });
    expect(fresh.epoch).toBe(2);
    expect(fresh.spkiSha256).not.toBe(store.spkiSha256);
    expect(readFileSync(join(h, 'keys-epoch-1', 'certificate.pem'), 'utf8')).toBe(store.certificatePem);
  });
});
