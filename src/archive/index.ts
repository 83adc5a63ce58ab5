/**
 * Archive: the outbox, storage targets (local, SFTP, SMB) and e-mail alerts.
 */
export * from './target.ts';
export * from './local.ts';
export * from './sftp.ts';
export * from './smb.ts';
export * from './s3.ts';
export * from './onedrive.ts';
export * from './quickxor.ts';
export * from './registry.ts';
export * from './outbox.ts';
export * from './alerts.ts';
