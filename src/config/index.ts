/**
 * Configuration: schema, loading, environment overrides.
 */
export * from './schema.ts';
export * from './inline.ts';
export * from './load.ts';
export * from './home.ts';
