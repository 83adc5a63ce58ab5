/**
 * Composition root: the only file that knows every module. It wires them and owns the order of
 * start-up and shutdown, and holds no logic of its own: opening the database and key store and the
 * verification kit are in `seal/installation.ts`, sealing and crash recovery in `seal/finisher.ts`,
 * the storage and database checks and what `/healthz` and `/readyz` say in `health/`, the outbox's
 * destinations in `archive/sqllog/destination.ts`, the first admin and the API token in `web/`.
 *
 * Every resource is registered with the teardown as it is opened, so a start that fails midway
 * closes exactly what it had opened, in reverse order, and `close()` runs the same steps (each one
 * even when another throws). The order of opening is chosen so that its reverse is the order of
 * shutdown: the intake stops, calls end and are sealed, then SIP and media go, then the last
 * checkpoint is signed, and the database closes last.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from './common/log.ts';
import { errorMessage } from './common/errors.ts';
import { Teardown } from './common/teardown.ts';
import { advertisedAddress, instanceId, readConfiguredFile, type Config } from './config/index.ts';
import { DEFAULT_ALLOW, SipStack, SipTransport, SourceAllowlist } from './sip/index.ts';
import { MediaEngine } from './media/index.ts';
import { Spool } from './recording/index.ts';
import { SiprecServer } from './siprec/index.ts';
import { InlineRecordings, InlineServer } from './b2bua/index.ts';
import { MetaRepository } from './store/index.ts';
import { Checkpointer, Finisher, KeyStore, Sealer, auditAnchors, installationKeys, openSealing, publishVerificationKit, type SealedRecording } from './seal/index.ts';
import { PolicyEngine, PolicyStore, settingAnnouncementIds } from './policy/index.ts';
import { AnnouncementLibrary } from './announce/index.ts';
import { buildApi } from './web/api.ts';
import { AccountStore, ensureFirstAdmin } from './web/accounts.ts';
import { AuditLog } from './web/audit.ts';
import { apiToken } from './web/token.ts';
import { AlertSettings, Alerts, Outbox, SqlLogRegistry, TargetRegistry, createRetention, destinationResolver } from './archive/index.ts';
import { systemClock } from './common/clock.ts';
import { IntakeMonitor, RecentErrors, healthParts, healthReport, readiness } from './health/index.ts';
import { SecretBox } from './common/secretbox.ts';
import { VERSION } from './version.ts';
import { WebhookRepository } from './store/index.ts';
import { LiveEventFeed, WebhookEndpoints, Webhooks } from './webhooks/index.ts';

/** callseal's version, written into every metadata file. */
export { VERSION };

/** A running callseal. */
export interface App {
  readonly config: Config;
  readonly instanceId: string;
  readonly ports: { readonly sipUdp: number; readonly sipTcp: number | undefined; readonly sipTls: number | undefined; readonly http: number };
  readonly siprec: SiprecServer;
  readonly media: MediaEngine;
  readonly spool: Spool;
  readonly keys: KeyStore;
  readonly recovered: readonly SealedRecording[];
  /**
   * Ends running recordings, seals them and closes everything; idempotent. Every step runs even
   * when one fails; then it rejects with a `TeardownError` listing each failed step.
   */
  close(): Promise<void>;
}

/**
 * Starts callseal with a validated configuration. If any step fails, what was opened before it is
 * closed again (in reverse order) and the first error is thrown: no port, socket, worker or timer
 * is left behind.
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const teardown = new Teardown(log);
  try {
    return await start(config, log, teardown);
  } catch (err) {
    await teardown.run().catch((cleanupErr: unknown) => {
      // Each failed step was logged by the teardown; the start's own error is the one that counts.
      log.error({ err: errorMessage(cleanupErr) }, 'clean-up after the failed start was incomplete');
    });
    throw err;
  }
}

async function start(config: Config, log: Logger, teardown: Teardown): Promise<App> {
  await mkdir(join(config.home, 'recordings'), { recursive: true });
  await mkdir(join(config.home, 'spool'), { recursive: true });
  const id = await instanceId(config.home);
  const sealing = await openSealing(config, id, log);
  teardown.add('database', () => { sealing.close(); });
  const { db, repo, keys } = sealing;
  const spool = new Spool({
    home: config.home, directoryTemplate: config.recording.directoryTemplate, timeZone: config.recording.timeZone,
    instanceId: id, recorder: `callseal ${VERSION}`, log,
  });
  await publishVerificationKit(spool.recordingsRoot, keys, db);
  const epochKeys = await installationKeys(config.home, keys);
  const sealer = new Sealer({ keys, repo, log });
  const policyStore = new PolicyStore(db, config.recording.channels);
  // C1: the announcement library; an announcement a setting names cannot be deleted.
  const announcements = new AnnouncementLibrary({
    db, root: join(config.home, 'announcements'), log,
    usedBy: (announcementId) => policyStore.load().policy.settings.filter((s) => settingAnnouncementIds(s).includes(announcementId)).map((s) => s.id),
  });
  const policy = new PolicyEngine(policyStore, config.numbers, log);
  const box = new SecretBox(config.home);
  // F4: a cloud sign-in that expired or lost its consent is mailed at once (the alerts are set up below).
  const targets = new TargetRegistry(db, box, {
    onSignInLost: (targetId, message) => { lastErrors.note(`archive target ${targetId}: ${message}`); void alerts.signInLost(targetId, message); },
  });
  teardown.add('storage targets', () => targets.close());
  const sqlLogs = new SqlLogRegistry(db, box, log);
  teardown.add('SQL logs', () => sqlLogs.close());
  const destination = destinationResolver({ targets, sqlLogs, recording: (recId) => repo.row(recId) });
  const outbox = new Outbox({
    db, log, timeZone: config.recording.timeZone, retryBaseMs: config.archive.retryBaseMs, retryMaxMs: config.archive.retryMaxMs, tickMs: config.archive.tickMs,
    destination,
    recording: (recId) => {
      const r = repo.get(recId);
      return r ? { id: recId, dir: join(spool.recordingsRoot, r.dir), files: r.files, startMs: r.startMs } : undefined;
    },
  });
  const alertSettings = new AlertSettings(db, box, config.alerts.smtp);
  const alerts = new Alerts(alertSettings.current().smtp, id, log);
  const lastErrors = new RecentErrors();
  outbox.on('failing', (e) => { lastErrors.note(`archive target ${e.targetId} failing: ${e.error}`); });
  outbox.on('failing', (e) => { void alerts.targetFailing(e.targetId, e.error, e.sinceMs); });
  outbox.on('recovered', (e) => { void alerts.targetRecovered(e.targetId, e.failedForMs); });

  // H8: the live recording events go to the webhook endpoints from a durable queue, never in the call path.
  const webhookRepo = new WebhookRepository(db);
  const webhooks = new Webhooks({
    ...config.webhooks, repo: webhookRepo, endpoints: new WebhookEndpoints(webhookRepo, box), clock: systemClock, log, userAgent: `callseal/${VERSION}`,
    onGiveUp: (endpointId, error) => { lastErrors.note(`webhook ${endpointId}: a delivery was given up after ${String(config.webhooks.maxAttempts)} attempts (${error})`); },
  });
  teardown.add('webhooks', () => webhooks.close());
  const liveEvents = new LiveEventFeed(webhooks);

  const finisher = new Finisher({
    seal: (f) => sealer.seal(f), isSealed: (recId) => repo.has(recId), enqueue: (recId, ids, retainUntil) => { outbox.enqueue(recId, ids, { retainUntilMs: retainUntil }); },
    complete: (recId) => spool.complete(recId), onError: (message) => { lastErrors.note(message); }, log,
    onSealed: (sealed) => { liveEvents.sealed(sealed); },
  });
  // Invariant 1: recordings left by a crash are finished and sealed before new calls are taken.
  const recovered = await finisher.recover(await spool.recover());

  // Accounts and the TLS files are checked before anything listens: a bad first admin password or
  // an unreadable certificate stops start-up cleanly.
  const accounts = new AccountStore(db, { idleMinutes: config.http.sessionIdleMinutes, maxHours: config.http.sessionMaxHours });
  await ensureFirstAdmin(accounts, log);
  const tls = config.http.tls ? { cert: readConfiguredFile('http.tls.certFile', config.http.tls.certFile), key: readConfiguredFile('http.tls.keyFile', config.http.tls.keyFile) } : undefined;
  if (config.sip.tls.enabled && config.sip.tls.clientCaFile !== undefined) readConfiguredFile('sip.tls.clientCaFile', config.sip.tls.clientCaFile);
  // The audit head is anchored outside the database, in signed checkpoints (issue 7); the last one
  // is signed after every call has been sealed.
  const audit = new AuditLog(db, { anchors: () => auditAnchors(spool.recordingsRoot, epochKeys) });
  // F6, H7: legal holds, the retention job and exports; the job's steps are in the audit trail.
  const retention = createRetention({
    db, repo, outbox, keys, verifyKeys: () => epochKeys, recordingsRoot: spool.recordingsRoot, workRoot: join(config.home, 'cache'), destination,
    timeZone: config.recording.timeZone, numbers: config.numbers, archive: config.archive, log, clock: systemClock,
    audit: (e) => { audit.append({ actor: 'retention', address: '-', ...e }); }, noteError: (message) => { lastErrors.note(message); },
  });
  const checkpoints = new Checkpointer({ recordingsRoot: spool.recordingsRoot, keys, chainHead: () => repo.currentHead(), auditHead: () => audit.head(), log });
  teardown.add('checkpoints', () => { checkpoints.close(); });
  checkpoints.start();

  const media = new MediaEngine({
    host: config.rtp.host, portMin: config.rtp.portMin, portMax: config.rtp.portMax,
    ...(config.rtp.workers > 0 ? { workers: config.rtp.workers } : {}), sourceCheck: config.rtp.sourceCheck, log,
  });
  // Registered before start: the workers that did start are stopped if a later one fails.
  teardown.add('media workers', () => media.close());
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
  teardown.add('SIP transport', () => transport.close());
  const t1 = config.sip.t1Ms;
  const sipAddress = advertisedAddress(config.sip.host, config.sip.advertisedAddress);
  const stack = new SipStack(transport, log, { t1, t2: Math.max(4000, t1), t4: 5000 }, {
    allow, maxServerTransactions: config.sip.maxTransactions, viaHost: sipAddress,
    ...(config.sip.maxTransactionsPerSource > 0 ? { maxServerTransactionsPerSource: config.sip.maxTransactionsPerSource } : {}),
  });
  teardown.add('SIP transactions', () => { stack.close(); });
  const bound = await transport.listen();
  const listening = { udp: bound.udp, tcp: bound.tcp, tls: bound.tls };

  // The seals of calls ended at shutdown are awaited after the sessions close, before SIP and media go.
  teardown.add('seals of ended calls', () => finisher.drain());
  const siprec = new SiprecServer({
    stack, media, spool, log, sipAddress: advertisedAddress(config.sip.host, config.sip.advertisedAddress), sipPort: bound.udp, sipTcpPort: bound.tcp, sipTlsPort: bound.tls,
    minSessionExpiresSec: config.sip.minSessionExpiresSec,
    rtpHost: config.rtp.host, rtpAddress: advertisedAddress(config.rtp.host, config.rtp.advertisedAddress ?? config.sip.advertisedAddress),
    channels: config.recording.channels, reorderMs: config.rtp.reorderMs, mediaTimeoutSec: config.recording.mediaTimeoutSec,
    answerDelayMs: config.sip.answerDelayMs,
    admission: {
      newSessionsPerSecondPerSource: config.sip.maxNewSessionsPerSecondPerSource, newSessionBurstPerSource: config.sip.maxNewSessionBurstPerSource,
      maxSessionsPerSource: config.sip.maxSessionsPerSource, maxSessions: config.sip.maxSessions,
    },
    decide: (facts, event) => policy.decide(facts, event),
  });
  teardown.add('SIPREC sessions', () => siprec.close());
  // Runs before the sessions close: a recording waiting for disk space stays in the spool for the
  // next start instead of blocking shutdown.
  teardown.add('spool', () => { spool.close(); });
  media.onDtmf((legId, digit, atMs) => { siprec.onDtmf(legId, digit, atMs); });
  media.onLegFailed((legId, err) => { siprec.onLegFailed(legId, err); });
  // Invariant 3: a media worker that dies ends its calls visibly (BYE with Reason) and is replaced.
  media.on('workerFailed', (f) => {
    const calls = siprec.onWorkerFailed(f.legIds, f.reason);
    const text = `media worker ${f.workerIndex} failed (${f.reason}); ${calls.length} recording(s) ended and sealed with what was written, the SRC told by BYE; a new worker is started`;
    lastErrors.note(text);
    void alerts.send('media worker failed', `${text}\n\nCall-IDs ended:\n${calls.join('\n') || '(none)'}\n`);
  });
  siprec.on('recorded', (finished) => { finisher.accept(finished); });
  siprec.on('started', (live) => { liveEvents.started(live); });
  siprec.on('recorded', (finished) => { liveEvents.stopped(finished); });
  siprec.on('ended', (e) => { liveEvents.ended(e); });

  // I2: the in-line B2BUA between PBX and trunk, on a port of its own; off unless configured.
  const inline = config.inline.enabled ? new InlineRecordings({
    media, spool, clock: systemClock, scheduler: systemClock, log, rtpHost: config.rtp.host, reorderMs: config.rtp.reorderMs,
    channels: config.recording.channels, mediaTimeoutSec: config.recording.mediaTimeoutSec, failMode: config.inline.failMode,
    srtp: { pbx: config.inline.pbx?.srtp ?? 'as-offered', trunk: config.inline.trunk?.srtp ?? 'as-offered' },
    decide: (facts, event) => policy.decide(facts, event), intakeBlock: () => siprec.intakeBlock,
    alert: (subject, text) => { lastErrors.note(`${subject}: ${text.split('\n')[0] ?? ''}`); void alerts.send(subject, text); },
    library: announcements, logConsent: (facts, d, consent) => { policy.logConsent(facts, d, consent); },
  }) : undefined;
  const inlinePbx = config.inline.pbx;
  const inlineTrunk = config.inline.trunk;
  if (inline && inlinePbx && inlineTrunk) {
    const server = new InlineServer({
      config: { ...config.inline, pbx: inlinePbx, trunk: inlineTrunk }, log, timers: { t1, t2: Math.max(4000, t1), t4: 5000 },
      advertisedAddress: advertisedAddress(config.inline.host, config.inline.advertisedAddress ?? config.sip.advertisedAddress),
      setUp: (call) => inline.setUp(call),
    });
    teardown.add('in-line recordings', () => inline.close());
    teardown.add('in-line calls', () => server.close());
    await server.listen();
    inline.on('recorded', (finished) => { finisher.accept(finished); });
    inline.on('started', (live) => { liveEvents.started(live); });
    inline.on('recorded', (finished) => { liveEvents.stopped(finished); });
    inline.on('ended', (e) => { liveEvents.ended(e); });
    media.on('relayDtmf', (relayId, side, digit, atMs) => { inline.onRelayDtmf(relayId, side, digit, atMs); });
    media.on('workerFailed', (f) => { inline.onWorkerFailed(f.relayIds, f.reason); });
  }

  // Invariant 3: storage and database are checked every recording.storageCheckMs (`health/intake.ts`).
  const meta = new MetaRepository(db);
  const intake = new IntakeMonitor({
    recordingsRoot: spool.recordingsRoot, probeFile: join(config.home, '.storage-probe'),
    minFreeMb: config.recording.minFreeMb, stopFreeMb: config.recording.stopFreeMb, diskWarnPercent: config.http.diskWarnPercent, checkMs: config.recording.storageCheckMs,
    probeDatabase: () => { meta.probeWrite(); }, endRecordings: (reason) => siprec.endRecordings(reason), setIntake: (block) => { siprec.setIntake(block); },
    alert: (subject, text) => alerts.send(subject, text), noteError: (message) => { lastErrors.note(message); }, log,
  });
  let started = false;
  let closing: Promise<void> | undefined;
  const startedMs = Date.now();
  const api = await buildApi({
    policy: policyStore, numbers: config.numbers, token: apiToken(config.home), log, targets, sqlLogs, outbox, alerts, alertSettings, accounts, audit,
    tls, webhooks: { webhooks, endpoints: new WebhookEndpoints(webhookRepo, box) },
    login: {
      failuresPerAddressPerMinute: config.http.loginAttemptsPerMinute, backoffAfterFailures: config.http.loginBackoffAfterFailures,
      backoffBaseMs: 1000, backoffMaxMs: config.http.loginBackoffMaxSeconds * 1000,
    },
    uiRoot: fileURLToPath(new URL('../ui/dist', import.meta.url)),
    health: () => healthReport(healthParts({
      closing: closing !== undefined, listening, media: media.health, storage: intake.storage, database: intake.database,
      minFreeMb: config.recording.minFreeMb, stopFreeMb: config.recording.stopFreeMb,
    }), {
      instanceId: id, live: siprec.live().length, openLegs: media.openLegs, sealed: repo.count(), sip: stack.stats, siprec: siprec.stats,
      // Issue 3: refusals and the size of every bounded table, so a flood and its end are visible.
      transport: transport.stats, webhooks: webhooks.stats,
      tables: { serverTransactions: stack.serverTransactionCount, clientTransactions: stack.clientTransactionCount, ...siprec.tables, connections: transport.stats.connections },
      memory: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed },
    }),
    ready: () => readiness({ started, closing: closing !== undefined, intakeBlock: siprec.intakeBlock, mediaWorkersRunning: media.health.running }),
    retention: { holds: retention.holds, holdSync: retention.holdSync, exporter: retention.exporter, removals: retention.removals },
    announcements,
    recordings: {
      repo, recordingsRoot: spool.recordingsRoot, keys: () => epochKeys, cacheRoot: join(config.home, 'cache'),
      certificateFile: (epoch) => join(spool.recordingsRoot, `callseal-cert-epoch${epoch}.pem`),
    },
    ops: {
      recordingsRoot: spool.recordingsRoot, diskWarnPercent: config.http.diskWarnPercent,
      live: () => [...siprec.live(), ...(inline?.live() ?? [])],
      onLiveChange: (listener) => {
        siprec.on('started', listener);
        siprec.on('recorded', listener);
        inline?.on('started', listener);
        inline?.on('recorded', listener);
        return () => {
          siprec.off('started', listener);
          siprec.off('recorded', listener);
          inline?.off('started', listener);
          inline?.off('recorded', listener);
        };
      },
      sip: () => ({ listening, stats: { ...stack.stats, ...siprec.stats } }),
      sealedSince: (ms) => repo.countSince(ms), sealedTotal: () => repo.count(), lastErrors: () => lastErrors.list(),
      certificate: () => ({ ...keys.describe(), pem: keys.certificatePem }),
      csr: () => keys.csr(id), startedMs, version: VERSION,
    },
  });
  teardown.add('web server', () => api.close());
  await api.listen({ port: config.http.port, host: config.http.host });
  const a = api.server.address();
  const httpPort = typeof a === 'object' && a ? a.port : config.http.port;

  outbox.start();
  teardown.add('outbox', () => { outbox.close(); });
  webhooks.start();
  retention.job.start();
  teardown.add('retention', () => retention.job.close());
  teardown.add('storage checks', () => { intake.close(); });
  await intake.start();
  started = true;
  // Logged once /readyz reports ready: tests and operators take this line as "taking calls".
  log.info({
    instanceId: id, home: config.home, sipUdp: `${config.sip.host}:${bound.udp}`, sipTcp: bound.tcp !== undefined ? `${config.sip.host}:${bound.tcp}` : 'off',
    sipTls: bound.tls !== undefined ? `${config.sip.host}:${bound.tls}` : 'off', rtp: `${config.rtp.host}:${config.rtp.portMin}-${config.rtp.portMax}`,
    http: `http://${config.http.host}:${httpPort}`, recordings: spool.recordingsRoot, recovered: recovered.length, sealed: repo.count(),
  }, 'callseal listening');

  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ steps: teardown.order }, 'shutting down: ending running recordings');
      try {
        await teardown.run();
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'shutdown incomplete');
        throw err;
      }
      log.info('stopped');
    })();
    return closing;
  };
  return {
    config, instanceId: id, ports: { sipUdp: bound.udp, sipTcp: bound.tcp, sipTls: bound.tls, http: httpPort },
    siprec, media, spool, keys, recovered, close,
  };
}
