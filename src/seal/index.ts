/**
 * Sealing and verification: key store and certificate, hash files, signatures, the hash chain,
 * and the tree verifier.
 */
export * from './keystore.ts';
export * from './hashfile.ts';
export * from './sealer.ts';
export * from './verify.ts';
export * from './rollover.ts';
export * from './checkpoint.ts';
export * from './deletion.ts';
export * from './installation.ts';
export * from './finisher.ts';
