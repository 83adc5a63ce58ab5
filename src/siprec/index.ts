/**
 * SIPREC: the recording server (RFC 7866), its SDP offer/answer and the recording metadata (RFC 7865).
 */
export * from './metadata.ts';
export * from './sdp.ts';
export * from './server.ts';
export type * from './server-options.ts';
export * from './reinvite-plan.ts';
