/**
 * SIP messages: the model (`model.ts`), the parser (`parse.ts`) and the writer (`serialize.ts`),
 * exported together so callers import one module.
 */
export * from './model.ts';
export * from './parse.ts';
export * from './serialize.ts';
