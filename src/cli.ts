/**
 * The command line: `callseal start | version | help`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger, silentLogger } from './common/log.ts';
import { CallsealError, ConfigError, errorMessage } from './common/errors.ts';
import { loadConfig, type Config } from './config/index.ts';
import { instanceId, openSealing, startApp, VERSION } from './app.ts';
import { KeyStore, certificatesInFolder, loadCertificates, renderReport, verifyTree } from './seal/index.ts';
import { openDatabase, RecordingRepository } from './store/index.ts';
import { join } from 'node:path';

const USAGE = `callseal ${VERSION} — compliance call recorder (SIPREC)

Usage:
  callseal start        run the recorder (SIP, media, recordings)
  callseal verify <folder> [--cert FILE]... [--json]
                        check every recording under the folder: files, signatures, hash chain
  callseal keys show    the signing certificate: subject, validity, fingerprints, chain epoch
  callseal keys export-cert
                        print the certificate (PEM)
  callseal keys csr     print a certificate signing request (PEM) for a CA
  callseal keys import-cert FILE
                        install a CA-signed certificate (and chain) for this key
  callseal keys reset --yes
                        new key and certificate; the chain starts a new epoch
  callseal version      print the version
  callseal help         this text

Environment:
  CALLSEAL_HOME         data folder (default ./data); recordings under $CALLSEAL_HOME/recordings/
  CALLSEAL_CONFIG       JSON configuration file
  CALLSEAL_SIP_PORT     SIP UDP and TCP port (default 5060)
  CALLSEAL_RTP_PORTS    RTP port range, e.g. 20000-29999
  CALLSEAL_HTTP_PORT    HTTP port (default 8080, localhost)
  CALLSEAL_LOG_LEVEL    fatal, error, warn, info, debug, trace
  CALLSEAL_KEY_SECRET   installation secret of the key store (default: $CALLSEAL_HOME/secret/)
`;

function config(): Config {
  return loadConfig();
}

async function verifyCommand(args: readonly string[]): Promise<number> {
  const certs: string[] = [];
  let folder: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--cert') certs.push(args[++i] ?? '');
    else if (a.startsWith('--cert=')) certs.push(a.slice(7));
    else if (a === '--json') json = true;
    else folder = a;
  }
  if (!folder) {
    process.stderr.write('usage: callseal verify <folder> [--cert FILE]... [--json]\n');
    return 2;
  }
  const root = resolve(folder);
  let certFiles = certs.map((c) => resolve(c));
  if (certFiles.length === 0) certFiles = await certificatesInFolder(root);
  if (certFiles.length === 0) {
    // Last resort: this installation's own certificate.
    try {
      certFiles = [join(config().home, 'keys', 'certificate.pem')];
      readFileSync(certFiles[0] ?? '');
    } catch {
      process.stderr.write('callseal verify: no certificate; give --cert FILE (the certificate the recordings were signed with)\n');
      return 2;
    }
  }
  const report = await verifyTree(root, await loadCertificates(certFiles));
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return report.ok ? 0 : 1;
}

async function keysCommand(args: readonly string[]): Promise<number> {
  const c = config();
  const [sub = 'show', ...rest] = args;
  const id = await instanceId(c.home);
  if (sub === 'reset') {
    if (!rest.includes('--yes')) {
      process.stderr.write('callseal keys reset creates a new key and starts a new chain epoch; the old key is kept under keys-epoch-<n>/. Add --yes to do it.\n');
      return 2;
    }
    const db = openDatabase(join(c.home, 'callseal.db'));
    const keys = await KeyStore.reset({ home: c.home, instanceId: id, modulusBits: c.seal.keyBits, chainExists: true, ...(process.env['CALLSEAL_KEY_SECRET'] ? { secret: process.env['CALLSEAL_KEY_SECRET'] } : {}) });
    new RecordingRepository(db).startEpoch(keys.epoch, keys.spkiSha256, Date.now());
    db.close();
    process.stdout.write(`new key for chain epoch ${keys.epoch}; certificate SHA-256 ${keys.certificateFingerprint}\n`);
    return 0;
  }
  const sealing = await openSealing(c, id, silentLogger());
  try {
    const keys = sealing.keys;
    switch (sub) {
      case 'show': {
        const d = keys.describe();
        process.stdout.write(`subject:            ${d.subject}\nissuer:             ${d.issuer}\nvalid:              ${d.notBefore} .. ${d.notAfter}\n` +
          `SHA-256 fingerprint: ${d.fingerprint}\npublic key SHA-256:  ${d.spkiSha256}\nRSA bits:           ${d.modulusBits}\nchain epoch:        ${d.epoch}\n`);
        return 0;
      }
      case 'export-cert':
        process.stdout.write(keys.certificatePem.endsWith('\n') ? keys.certificatePem : `${keys.certificatePem}\n`);
        return 0;
      case 'csr':
        process.stdout.write(`${await keys.csr(id)}\n`);
        return 0;
      case 'import-cert': {
        const file = rest[0];
        if (!file) {
          process.stderr.write('usage: callseal keys import-cert FILE\n');
          return 2;
        }
        const r = keys.importCertificate(readFileSync(file, 'utf8'));
        process.stdout.write(`certificate installed; SHA-256 ${r.fingerprint}; ${r.chainLength} CA certificate(s) in the chain\n`);
        return 0;
      }
      default:
        process.stderr.write(`callseal keys: unknown subcommand "${sub}"\n`);
        return 64;
    }
  } finally {
    sealing.close();
  }
}

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
    case 'verify':
      return verifyCommand(argv.slice(1));
    case 'keys':
      try {
        return await keysCommand(argv.slice(1));
      } catch (err) {
        if (err instanceof CallsealError || err instanceof ConfigError) {
          process.stderr.write(`callseal keys: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
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
