/**
 * The embedded database: the one versioned migration list that creates every table
 * (`migrations.ts`), opening and migrating (`db.ts`), and repositories. No module outside this
 * folder creates schema (`schema-owner.test.ts`). "Store" means this database only: the recording
 * spool and the policy store live in their own modules.
 */
export * from './db.ts';
export * from './recordings.ts';
export * from './holds.ts';
export * from './removals.ts';
export * from './meta.ts';
