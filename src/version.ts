/**
 * callseal's version, on its own so that the command line can print it (and every command that
 * is not `start` can run) without loading the recorder's modules. No imports.
 */

/** callseal's version, written into every metadata file. */
export const VERSION = '0.1.0';
