/**
 * Logging: JSON lines on stdout through pino, secrets redacted. Other modules take a `Logger`.
 */
import { pino, type Logger as PinoLogger } from 'pino';

/** The logger type every module receives. */
export type Logger = PinoLogger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level?: string;
  /** Where to write; defaults to stdout. */
  readonly destination?: NodeJS.WritableStream;
}

/** Creates the process logger; credentials and keys are redacted wherever they appear. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? process.env['CALLSEAL_LOG_LEVEL'] ?? 'info',
    base: { app: 'callseal' },
    redact: { paths: ['*.password', '*.secret', '*.key', '*.keyParams', 'password', 'secret'], censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that writes nothing, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
