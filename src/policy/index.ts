/**
 * Recording policy: directory, exception lists, settings, number normalisation and `decide()`.
 */
export * from './numbers.ts';
export * from './model.ts';
export * from './decide.ts';
export * from './policy-store.ts';
export * from './engine.ts';
