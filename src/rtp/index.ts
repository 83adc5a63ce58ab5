/**
 * RTP and SRTP: packets, the per-stream timeline and statistics, SDES keys, the port pool, the
 * source check, RFC 4733 telephone events.
 */
export * from './packet.ts';
export * from './srtp.ts';
export * from './timeline.ts';
export * from './ports.ts';
export * from './source.ts';
export * from './dtmf.ts';
