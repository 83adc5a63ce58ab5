/**
 * SIP: message parsing and serialization, transports, the transaction core and its stack,
 * dialogs and the UAS core. The only way other modules reach SIP.
 */
export * from './message.ts';
export * from './multipart.ts';
export * from './framing.ts';
export * from './transport.ts';
export * from './stack.ts';
export * from './admission.ts';
export { TransactionCore, warningHeader, type TransactionCoreOptions, type PendingInvite } from './transactions/core.ts';
export type { TransactionId, TxAction, TxOutput, TxStats } from './transactions/actions.ts';
export { ackFor, cancelFor } from './transactions/client.ts';
export { MAGIC_COOKIE, clientKey } from './transactions/keys.ts';
export * from './dialog.ts';
export * from './uas.ts';
export * from './uac.ts';
export * from './error-response.ts';
export * from './uri.ts';
