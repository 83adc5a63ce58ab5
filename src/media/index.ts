/**
 * Media: codecs, WAV/RF64 files, stereo merge, the media workers and their per-leg stats files.
 */
export * from './codecs.ts';
export * from './wav.ts';
export * from './merge.ts';
export * from './legstats.ts';
export * from './engine.ts';
export type * from './protocol.ts';
