/**
 * SIP: message parsing and serialization, transports and transactions. The only way other
 * modules reach SIP.
 */
export * from './message.ts';
export * from './multipart.ts';
export * from './framing.ts';
export * from './transport.ts';
export * from './transaction.ts';
export * from './admission.ts';
