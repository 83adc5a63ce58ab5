/**
 * Recordings on disk: naming, the metadata file, spool, finish and crash recovery.
 */
export * from './naming.ts';
export * from './info.ts';
export * from './store.ts';
