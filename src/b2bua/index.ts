/**
 * The in-line recording B2BUA (spec I2): routing between a PBX and a SIP trunk, the relayed
 * calls, SDP rewriting onto the media relay. The only way other modules reach `b2bua/`.
 */
export * from './routing.ts';
export * from './headers.ts';
export * from './sdp-rewrite.ts';
export * from './media-path.ts';
export * from './call.ts';
export * from './server.ts';
export * from './facts.ts';
export * from './dtmf-info.ts';
export * from './recording.ts';
export * from './prack.ts';
