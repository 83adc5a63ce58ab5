/**
 * Calls callseal's HTTP API with a bearer token, waits for conditions in integration tests, and
 * builds the real API in-process on fresh stores for `inject` tests.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DatabaseSync } from 'node:sqlite';
import { buildApi, type ApiOptions } from '../../src/web/api.ts';
import { AccountStore } from '../../src/web/accounts.ts';
import { AuditLog } from '../../src/web/audit.ts';
import { HoldRepository, openDatabase, RecordingRepository, RemovalRepository } from '../../src/store/index.ts';
import { PolicyStore } from '../../src/policy/index.ts';
import { AlertSettings, Alerts, Exporter, LegalHolds, Outbox, SqlLogRegistry, TargetRegistry } from '../../src/archive/index.ts';
import { SecretBox } from '../../src/common/secretbox.ts';
import { silentLogger } from '../../src/common/log.ts';
import { parseConfig } from '../../src/config/index.ts';
import { WebhookRepository } from '../../src/store/index.ts';
import { WebhookEndpoints, Webhooks } from '../../src/webhooks/index.ts';
import { systemClock } from '../../src/common/clock.ts';

/** A JSON API call; returns status and parsed body. */
export async function apiCall(httpPort: number, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
}

/** Polls `check` until it holds, failing after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An in-process callseal API on a fresh database, for `inject` tests (no SIP, no media). */
export interface TestApi {
  readonly app: FastifyInstance;
  readonly accounts: AccountStore;
  readonly audit: AuditLog;
  readonly repo: RecordingRepository;
  readonly policy: PolicyStore;
  readonly home: string;
  readonly token: string;
  close(): Promise<void>;
}

/**
 * Builds the real API (`buildApi`) on real stores in a temporary home; `overrides` change options.
 * With `base`, on that home and database instead (the caller removes them).
 */
export async function buildTestApi(overrides: Partial<ApiOptions> = {}, base?: { readonly home: string; readonly db: DatabaseSync }): Promise<TestApi> {
  // A tmpfs home where there is one: the audit trail syncs every entry, and sweeps send thousands.
  const home = base?.home ?? mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'callseal-api-'));
  const db = base?.db ?? openDatabase(join(home, 'callseal.db'));
  const log = silentLogger();
  const box = new SecretBox(home);
  const repo = new RecordingRepository(db);
  const policy = new PolicyStore(db);
  const targets = new TargetRegistry(db, box);
  const sqlLogs = new SqlLogRegistry(db, box, log);
  const outbox = new Outbox({ db, log, destination: () => undefined, recording: () => undefined, timeZone: undefined, retryBaseMs: 1000, retryMaxMs: 60_000 });
  const alertSettings = new AlertSettings(db, box, undefined);
  const alerts = new Alerts(undefined, 'test', log);
  const accounts = new AccountStore(db, { idleMinutes: 30, maxHours: 12 });
  const audit = new AuditLog(db);
  const token = 'in-process-test-token';
  // No key store here (it takes seconds to make): exports are tested against a real one elsewhere.
  const noKey = (): never => { throw new Error('the in-process test API has no signing key'); };
  const signer = { get certificatePem(): string { return noKey(); }, certificateFingerprint: '00', spkiSha256: '00', sign: noKey };
  const config = parseConfig({});
  const webhookRepo = new WebhookRepository(db);
  const endpoints = new WebhookEndpoints(webhookRepo, box);
  const webhooks = new Webhooks({ ...config.webhooks, repo: webhookRepo, endpoints, clock: systemClock, log, userAgent: 'callseal/test' });
  const app = await buildApi({
    policy, numbers: config.numbers, token, log, health: () => ({ status: 'ok' }), ready: () => ({ ready: true, reasons: [] }), targets, sqlLogs, outbox, alerts, alertSettings, accounts, audit,
    login: {
      failuresPerAddressPerMinute: config.http.loginAttemptsPerMinute, backoffAfterFailures: config.http.loginBackoffAfterFailures,
      backoffBaseMs: 1000, backoffMaxMs: config.http.loginBackoffMaxSeconds * 1000,
    },
    uiRoot: resolve(import.meta.dirname, '../../ui/dist'),
    recordings: {
      repo, recordingsRoot: join(home, 'recordings'), keys: () => [], cacheRoot: join(home, 'cache'),
      certificateFile: (epoch) => join(home, 'recordings', `callseal-cert-epoch${epoch}.pem`),
    },
    retention: {
      holds: new LegalHolds({ repo: new HoldRepository(db), numbers: config.numbers, twoPersonRelease: false, recordingExists: (id) => repo.has(id) }),
      removals: new RemovalRepository(db),
      exporter: new Exporter({ repo, outbox, keys: signer, verifyKeys: () => [], recordingsRoot: join(home, 'recordings'), workRoot: join(home, 'cache'), numbers: config.numbers, log }),
    },
    ops: {
      recordingsRoot: home, diskWarnPercent: 10, live: () => [], onLiveChange: () => () => undefined,
      sip: () => ({ listening: { udp: 5060, tcp: undefined, tls: undefined }, stats: {} }),
      sealedSince: () => 0, sealedTotal: () => repo.count(), lastErrors: () => [],
      certificate: () => ({ pem: '', subject: 'CN=test', fingerprint: '00', notBefore: '', notAfter: '', epoch: 1, modulusBits: 2048, spkiSha256: '00' }),
      csr: () => Promise.resolve('-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n'), startedMs: Date.now(), version: 'test',
    },
    webhooks: { webhooks, endpoints },
    ...overrides,
  });
  await app.ready();
  return {
    app, accounts, audit, repo, policy, home, token,
    close: async () => {
      await app.close();
      await webhooks.close();
      if (base) return;
      db.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
