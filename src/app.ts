/**
 * Composition root: the only file that knows every module. Opens the database and key store,
 * seals what a previous process left unfinished, starts media workers, SIP transports and the
 * SIPREC server, seals every finished recording, and serves `GET /healthz` and `GET /readyz`.
 * Failures reach the call (invariant 3): a failed media worker ends its sessions and is replaced,
 * storage below its floor or an unwritable database refuses new sessions, each with an alert.
 */
import { chmod, copyFile, mkdir, readFile, statfs, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from './common/log.ts';
import { CallsealError, ConfigError, errorMessage } from './common/errors.ts';
import { advertisedAddress, type Config } from './config/index.ts';
import { DEFAULT_ALLOW, SipStack, SipTransport, SourceAllowlist } from './sip/index.ts';
import { MediaEngine } from './media/index.ts';
import { RecordingStore, type FinishedRecording } from './recording/index.ts';
import { SiprecServer } from './siprec/index.ts';
import { openDatabase, RecordingRepository } from './store/index.ts';
import { KeyStore, Sealer, type SealedRecording } from './seal/index.ts';
import { DEFAULT_RETENTION, PolicyEngine, PolicyStore, retentionEndMs } from './policy/index.ts';
import { buildApi } from './web/api.ts';
import { AccountStore } from './web/accounts.ts';
import { AuditLog } from './web/audit.ts';
import { Checkpointer, RolloverStore, auditAnchors, installationCertificateFiles, loadCertificates, writeRollover } from './seal/index.ts';
import { AlertSettings, Alerts, Outbox, TargetRegistry, type Destination } from './archive/index.ts';
import { SqlLogRegistry } from './sqllog/index.ts';
import { SecretBox } from './common/secretbox.ts';

/** callseal's version, written into every metadata file. */
export const VERSION = '0.1.0';

/** A running callseal. */
export interface App {
  readonly config: Config;
  readonly instanceId: string;
  readonly ports: { readonly sipUdp: number; readonly sipTcp: number | undefined; readonly sipTls: number | undefined; readonly http: number };
  readonly siprec: SiprecServer;
  readonly media: MediaEngine;
  readonly store: RecordingStore;
  readonly keys: KeyStore;
  readonly recovered: readonly SealedRecording[];
  close(): Promise<void>;
}

/** The instance id, created on first start. */
export async function instanceId(home: string): Promise<string> {
  const file = join(home, 'instance-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  await mkdir(home, { recursive: true });
  await writeFile(file, `${id}\n`, { flag: 'wx' });
  return id;
}

/** Opens the database and key store; starts the chain epoch of a new key. */
export async function openSealing(config: Config, id: string, log: Logger): Promise<{ db: DatabaseSync; repo: RecordingRepository; keys: KeyStore; close: () => void }> {
  const db = openDatabase(join(config.home, 'callseal.db'));
  const repo = new RecordingRepository(db);
  const head = repo.currentHead();
  const { store: keys, created } = await KeyStore.open({
    home: config.home, instanceId: id, modulusBits: config.seal.keyBits, chainExists: head !== undefined,
    ...(process.env['CALLSEAL_KEY_SECRET'] ? { secret: process.env['CALLSEAL_KEY_SECRET'] } : {}),
  });
  if (!head || head.epoch < keys.epoch) repo.startEpoch(keys.epoch, keys.spkiSha256, Date.now());
  else if (head.epoch > keys.epoch || head.spkiSha256 !== keys.spkiSha256) {
    db.close();
    throw new CallsealError('CS_KEYSTORE_DAMAGED', `the key store (epoch ${keys.epoch}) is not the key of the chain (epoch ${head.epoch}); restore the key store or run "callseal keys reset"`);
  }
  const d = keys.describe();
  log.info({ created, subject: d.subject, fingerprintSha256: d.fingerprint, publicKeySha256: d.spkiSha256, epoch: d.epoch, modulusBits: d.modulusBits, notAfter: d.notAfter }, created ? 'signing key and certificate created' : 'signing certificate');
  return { db, repo, keys, close: () => { db.close(); } };
}

/** Starts callseal with a validated configuration. */
export async function startApp(config: Config, log: Logger): Promise<App> {
  await mkdir(join(config.home, 'recordings'), { recursive: true });
  await mkdir(join(config.home, 'spool'), { recursive: true });
  const id = await instanceId(config.home);
  const sealing = await openSealing(config, id, log);
  const { repo, keys } = sealing;
  const store = new RecordingStore({
    home: config.home, directoryTemplate: config.recording.directoryTemplate, timeZone: config.recording.timeZone,
    instanceId: id, recorder: `callseal ${VERSION}`, log,
  });
  // The certificate and the stand-alone verifier travel with the recordings (E6).
  await writeFile(join(store.recordingsRoot, 'callseal-cert.pem'), keys.certificatePem);
  await writeFile(join(store.recordingsRoot, `callseal-cert-epoch${keys.epoch}.pem`), keys.certificatePem);
  await copyFile(new URL('../tools/verify.sh', import.meta.url), join(store.recordingsRoot, 'verify.sh'));
  // copyFile keeps the source's 0755 whatever the umask; the recordings tree is owner only.
  await chmod(join(store.recordingsRoot, 'verify.sh'), 0o700);
  // The rollover records travel with the recordings too (issue 6); the database holds the originals.
  for (const r of new RolloverStore(sealing.db).list()) writeRollover(store.recordingsRoot, r);
  // This installation's keys, never certificates found in the tree (invariant 7).
  const epochKeys = [keys.publicKey, ...(await loadCertificates(installationCertificateFiles(config.home))).map((c) => c.key)];
  const sealer = new Sealer({ keys, repo, log });
  const policyStore = new PolicyStore(sealing.db, config.recording.channels);
  const policy = new PolicyEngine(policyStore, config.numbers, log);
  const box = new SecretBox(config.home);
  // F4: a cloud sign-in that expired or lost its consent is mailed at once (alerts is set up below).
  const targets = new TargetRegistry(sealing.db, box, {
    onSignInLost: (targetId, message) => { noteError(`archive target ${targetId}: ${message}`); void alerts.signInLost(targetId, message); },
  });
  const sqlLogs = new SqlLogRegistry(sealing.db, box, log);
  const destination = (destId: string): Destination | undefined => {
    const t = targets.get(destId);
    if (t) return { kind: 'files', ...t };
    const log = sqlLogs.get(destId);
    if (!log) return undefined;
    return {
      kind: 'row',
      insert: async (recId: string) => {
        const r = repo.row(recId);
        if (!r) throw new Error(`recording ${recId} is unknown`);
        await log.insert({
          basefilename: r.baseName, direction: r.direction, time: r.startMs, callid: r.callId,
          callername: r.callerName, caller: r.callerNumber, callee: r.calleeNumber, setting: r.setting, signature: r.signature, recording_id: r.id,
          end_time: r.endMs, callee_name: r.calleeName, interrupted: r.interrupted ? 1 : 0, chain_epoch: r.chainEpoch, chain_seq: r.chainSeq,
        });
      },
    };
  };
  const outbox = new Outbox({
    db: sealing.db, log, timeZone: config.recording.timeZone, retryBaseMs: config.archive.retryBaseMs, retryMaxMs: config.archive.retryMaxMs, tickMs: config.archive.tickMs,
    destination,
    recording: (recId) => {
      const r = repo.get(recId);
      return r ? { id: recId, dir: join(store.recordingsRoot, r.dir), files: r.files, startMs: r.startMs } : undefined;
    },
  });
  const alertSettings = new AlertSettings(sealing.db, box, config.alerts.smtp);
  const alerts = new Alerts(alertSettings.current().smtp, id, log);
  // The dashboard's "last errors".
  const lastErrors: { atMs: number; message: string }[] = [];
  const noteError = (message: string): void => {
    lastErrors.unshift({ atMs: Date.now(), message });
    lastErrors.length = Math.min(lastErrors.length, 20);
  };
  outbox.on('failing', (e) => { noteError(`archive target ${e.targetId} failing: ${e.error}`); });
  outbox.on('failing', (e) => { void alerts.targetFailing(e.targetId, e.error, e.sinceMs); });
  outbox.on('recovered', (e) => { void alerts.targetRecovered(e.targetId, e.failedForMs); });
  const pending = new Set<Promise<unknown>>();

  const sealAndComplete = async (finished: FinishedRecording): Promise<SealedRecording | undefined> => {
    if (repo.has(finished.facts.id)) {
      await store.complete(finished.facts.id);
      return undefined;
    }
    const sealed = await sealer.seal(finished);
    // The copy jobs are durable before the spool goes: a crash here loses no archive job.
    outbox.enqueue(finished.facts.id, finished.facts.targetIds ?? [], { retainUntilMs: retentionEndMs(finished.facts.startMs, finished.facts.retention ?? DEFAULT_RETENTION) });
    await store.complete(finished.facts.id);
    log.info({ recordingId: finished.facts.id, callId: finished.facts.callId, dir: finished.dir, base: finished.facts.baseName, chainSeq: sealed.chain.sequence, interrupted: finished.facts.interrupted, files: sealed.files }, 'recording finished');
    return sealed;
  };

  // Invariant 1: recordings left by a crash are finished and sealed before new calls are taken.
  const recovered: SealedRecording[] = [];
  const left = (await store.recover()).sort((a, b) => a.facts.endMs - b.facts.endMs || a.facts.startMs - b.facts.startMs);
  for (const f of left) {
    const s = await sealAndComplete(f);
    if (s) recovered.push(s);
  }

  // Accounts and the web UI's TLS files are checked before anything listens: a bad first admin
  // password or an unreadable certificate stops start-up cleanly.
  const accounts = new AccountStore(sealing.db, { idleMinutes: config.http.sessionIdleMinutes, maxHours: config.http.sessionMaxHours });
  // The audit head is anchored outside the database, in signed checkpoints (issue 7).
  const audit = new AuditLog(sealing.db, { anchors: () => auditAnchors(store.recordingsRoot, epochKeys) });
  const checkpoints = new Checkpointer({ recordingsRoot: store.recordingsRoot, keys, chainHead: () => repo.currentHead(), auditHead: () => audit.head(), log });
  let tls: { cert: Buffer; key: Buffer } | undefined;
  try {
    await firstAdmin(accounts, log);
    tls = config.http.tls ? { cert: readConfigFile('http.tls.certFile', config.http.tls.certFile), key: readConfigFile('http.tls.keyFile', config.http.tls.keyFile) } : undefined;
    if (config.sip.tls.enabled && config.sip.tls.clientCaFile !== undefined) readConfigFile('sip.tls.clientCaFile', config.sip.tls.clientCaFile);
  } catch (err) {
    sealing.close();
    throw err;
  }

  const media = new MediaEngine({
    host: config.rtp.host, portMin: config.rtp.portMin, portMax: config.rtp.portMax,
    ...(config.rtp.workers > 0 ? { workers: config.rtp.workers } : {}), sourceCheck: config.rtp.sourceCheck, log,
  });
  await media.start();

  // Issue 3: only known SRCs reach the SIP stack; without sip.allow, loopback and private ranges.
  const allow = new SourceAllowlist(config.sip.allow ?? DEFAULT_ALLOW);
  if (config.sip.allow === undefined) {
    log.warn({ allow: DEFAULT_ALLOW }, 'sip.allow is not set: SIP accepts loopback and private networks; list the SRC addresses in sip.allow');
  }
  const sipTls = config.sip.tls;
  const transport = new SipTransport({
    host: config.sip.host, udpPort: config.sip.port, tcp: config.sip.tcp, maxMessageBytes: config.sip.maxMessageBytes, log, allow,
    maxConnections: config.sip.maxConnections, maxConnectionsPerSource: config.sip.maxConnectionsPerSource,
    incompleteMessageTimeoutMs: config.sip.incompleteMessageTimeoutMs, idleTimeoutMs: config.sip.connectionIdleTimeoutMs,
    tls: sipTls.enabled && sipTls.certFile && sipTls.keyFile
      ? { port: sipTls.port, certFile: sipTls.certFile, keyFile: sipTls.keyFile, clientCaFile: sipTls.clientCaFile, requireClientCert: sipTls.requireClientCert } : undefined,
  });
  const t1 = config.sip.t1Ms;
  const stack = new SipStack(transport, log, { t1, t2: Math.max(4000, t1), t4: 5000 }, {
    allow, maxServerTransactions: config.sip.maxTransactions,
    ...(config.sip.maxTransactionsPerSource > 0 ? { maxServerTransactionsPerSource: config.sip.maxTransactionsPerSource } : {}),
  });
  const sipAddress = advertisedAddress(config.sip.host, config.sip.advertisedAddress);
  let bound;
  try {
    bound = await transport.listen();
  } catch (err) {
    await media.close();
    sealing.close();
    throw err;
  }
  const siprec = new SiprecServer({
    stack, media, store, log, sipAddress, sipPort: bound.udp, sipTcpPort: bound.tcp, sipTlsPort: bound.tls,
    minSessionExpiresSec: config.sip.minSessionExpiresSec,
    rtpHost: config.rtp.host, rtpAddress: advertisedAddress(config.rtp.host, config.rtp.advertisedAddress ?? config.sip.advertisedAddress),
    channels: config.recording.channels, reorderMs: config.rtp.reorderMs, mediaTimeoutSec: config.recording.mediaTimeoutSec,
    answerDelayMs: config.sip.answerDelayMs,
    admission: {
      newSessionsPerSecondPerSource: config.sip.maxNewSessionsPerSecondPerSource, newSessionBurstPerSource: config.sip.maxNewSessionBurstPerSource,
      maxSessionsPerSource: config.sip.maxSessionsPerSource, maxSessions: config.sip.maxSessions,
    },
    decide: (facts) => {
      const d = policy.decide({
        callId: facts.callId, caller: facts.caller.aor || facts.caller.number, callee: facts.callee.aor || facts.callee.number,
        diversions: facts.diversions, directionHint: facts.direction === 'unknown' ? undefined : facts.direction, atMs: Date.now(),
      }, facts.event);
      const s = d.settingId !== undefined ? policy.current().compiled.policy.settings.find((x) => x.id === d.settingId) : undefined;
      const retention = s ? { years: s.retentionYears, days: s.retentionDays } : DEFAULT_RETENTION;
      return { record: d.record, setting: d.settingName ?? '', reason: d.reason, channels: d.channels, stopCode: d.stopCode, internalParty: d.internalParty, direction: d.direction, targetIds: s?.targetIds ?? [], retention };
    },
  });
  media.onDtmf((legId, digit, atMs) => { siprec.onDtmf(legId, digit, atMs); });
  media.onLegFailed((legId, err) => { siprec.onLegFailed(legId, err); });
  // Invariant 3: a media worker that dies ends its calls visibly (BYE with Reason) and is replaced.
  media.on('workerFailed', (f) => {
    const calls = siprec.onWorkerFailed(f.legIds, f.reason);
    const text = `media worker ${f.workerIndex} failed (${f.reason}); ${calls.length} recording(s) ended and sealed with what was written, the SRC told by BYE; a new worker is started`;
    noteError(text);
    void alerts.send('media worker failed', `${text}\n\nCall-IDs ended:\n${calls.join('\n') || '(none)'}\n`);
  });
  siprec.on('recorded', (finished) => {
    const p = sealAndComplete(finished).catch((err: unknown) => {
      // The spool keeps finished.json: the next start seals it.
      log.error({ recordingId: finished.facts.id, err: errorMessage(err) }, 'recording could not be sealed; kept for the next start');
      noteError(`recording ${finished.facts.id} could not be sealed: ${errorMessage(err)}`);
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  });

  // What /healthz and /readyz report; filled in by the storage checks below.
  const storage: { freeMb: number | undefined; writable: boolean | undefined; problem: string | undefined; checkedAtMs: number | undefined } = { freeMb: undefined, writable: undefined, problem: undefined, checkedAtMs: undefined };
  const database: { writable: boolean | undefined; problem: string | undefined; checkedAtMs: number | undefined } = { writable: undefined, problem: undefined, checkedAtMs: undefined };
  let started = false;
  let closing: Promise<void> | undefined;
  const healthParts = (): Record<'sip' | 'media' | 'storage' | 'database', { readonly ok: boolean; readonly [k: string]: unknown }> => {
    const m = media.health;
    return {
      sip: { ok: closing === undefined, listening: { udp: bound.udp, tcp: bound.tcp, tls: bound.tls } },
      media: { ok: m.configured > 0 && m.running === m.configured, ...m },
      storage: { ok: storage.problem === undefined && storage.writable !== false, ...storage, minFreeMb: config.recording.minFreeMb, stopFreeMb: config.recording.stopFreeMb },
      database: { ok: database.problem === undefined, ...database },
    };
  };
  const startedMs = Date.now();
  let httpPort: number;
  let api: Awaited<ReturnType<typeof buildApi>>;
  try {
    api = await buildApi({
      policy: policyStore, numbers: config.numbers, token: apiToken(config.home), log, targets, sqlLogs, outbox, alerts, alertSettings, accounts, audit,
      tls,
      login: {
        failuresPerAddressPerMinute: config.http.loginAttemptsPerMinute, backoffAfterFailures: config.http.loginBackoffAfterFailures,
        backoffBaseMs: 1000, backoffMaxMs: config.http.loginBackoffMaxSeconds * 1000,
      },
      uiRoot: fileURLToPath(new URL('../ui/dist', import.meta.url)),
      health: () => {
        const parts = healthParts();
        const failing = Object.entries(parts).filter(([, p]) => !p.ok).map(([name]) => name);
        return {
          status: failing.length === 0 ? 'ok' : 'failing', failing, parts, instanceId: id, live: siprec.live().length, openLegs: media.openLegs, sealed: repo.count(), sip: stack.stats, siprec: siprec.stats,
        // Issue 3: refusals and the size of every bounded table, so a flood and its end are visible.
        transport: transport.stats,
        tables: { serverTransactions: stack.serverTransactionCount, clientTransactions: stack.clientTransactionCount, ...siprec.tables, connections: transport.stats.connections },
        memory: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed },
        };
      },
      ready: () => {
        const reasons: string[] = [];
        if (!started) reasons.push('starting');
        if (closing !== undefined) reasons.push('shutting down');
        const block = siprec.intakeBlock;
        if (block !== undefined) reasons.push(block);
        if (media.health.running === 0) reasons.push('no media worker running');
        return { ready: reasons.length === 0, reasons };
      },
      recordings: {
        repo, recordingsRoot: store.recordingsRoot, keys: () => epochKeys, cacheRoot: join(config.home, 'cache'),
        certificateFile: (epoch) => join(store.recordingsRoot, `callseal-cert-epoch${epoch}.pem`),
      },
      ops: {
        recordingsRoot: store.recordingsRoot, diskWarnPercent: config.http.diskWarnPercent,
        live: () => siprec.live(),
        onLiveChange: (listener) => {
          siprec.on('started', listener);
          siprec.on('recorded', listener);
          return () => { siprec.off('started', listener); siprec.off('recorded', listener); };
        },
        sip: () => ({ listening: { udp: bound.udp, tcp: bound.tcp, tls: bound.tls }, stats: { ...stack.stats, ...siprec.stats } }),
        sealedSince: (ms) => repo.countSince(ms), sealedTotal: () => repo.count(), lastErrors: () => lastErrors,
        certificate: () => ({ ...keys.describe(), pem: keys.certificatePem }),
        csr: () => keys.csr(id), startedMs, version: VERSION,
      },
    });
    await api.listen({ port: config.http.port, host: config.http.host });
    const a = api.server.address();
    httpPort = typeof a === 'object' && a ? a.port : config.http.port;
  } catch (err) {
    await Promise.all([transport.close(), media.close()]);
    sealing.close();
    throw err;
  }

  outbox.start();
  checkpoints.start();
  // Warn before the disk runs out: one mail (and dashboard entry) when free space falls below
  // http.diskWarnPercent, one when it is back.
  let diskLow = false;
  const checkDiskWarning = async (percent: number): Promise<void> => {
    if (percent < config.http.diskWarnPercent && !diskLow) {
      diskLow = true;
      const text = `free disk space for recordings is ${percent.toFixed(1)} % (warning below ${config.http.diskWarnPercent} %): ${store.recordingsRoot}`;
      noteError(text);
      await alerts.send('disk space low', `${text}\n`);
    } else if (percent >= config.http.diskWarnPercent && diskLow) {
      diskLow = false;
      await alerts.send('disk space recovered', `free disk space for recordings is ${percent.toFixed(1)} % again\n`);
    }
  };
  // Invariant 3: storage and database are checked every recording.storageCheckMs. Below
  // recording.minFreeMb, or when the spool or the database cannot be written, new sessions get 503;
  // below recording.stopFreeMb running recordings are ended and sealed before the disk is full.
  const { minFreeMb, stopFreeMb } = config.recording;
  // One small file rewritten in place: no file comes and goes in the spool or recordings tree.
  const storageProbe = join(config.home, '.storage-probe');
  let storageBlock: string | undefined;
  let databaseBlock: string | undefined;
  let stoppedForDisk = false;
  const checkStorage = async (): Promise<void> => {
    const fs = await statfs(store.recordingsRoot);
    const freeMb = (fs.bavail * fs.bsize) / (1024 * 1024);
    storage.freeMb = Math.floor(freeMb);
    storage.checkedAtMs = Date.now();
    let problem: string | undefined;
    try {
      await writeFile(storageProbe, `${Date.now()}\n`, { mode: 0o600 });
      storage.writable = true;
    } catch (err) {
      storage.writable = false;
      problem = `recordings storage not writable: ${errorMessage(err)}`;
    }
    if (problem === undefined && freeMb < minFreeMb) problem = `free space for recordings ${freeMb.toFixed(0)} MiB is below the floor of ${minFreeMb} MiB (recording.minFreeMb)`;
    storage.problem = problem;
    if (freeMb < stopFreeMb && !stoppedForDisk) {
      stoppedForDisk = true;
      const ended = siprec.endRecordings(`disk-low: ${freeMb.toFixed(0)} MiB free, below recording.stopFreeMb (${stopFreeMb} MiB)`);
      if (ended.length > 0) {
        const text = `free space for recordings ${freeMb.toFixed(0)} MiB is below ${stopFreeMb} MiB (recording.stopFreeMb): ${ended.length} running recording(s) ended and sealed`;
        noteError(text);
        void alerts.send('recordings ended: disk nearly full', `${text}\n\nCall-IDs:\n${ended.join('\n')}\n`);
      }
    } else if (freeMb >= stopFreeMb) stoppedForDisk = false;
    if (problem !== undefined && storageBlock === undefined) {
      noteError(problem);
      void alerts.send('new calls refused: storage', `${problem}\n\nNew recording sessions get 503 until this is resolved: ${store.recordingsRoot}\n`);
    } else if (problem === undefined && storageBlock !== undefined) {
      void alerts.send('new calls taken again: storage', `storage is usable again (${freeMb.toFixed(0)} MiB free); new recording sessions are taken\n`);
    }
    storageBlock = problem;
    await checkDiskWarning(fs.blocks > 0 ? (fs.bavail / fs.blocks) * 100 : 100);
  };
  const checkDatabase = (): void => {
    let problem: string | undefined;
    try {
      sealing.db.prepare("INSERT INTO meta (key, value) VALUES ('health.write-probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(Date.now()));
    } catch (err) {
      problem = `database not writable: ${errorMessage(err)}`;
    }
    database.writable = problem === undefined;
    database.problem = problem;
    database.checkedAtMs = Date.now();
    if (problem !== undefined && databaseBlock === undefined) {
      noteError(problem);
      void alerts.send('new calls refused: database', `${problem}\n\nNew recording sessions get 503 until the database can be written again.\n`);
    } else if (problem === undefined && databaseBlock !== undefined) {
      void alerts.send('new calls taken again: database', 'the database can be written again; new recording sessions are taken\n');
    }
    databaseBlock = problem;
  };
  const checkAll = async (): Promise<void> => {
    try {
      await checkStorage();
    } catch (err) {
      storage.problem = `storage check failed: ${errorMessage(err)}`;
      storageBlock = storage.problem;
      log.warn({ err: errorMessage(err) }, 'storage check failed');
    }
    checkDatabase();
    siprec.setIntake(databaseBlock !== undefined ? { code: 'CS_DATABASE_UNWRITABLE', text: databaseBlock }
      : storageBlock !== undefined ? { code: 'CS_STORAGE_LOW', text: storageBlock } : undefined);
  };
  let checking = false;
  const diskTimer = setInterval(() => {
    if (checking) return;
    checking = true;
    void checkAll().finally(() => { checking = false; });
  }, config.recording.storageCheckMs);
  diskTimer.unref();
  await checkAll();
  started = true;
  // Logged once /readyz reports ready: tests and operators take this line as "taking calls".
  log.info({
    instanceId: id, home: config.home, sipUdp: `${config.sip.host}:${bound.udp}`, sipTcp: bound.tcp !== undefined ? `${config.sip.host}:${bound.tcp}` : 'off',
    sipTls: bound.tls !== undefined ? `${config.sip.host}:${bound.tls}` : 'off', rtp: `${config.rtp.host}:${config.rtp.portMin}-${config.rtp.portMax}`,
    http: `http://${config.http.host}:${httpPort}`, recordings: store.recordingsRoot, recovered: recovered.length, sealed: repo.count(),
  }, 'callseal listening');

  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info('shutting down: ending running recordings');
      clearInterval(diskTimer);
      // A recording waiting for disk space stays in the spool for the next start instead of blocking shutdown.
      store.close();
      await siprec.close();
      await Promise.allSettled([...pending]);
      outbox.close();
      await targets.close();
      await sqlLogs.close();
      stack.close();
      await transport.close();
      await media.close();
      await api.close();
      checkpoints.close();
      sealing.close();
      log.info('stopped');
    })().catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'shutdown failed');
    });
    return closing;
  };
  return {
    config, instanceId: id, ports: { sipUdp: bound.udp, sipTcp: bound.tcp, sipTls: bound.tls, http: httpPort },
    siprec, media, store, keys, recovered, close,
  };
}

/** Reads a file named in the configuration; a failure names the field. */
function readConfigFile(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('CS_CONFIG_INVALID', [{ path: field, message: `cannot read ${path}: ${errorMessage(err)}` }]);
  }
}

/**
 * The first admin account, created on the first start: password from CALLSEAL_ADMIN_PASSWORD, or
 * generated and printed once in the log (it is stored only as an argon2id hash).
 */
async function firstAdmin(accounts: AccountStore, log: Logger): Promise<void> {
  if (accounts.count() > 0) return;
  const given = process.env['CALLSEAL_ADMIN_PASSWORD'];
  if (given !== undefined && given !== '' && given.length < 12) {
    throw new ConfigError('CS_CONFIG_INVALID', [{ path: 'CALLSEAL_ADMIN_PASSWORD', message: 'at least 12 characters' }]);
  }
  const password = given !== undefined && given !== '' ? given : randomBytes(15).toString('base64url');
  await accounts.create({ username: 'admin', displayName: 'Administrator', roles: ['admin'], password });
  if (given !== undefined && given !== '') log.warn({ username: 'admin' }, 'first admin account created with the password from CALLSEAL_ADMIN_PASSWORD');
  else log.warn({ username: 'admin', initialPassword: password }, 'first admin account created; this password is shown only once: log in and change it');
}

/** The API bearer token: CALLSEAL_API_TOKEN, or secret/api-token (created with mode 0600). */
export function apiToken(home: string): string {
  const env = process.env['CALLSEAL_API_TOKEN'];
  if (env !== undefined && env !== '') return env;
  const dir = join(home, 'secret');
  const file = join(dir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
