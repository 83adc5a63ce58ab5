/**
 * External SQL recording logs (G2).
 */
export * from './sqllog.ts';
export * from './registry.ts';
