/**
 * The command line: `callseal start | version | help`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger, silentLogger } from './common/log.ts';
import { CallsealError, ConfigError, errorMessage } from './common/errors.ts';
import { instanceId, loadConfig, type Config } from './config/index.ts';
import { VERSION } from './version.ts';
import { auditAnchors, openSealing, certificatesInFolder, installationCertificateFiles, loadCertificates, renderReport, resetKeys, verifyTree } from './seal/index.ts';
import { AuditLog } from './web/audit.ts';
import { ChainEpochRepository, openDatabase } from './store/index.ts';
import { PolicyStore, explainSetting } from './policy/index.ts';
import { join } from 'node:path';

const USAGE = `callseal ${VERSION} — compliance call recorder (SIPREC)

Usage:
  callseal start        run the recorder (SIP, media, recordings)
  callseal verify <folder> [--fingerprint SHA256]... [--cert FILE]... [--json] [--head EPOCH:SEQ | --head-from-db]
                        check every recording under the folder: files, signatures, hash chain,
                        key rollovers and signed checkpoints; prints the fingerprint it trusted and
                        whether it was pinned; with a head, also that no recording is missing at
                        the end; --head-from-db also checks the audit trail against the checkpoints
  callseal export [--number N] [--from TIME] [--to TIME] -o FILE.zip
                        every recording of a number (caller or callee, normalised) and/or period
                        as one ZIP: sealed files, signed manifest (manifest.txt, manifest.sig),
                        certificates, verify.sh, README; fetched from storage targets when needed
  callseal keys show    the signing certificate: subject, validity, fingerprints, chain epoch,
                        and the fingerprints of earlier epochs (to pin with verify --fingerprint)
  callseal keys export-cert
                        print the certificate (PEM)
  callseal keys csr     print a certificate signing request (PEM) for a CA
  callseal keys import-cert FILE
                        install a CA-signed certificate (and chain) for this key
  callseal keys reset --yes
                        new key and certificate; the chain starts a new epoch; a rollover record
                        signed by the old key links them (recordings/chain/)
  callseal member login|logout <groupId> <userId>
                        log a user in to or out of a recording group (applies to new calls)
  callseal policy export          print the policy (directory, exception lists, settings) as JSON
  callseal policy import FILE     replace the policy from a JSON file (validated)
  callseal policy explain         one line per setting: what it records
  callseal decisions [--call-id ID] [--limit N]
                        the decision log, newest first
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
  const fingerprints: string[] = [];
  const heads: { epoch: number; sequence: number }[] = [];
  let folder: string | undefined;
  let json = false;
  let headFromDb = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--cert') certs.push(args[++i] ?? '');
    else if (a.startsWith('--cert=')) certs.push(a.slice(7));
    else if (a === '--fingerprint') fingerprints.push(args[++i] ?? '');
    else if (a.startsWith('--fingerprint=')) fingerprints.push(a.slice(14));
    else if (a === '--json') json = true;
    else if (a === '--head-from-db') headFromDb = true;
    else if (a === '--head') {
      const m = /^(\d+):(\d+)$/.exec(args[++i] ?? '');
      if (!m) {
        process.stderr.write('callseal verify: --head takes EPOCH:SEQUENCE, e.g. 1:4711\n');
        return 2;
      }
      heads.push({ epoch: Number(m[1]), sequence: Number(m[2]) });
    } else if (a.startsWith('--')) {
      process.stderr.write(`callseal verify: unknown option ${a}\n`);
      return 2;
    } else folder = a;
  }
  for (const fp of fingerprints) {
    if (!/^[0-9a-fA-F]{64}$/.test(fp.replace(/:/g, ''))) {
      process.stderr.write(`callseal verify: --fingerprint takes a SHA-256 fingerprint (64 hex digits, colons allowed), not "${fp}"\n`);
      return 2;
    }
  }
  if (!folder) {
    process.stderr.write('usage: callseal verify <folder> [--fingerprint SHA256]... [--cert FILE]... [--json] [--head EPOCH:SEQ | --head-from-db]\n');
    return 2;
  }
  const root = resolve(folder);
  let audit: { entries: number; brokenAt: number | undefined; anchoredAt?: number | undefined } | undefined;
  if (headFromDb) {
    // The installation's own chain heads: the tree must reach each of them.
    const db = openDatabase(join(config().home, 'callseal.db'));
    try {
      for (const h of new ChainEpochRepository(db).all()) if (h.seq > 0) heads.push({ epoch: h.epoch, sequence: h.seq, ...(h.base ? { base: h.base } : {}) });
      // The audit trail against the signed checkpoints of the tree (issue 7), with this installation's keys.
      const keys = (await loadCertificates(installationCertificateFiles(config().home))).map((c) => c.key);
      audit = new AuditLog(db, { anchors: () => auditAnchors(root, keys) }).verify();
    } finally {
      db.close();
    }
  }
  const pinnedCertificates = await loadCertificates(certs.map((c) => resolve(c)));
  if (pinnedCertificates.length === 0 && fingerprints.length === 0 && (await certificatesInFolder(root)).length === 0) {
    // Last resort: this installation's own certificate, pinned (it is not part of the tree).
    const own = join(config().home, 'keys', 'certificate.pem');
    if (!existsSync(own)) {
      process.stderr.write('callseal verify: no certificate; give --fingerprint (from the printed certificate) or --cert FILE\n');
      return 2;
    }
    pinnedCertificates.push(...await loadCertificates([own]));
  }
  let report = await verifyTree(root, { pinnedCertificates, fingerprints }, heads);
  if (audit?.brokenAt !== undefined) {
    report = { ...report, ok: false, findings: [...report.findings, { kind: 'audit-rewritten', recording: '-', message: `the audit trail in the database breaks at entry #${audit.brokenAt}: it does not match its own hash chain or the head in the signed checkpoints` }] };
  }
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
    try {
      const { keys, oldKeyProblem } = await resetKeys({
        home: c.home, instanceId: id, modulusBits: c.seal.keyBits, chainExists: true, db, recordingsRoot: join(c.home, 'recordings'),
        ...(process.env['CALLSEAL_KEY_SECRET'] ? { secret: process.env['CALLSEAL_KEY_SECRET'] } : {}),
      });
      process.stdout.write(`new key for chain epoch ${keys.epoch}; certificate SHA-256 ${keys.certificateFingerprint}\n` +
        `rollover record: recordings/chain/rollover-epoch${keys.epoch}.txt\n`);
      if (oldKeyProblem !== undefined) {
        process.stderr.write(`WARNING: the rollover record is not signed by the old key (${oldKeyProblem}).\n` +
          `Verification reports this break in the key chain; auditors bridge it only by pinning the new key: --fingerprint ${keys.certificateFingerprint}\n`);
      }
    } finally {
      db.close();
    }
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
        // Earlier epochs' keys, kept by "keys reset": an auditor may pin any of them (verify --fingerprint).
        for (const cert of await loadCertificates(installationCertificateFiles(c.home))) {
          if (cert.spki !== d.spkiSha256) process.stdout.write(`earlier key:        ${cert.fingerprint} (${cert.file})\n`);
        }
        process.stdout.write('pin with:           callseal verify <recordings> --fingerprint <SHA-256 fingerprint>\n');
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
    // Loaded here, not at the top: the other commands (verify, keys) start without the recorder's modules.
    const { startApp } = await import('./app.ts');
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'callseal failed to start');
    // A configuration problem found while starting (first admin password, TLS files) exits like a bad config file.
    return err instanceof ConfigError ? 78 : 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'signal received');
      // A failed shutdown step was logged by close(), which still ran every other step.
      app.close().then(() => { resolve(0); }, () => { resolve(1); });
    };
    process.once('SIGTERM', () => { stop('SIGTERM'); });
    process.once('SIGINT', () => { stop('SIGINT'); });
  });
}

/** Commands on the policy tables of CALLSEAL_HOME (they take effect for calls that start afterwards). */
function policyCommand(command: string, args: readonly string[]): number {
  const c = config();
  const db = openDatabase(join(c.home, 'callseal.db'));
  try {
    const store = new PolicyStore(db);
    const actor = `cli:${process.env['USER'] ?? 'unknown'}`;
    if (command === 'member') {
      const [action, groupId, userId] = args;
      if ((action !== 'login' && action !== 'logout') || !groupId || !userId) {
        process.stderr.write('usage: callseal member login|logout <groupId> <userId>\n');
        return 2;
      }
      store.setMembership(groupId, userId, action === 'login', actor);
      process.stdout.write(`${userId} ${action === 'login' ? 'logged in to' : 'logged out of'} ${groupId}\n`);
      return 0;
    }
    if (command === 'decisions') {
      const callIdAt = args.indexOf('--call-id');
      const limitAt = args.indexOf('--limit');
      const rows = store.decisions({
        ...(callIdAt >= 0 ? { callId: args[callIdAt + 1] ?? '' } : {}), limit: limitAt >= 0 ? Number(args[limitAt + 1]) : 50,
      });
      for (const r of rows) process.stdout.write(`${new Date(r.atMs).toISOString()} ${r.callId} ${r.event} ${r.record ? 'RECORD' : 'skip  '} ${r.caller} -> ${r.callee} [${r.direction}] ${r.reason}\n`);
      return 0;
    }
    const [sub, file] = args;
    if (sub === 'export') {
      process.stdout.write(`${JSON.stringify(store.load().policy, null, 2)}\n`);
      return 0;
    }
    if (sub === 'import' && file) {
      const version = store.save(JSON.parse(readFileSync(file, 'utf8')) as never, actor);
      process.stdout.write(`policy version ${version} saved\n`);
      return 0;
    }
    if (sub === 'explain') {
      const p = store.load().policy;
      p.settings.forEach((st, i) => { process.stdout.write(`${i + 1}. ${st.name}: ${explainSetting(st, p)}\n`); });
      return 0;
    }
    process.stderr.write('usage: callseal policy export | import FILE | explain\n');
    return 2;
  } finally {
    db.close();
  }
}

/** Recordings, spool, database, keys and cache are for this user only, whatever umask it was started with. */
const UMASK = 0o077;

async function main(argv: readonly string[]): Promise<number> {
  // Before any command creates a file: every file under CALLSEAL_HOME is 0600, every folder 0700.
  process.umask(UMASK);
  const [command = 'help'] = argv;
  switch (command) {
    case 'start':
      return start();
    case 'verify':
      return verifyCommand(argv.slice(1));
    case 'member':
    case 'policy':
    case 'decisions':
      try {
        return policyCommand(command, argv.slice(1));
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`callseal ${command}: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    case 'export':
      try {
        const { exportCommand } = await import('./export-command.ts');
        return await exportCommand(config(), argv.slice(1));
      } catch (err) {
        if (err instanceof CallsealError || err instanceof ConfigError) {
          process.stderr.write(`callseal export: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
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
