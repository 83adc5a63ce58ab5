/**
 * The embedded database: migrations and repositories.
 */
export * from './db.ts';
export * from './recordings.ts';
