/**
 * Media: codecs, WAV/RF64 and Ogg Opus files, the per-codec leg writers, stereo merge, and the
 * media workers and their per-leg stats files, the in-line mode's RTP relays.
 */
export * from './codecs.ts';
export * from './wav.ts';
export * from './merge.ts';
export * from './legstats.ts';
export * from './ogg.ts';
export * from './writers.ts';
export * from './engine.ts';
export type { RelayPorts } from './relay-engine.ts';
export type * from './protocol.ts';
export * from './g722.ts';
export * from './g711.ts';
