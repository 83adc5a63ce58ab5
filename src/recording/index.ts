/**
 * Recordings on disk: naming, the metadata file, spool, finish and crash recovery.
 */
export * from './naming.ts';
export * from './info.ts';
export * from './spool.ts';
export * from './recorder-model.ts';
export * from './recorder.ts';
export * from './dtmf-stop.ts';
