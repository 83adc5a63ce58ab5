/**
 * The command line: `callseal start | version | help`.
 */
import { createLogger } from './common/log.ts';
import { ConfigError, errorMessage } from './common/errors.ts';
import { loadConfig } from './config/index.ts';
import { startApp, VERSION } from './app.ts';

const USAGE = `callseal ${VERSION} — compliance call recorder (SIPREC)

Usage:
  callseal start        run the recorder (SIP, media, recordings)
  callseal version      print the version
  callseal help         this text

Environment:
  CALLSEAL_HOME         data folder (default ./data); recordings under $CALLSEAL_HOME/recordings/
  CALLSEAL_CONFIG       JSON configuration file
  CALLSEAL_SIP_PORT     SIP UDP and TCP port (default 5060)
  CALLSEAL_RTP_PORTS    RTP port range, e.g. 20000-29999
  CALLSEAL_HTTP_PORT    HTTP port (default 8080, localhost)
  CALLSEAL_LOG_LEVEL    fatal, error, warn, info, debug, trace
`;

async function start(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`callseal: ${err.message}\n`);
      return 78;
    }
    throw err;
  }
  const log = createLogger({ level: config.log.level });
  let app;
  try {
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'callseal failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'signal received');
      void app.close().then(resolve);
    };
    process.once('SIGTERM', () => { stop('SIGTERM'); });
    process.once('SIGINT', () => { stop('SIGINT'); });
  });
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command = 'help'] = argv;
  switch (command) {
    case 'start':
      return start();
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`callseal: unknown command "${command}"\n\n${USAGE}`);
      return 64;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`callseal: ${errorMessage(err)}\n`);
  process.exitCode = 1;
});
