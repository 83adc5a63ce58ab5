/**
 * Archive: the outbox, storage targets (local, SFTP, SMB) and e-mail alerts.
 */
export * from './target.ts';
export * from './local.ts';
export * from './sftp.ts';
export * from './smb.ts';
export * from './registry.ts';
export * from './outbox.ts';
export * from './alerts.ts';
export * from './holds.ts';
export * from './retention.ts';
export * from './export.ts';
export * from './retention-setup.ts';
