/**
 * The embedded database: the one versioned migration list that creates every table
 * (`migrations.ts`), opening and migrating (`db.ts`), and one repository per table: the only SQL on
 * the embedded database is here (`repository-owner.test.ts`). "Store" means this database only:
 * the recording spool and the policy rules live in their own modules.
 */
export * from './db.ts';
export * from './recordings.ts';
export * from './chain-epochs.ts';
export * from './holds.ts';
export * from './removals.ts';
export * from './meta.ts';
export * from './accounts.ts';
export * from './sessions.ts';
export * from './audit.ts';
export * from './policy.ts';
export * from './membership-log.ts';
export * from './decisions.ts';
export * from './key-rollovers.ts';
export * from './outbox.ts';
export * from './local-deleted.ts';
export * from './webhooks.ts';
