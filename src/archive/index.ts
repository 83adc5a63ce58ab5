/**
 * Archive: the outbox and its destinations — storage targets (local, SFTP, SMB), which take a
 * recording's files, and external SQL recording logs (`sqllog/`), which take one row — and e-mail
 * alerts.
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
export * from './sqllog/index.ts';
export * from './holds.ts';
export * from './hold-sync.ts';
export * from './retention.ts';
export * from './export.ts';
export * from './retention-setup.ts';
