/**
 * The HTTP API and web UI (fastify). Security (accounts, sessions, CSRF, roles, audit) is in
 * `auth.ts`; the recording browser in `recordings.ts`; dashboard, live view, accounts, audit trail
 * and certificate in `ops.ts`; this file holds the configuration routes — directory (users, groups,
 * membership), exception lists, settings (with their explanation), import/export as JSON and CSV,
 * the decision log, a dry-run `decide`, storage targets, SQL logs and alerts — and serves the UI.
 * The OpenAPI description is at `/api/openapi.json`. Only this module maps errors to HTTP statuses.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { CallsealError, ConfigError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import {
  compilePolicy, decide, explainSetting, exceptionListSchema, groupSchema, settingSchema, userSchema,
  type NumberContext, type Policy, type PolicyStore,
} from '../policy/index.ts';
import type { AlertSettings, Alerts, Outbox, TargetRegistry } from '../archive/index.ts';
import type { SqlLogRegistry } from '../archive/index.ts';
import { ADMIN_ONLY, PUBLIC, registerAuth, type LoginThrottleOptions } from './auth.ts';
import type { AccountStore } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { recordingRoutes, type RecordingRoutesOptions } from './recordings.ts';
import { opsRoutes, type OpsOptions } from './ops.ts';
import { retentionRoutes, type RetentionRoutesOptions } from './retention.ts';
import { webhookRoutes, type WebhookRoutesOptions } from './webhooks.ts';
import { fromCsvCell, toSafeCsv } from './csv.ts';

/** Options of {@link buildApi}. */
export interface ApiOptions {
  readonly policy: PolicyStore;
  readonly numbers: NumberContext;
  readonly token: string;
  readonly log: Logger;
  /** `/healthz`: `status` is `ok`, or `failing` with `failing` naming the parts (503). */
  readonly health: () => Record<string, unknown>;
  /** `/readyz`: whether new recording sessions are taken, and why not. */
  readonly ready: () => { readonly ready: boolean; readonly reasons: readonly string[] };
  readonly targets: TargetRegistry;
  readonly sqlLogs: SqlLogRegistry;
  readonly outbox: Outbox;
  readonly alerts: Alerts;
  readonly alertSettings: AlertSettings;
  readonly accounts: AccountStore;
  readonly audit: AuditLog;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** Login throttling: per-account back-off and the per-address limit. */
  readonly login: LoginThrottleOptions;
  /** The built web UI (ui/dist); absent before `npm run build:ui`. */
  readonly uiRoot: string;
  readonly recordings: Omit<RecordingRoutesOptions, 'audit' | 'outbox' | 'holdsOf'>;
  /** Legal holds, retention removals and exports (F6, H7). */
  readonly retention: Omit<RetentionRoutesOptions, 'audit'>;
  readonly ops: Omit<OpsOptions, 'accounts' | 'audit' | 'policy' | 'outbox' | 'targets' | 'sqlLogs' | 'throttle'>;
  /** Webhook endpoints and their deliveries (H8). */
  readonly webhooks: WebhookRoutesOptions;
}

type Collection = 'users' | 'groups' | 'exceptionLists' | 'settings';
const SCHEMAS = { users: userSchema, groups: groupSchema, exceptionLists: exceptionListSchema, settings: settingSchema } as const;
const PATHS: Record<Collection, string> = { users: 'users', groups: 'groups', exceptionLists: 'exception-lists', settings: 'settings' };

function list(value: string | undefined): string[] {
  return (value ?? '').split('|').map((x) => x.trim()).filter(Boolean);
}

/** Builds the fastify instance (not listening). */
export async function buildApi(o: ApiOptions): Promise<FastifyInstance> {
  // With `https` fastify's instance type names the https server; routes and hooks are the same.
  const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024, ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}) }) as unknown as FastifyInstance;
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => { done(null, body); });

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof ConfigError) return reply.code(400).send({ error: 'invalid', code: err.code, issues: err.issues });
    if (err instanceof CallsealError && err.code === 'CS_ARCHIVE_TARGET') return reply.code(502).send({ error: err.message, code: err.code });
    if (err instanceof z.ZodError) return reply.code(400).send({ error: 'invalid', issues: err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) });
    const status = typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 500) o.log.error({ err: errorMessage(err) }, 'API request failed');
    return reply.code(status).send({ error: status >= 500 && status !== 502 ? 'internal error' : errorMessage(err) });
  });

  await app.register(helmet, {
    contentSecurityPolicy: { directives: { 'default-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'media-src': ["'self'"], 'style-src': ["'self'"], 'script-src': ["'self'"], 'frame-ancestors': ["'none'"] } },
    ...(o.tls ? {} : { strictTransportSecurity: false }),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'callseal API', version: '1', description: 'Log in with POST /api/session (cookie + CSRF token in x-csrf-token for changes), or send the API token as a bearer token (admin).' },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'callseal_session' }, token: { type: 'http', scheme: 'bearer' } } },
      security: [{ session: [] }, { token: [] }],
    },
  });
  // Routes without their own schema are listed in the OpenAPI description under the first path segment.
  app.addHook('onRoute', (route) => {
    const tag = /^\/api\/([a-z-]+)/.exec(route.url)?.[1];
    route.schema = { tags: tag !== undefined ? [tag] : ['ui'], summary: `${String(route.method)} ${route.url}`, ...route.schema };
  });
  const throttle = await registerAuth(app, { accounts: o.accounts, audit: o.audit, token: o.token, secureCookies: o.tls !== undefined, login: o.login });

  // Invariant 3: a failing part (SIP listeners, media workers, storage, database) answers 503 and is named.
  app.get('/healthz', { config: PUBLIC, schema: { summary: 'Health of every part, and counters (503 naming the failing parts)', tags: ['operation'] } }, (_req, reply) => {
    const health = o.health();
    return reply.code(health['status'] === 'ok' ? 200 : 503).send(health);
  });
  // For load balancers: 503 while new sessions would not be taken (starting, shutting down, storage, no worker).
  app.get('/readyz', { config: PUBLIC, schema: { summary: 'Whether new recording sessions are taken', tags: ['operation'] } }, (_req, reply) => {
    const r = o.ready();
    return reply.code(r.ready ? 200 : 503).send(r);
  });
  app.get('/api/openapi.json', { config: PUBLIC, schema: { hide: true } }, () => app.swagger());

  const actor = (req: { ip: string; principal?: { name: string } }): string => `${req.principal?.name ?? 'api'}@${req.ip}`;
  // F3: a target that failed its test (or was never tested) cannot be selected.
  const checkTargets = (setting: Policy['settings'][number]): void => {
    const issues = setting.targetIds.flatMap((t, i) => {
      const status = o.targets.status(t) ?? o.sqlLogs.status(t);
      return status === 'ok' ? [] : [{ path: `targetIds.${i}`, message: status === undefined ? `unknown target "${t}"` : `target "${t}" is ${status}; run its test first` }];
    });
    if (issues.length > 0) throw new ConfigError('CS_POLICY_INVALID', issues);
  };
  const current = (): Policy => o.policy.load().policy;

  // Whole policy: export and import (JSON).
  app.get('/api/policy', { config: ADMIN_ONLY }, () => ({ ...current(), version: o.policy.version() }));
  app.put('/api/policy', { config: ADMIN_ONLY }, (req) => {
    const version = o.policy.save(req.body as Policy, actor(req));
    return { version };
  });

  // Collections: list, get, create, replace, delete, duplicate.
  for (const key of Object.keys(SCHEMAS) as Collection[]) {
    const path = `/api/${PATHS[key]}`;
    const schema = SCHEMAS[key];
    app.get(path, { config: ADMIN_ONLY }, () => {
      const p = current();
      return key === 'settings' ? p.settings.map((s) => ({ ...s, explanation: explainSetting(s, p) })) : p[key];
    });
    app.get(`${path}/:id`, { config: ADMIN_ONLY }, (req, reply) => {
      const { id } = req.params as { id: string };
      const p = current();
      const item = (p[key] as { id: string }[]).find((x) => x.id === id);
      if (!item) return reply.code(404).send({ error: `no ${key} item "${id}"` });
      return key === 'settings' ? { ...item, explanation: explainSetting(item as Policy['settings'][number], p) } : item;
    });
    app.post(path, { config: ADMIN_ONLY }, (req, reply) => {
      const item = schema.parse(req.body);
      if (key === 'settings') checkTargets(item as Policy['settings'][number]);
      const { version } = o.policy.update(actor(req), (p) => {
        const items = p[key] as { id: string }[];
        if (items.some((x) => x.id === item.id)) throw new ConfigError('CS_POLICY_INVALID', [{ path: 'id', message: `"${item.id}" exists` }]);
        items.push(item);
        return p;
      });
      return reply.code(201).send({ ...item, version });
    });
    app.put(`${path}/:id`, { config: ADMIN_ONLY }, (req, reply) => {
      const { id } = req.params as { id: string };
      const item = schema.parse({ ...(req.body as object), id });
      if (key === 'settings') checkTargets(item as Policy['settings'][number]);
      if (!(current()[key] as { id: string }[]).some((x) => x.id === id)) return reply.code(404).send({ error: `no ${key} item "${id}"` });
      const { version } = o.policy.update(actor(req), (p) => {
        const items = p[key] as { id: string }[];
        items[items.findIndex((x) => x.id === id)] = item;
        return p;
      });
      return { ...item, version };
    });
    app.delete(`${path}/:id`, { config: ADMIN_ONLY }, (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(current()[key] as { id: string }[]).some((x) => x.id === id)) return reply.code(404).send({ error: `no ${key} item "${id}"` });
      o.policy.update(actor(req), (p) => {
        (p as Record<Collection, { id: string }[]>)[key] = (p[key] as { id: string }[]).filter((x) => x.id !== id);
        return p;
      });
      return reply.code(204).send();
    });
    if (key === 'settings' || key === 'exceptionLists') {
      app.post(`${path}/:id/duplicate`, { config: ADMIN_ONLY }, (req, reply) => {
        const { id } = req.params as { id: string };
        const { newId, name } = z.object({ newId: z.string().min(1).max(64), name: z.string().min(1).max(200).optional() }).parse(req.body ?? {});
        const original = (current()[key] as { id: string; name: string }[]).find((x) => x.id === id);
        if (!original) return reply.code(404).send({ error: `no ${key} item "${id}"` });
        // A duplicated setting starts disabled, so it never records twice by surprise.
        const copy = { ...structuredClone(original), id: newId, name: name ?? `${original.name} (copy)`, ...(key === 'settings' ? { enabled: false } : {}) };
        o.policy.update(actor(req), (p) => {
          const items = p[key] as { id: string }[];
          items.splice(items.findIndex((x) => x.id === id) + 1, 0, copy);
          return p;
        });
        return reply.code(201).send(copy);
      });
    }
  }

  // Storage targets (F3, F5): credentials are stored encrypted and never returned.
  app.get('/api/targets', { config: ADMIN_ONLY }, () => o.targets.list());
  app.put('/api/targets/:id', { config: ADMIN_ONLY }, (req) => {
    const { id } = req.params as { id: string };
    const t = o.targets.save({ ...(req.body as object), id });
    return { id: t.id, name: t.name, kind: t.config.kind, status: 'untested' };
  });
  app.delete('/api/targets/:id', { config: ADMIN_ONLY }, (req, reply) => {
    const { id } = req.params as { id: string };
    return o.targets.delete(id) ? reply.code(204).send() : reply.code(404).send({ error: `no target "${id}"` });
  });
  app.post('/api/targets/:id/duplicate', { config: ADMIN_ONLY }, (req, reply) => {
    const { id } = req.params as { id: string };
    const { newId, name } = z.object({ newId: z.string().min(1).max(64), name: z.string().min(1).max(200).optional() }).parse(req.body ?? {});
    const t = o.targets.duplicate(id, newId, name);
    return t ? reply.code(201).send({ id: t.id, name: t.name, kind: t.config.kind, status: 'untested' }) : reply.code(404).send({ error: `no target "${id}"` });
  });
  app.post('/api/targets/:id/test', { config: ADMIN_ONLY }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const r = await o.targets.test(id);
    return r ? r : reply.code(404).send({ error: `no target "${id}"` });
  });
  // Device code sign-in of a OneDrive target with user sign-in (F3): the code to enter, then its state.
  app.post('/api/targets/:id/sign-in', { config: ADMIN_ONLY }, async (req, reply) => {
    const { id } = req.params as { id: string };
    let prompt;
    try {
      prompt = await o.targets.signIn(id);
    } catch (err) {
      return reply.code(400).send({ error: errorMessage(err) });
    }
    return prompt ?? reply.code(404).send({ error: `no target "${id}"` });
  });
  app.get('/api/targets/:id/sign-in', { config: ADMIN_ONLY }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const state = await o.targets.signInState(id);
    return state ?? reply.code(404).send({ error: `no OneDrive target "${id}"` });
  });
  // External SQL recording logs (G2): "test connection" and "create table" actions.
  app.get('/api/sql-logs', { config: ADMIN_ONLY }, () => o.sqlLogs.list());
  app.put('/api/sql-logs/:id', { config: ADMIN_ONLY }, (req, reply) => {
    const { id } = req.params as { id: string };
    if (o.targets.status(id) !== undefined) return reply.code(400).send({ error: `"${id}" is already a storage target` });
    const d = o.sqlLogs.save({ ...(req.body as object), id });
    return { id: d.id, name: d.name, dialect: d.dialect, status: 'untested' };
  });
  app.delete('/api/sql-logs/:id', { config: ADMIN_ONLY }, (req, reply) => {
    const { id } = req.params as { id: string };
    return o.sqlLogs.delete(id) ? reply.code(204).send() : reply.code(404).send({ error: `no SQL log "${id}"` });
  });
  app.post('/api/sql-logs/:id/create-table', { config: ADMIN_ONLY }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const log = o.sqlLogs.get(id);
    if (!log) return reply.code(404).send({ error: `no SQL log "${id}"` });
    await log.createTable();
    return { created: log.def.table };
  });
  app.post('/api/sql-logs/:id/test', { config: ADMIN_ONLY }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const r = await o.sqlLogs.test(id);
    return r ? r : reply.code(404).send({ error: `no SQL log "${id}"` });
  });
  app.get('/api/outbox', { config: ADMIN_ONLY }, (req) => {
    const q = z.object({ recordingId: z.string().optional() }).parse(req.query);
    return { backlog: o.outbox.backlog(), jobs: o.outbox.jobs(q.recordingId) };
  });
  // E-mail alerts (F4): the settings in force (password never shown); entered ones replace the file's.
  app.get('/api/alerts', { config: ADMIN_ONLY }, () => ({ ...o.alerts.describe(), source: o.alertSettings.current().source }));
  app.put('/api/alerts', { config: ADMIN_ONLY }, (req) => {
    o.alerts.configure(o.alertSettings.save(req.body));
    return { ...o.alerts.describe(), source: 'ui' };
  });
  app.delete('/api/alerts', { config: ADMIN_ONLY }, () => {
    o.alerts.configure(o.alertSettings.reset());
    return { ...o.alerts.describe(), source: o.alertSettings.current().source };
  });
  app.post('/api/alerts/test', { config: ADMIN_ONLY }, async () => ({ sent: await o.alerts.send('test mail', 'This is a test of callseal\'s alert mails.\n') }));

  // Settings order (A1: the first enabled matching setting records).
  app.put('/api/settings-order', { config: ADMIN_ONLY }, (req) => {
    const ids = z.array(z.string()).parse(req.body);
    return o.policy.update(actor(req), (p) => {
      const byId = new Map(p.settings.map((s) => [s.id, s]));
      if (ids.length !== p.settings.length || ids.some((i) => !byId.has(i))) {
        throw new ConfigError('CS_POLICY_INVALID', [{ path: '(body)', message: 'must list every setting id exactly once' }]);
      }
      p.settings = ids.map((i) => byId.get(i)).filter((s): s is NonNullable<typeof s> => s !== undefined);
      return p;
    }).policy.settings.map((s) => s.id);
  });

  // Membership login/logout (A4; the reference's function key).
  app.post('/api/groups/:groupId/members/:userId/:action', { config: ADMIN_ONLY }, (req, reply) => {
    const { groupId, userId, action } = req.params as { groupId: string; userId: string; action: string };
    if (action !== 'login' && action !== 'logout') return reply.code(404).send({ error: 'action is login or logout' });
    o.policy.setMembership(groupId, userId, action === 'login', actor(req));
    return { groupId, userId, active: action === 'login' };
  });
  app.get('/api/membership-log', { config: ADMIN_ONLY }, () => o.policy.membershipLog());

  // Decisions (A9) and a dry run.
  app.get('/api/decisions', { config: { access: ['admin', 'auditor'] } }, (req) => {
    const q = z.object({
      callId: z.string().optional(), record: z.enum(['true', 'false']).optional(),
      sinceMs: z.coerce.number().optional(), limit: z.coerce.number().int().min(1).max(1000).optional(),
    }).parse(req.query);
    return o.policy.decisions({
      ...(q.callId !== undefined ? { callId: q.callId } : {}), ...(q.record !== undefined ? { record: q.record === 'true' } : {}),
      ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}), ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
  });
  app.post('/api/decide', { config: ADMIN_ONLY }, (req) => {
    const f = z.object({ caller: z.string().max(256), callee: z.string().max(256), diversions: z.array(z.string().max(256)).max(10).default([]) }).parse(req.body);
    return decide({ callId: 'dry-run', caller: f.caller, callee: f.callee, diversions: f.diversions, atMs: Date.now() }, compilePolicy(current(), o.numbers));
  });

  // CSV import/export of the directory.
  app.get('/api/users.csv', { config: ADMIN_ONLY }, (_req, reply) => {
    const rows = current().users.map((u) => [u.id, u.name, u.extensions.join('|'), u.directNumbers.join('|'), u.mobileNumbers.join('|')]);
    return reply.type('text/csv').send(toSafeCsv([['id', 'name', 'extensions', 'directNumbers', 'mobileNumbers'], ...rows]));
  });
  app.put('/api/users.csv', { config: ADMIN_ONLY }, (req) => {
    const records = parseCsv<Record<string, string>>(String(req.body), { columns: true, skip_empty_lines: true, trim: true, cast: (value) => fromCsvCell(value) });
    const users = records.map((r) => userSchema.parse({ id: r['id'], name: r['name'], extensions: list(r['extensions']), directNumbers: list(r['directNumbers']), mobileNumbers: list(r['mobileNumbers']) }));
    return o.policy.update(actor(req), (p) => ({ ...p, users })).policy.users.length;
  });
  app.get('/api/groups.csv', { config: ADMIN_ONLY }, (_req, reply) => {
    const rows = current().groups.map((g) => [g.id, g.name, g.numbers.join('|'), g.members.map((m) => `${m.userId}:${m.active ? 'active' : 'inactive'}`).join('|')]);
    return reply.type('text/csv').send(toSafeCsv([['id', 'name', 'numbers', 'members'], ...rows]));
  });
  app.put('/api/groups.csv', { config: ADMIN_ONLY }, (req) => {
    const records = parseCsv<Record<string, string>>(String(req.body), { columns: true, skip_empty_lines: true, trim: true, cast: (value) => fromCsvCell(value) });
    const groups = records.map((r) => groupSchema.parse({
      id: r['id'], name: r['name'], numbers: list(r['numbers']),
      members: list(r['members']).map((m) => { const [userId = '', state = 'active'] = m.split(':'); return { userId, active: state !== 'inactive' }; }),
    }));
    return o.policy.update(actor(req), (p) => ({ ...p, groups })).policy.groups.length;
  });

  recordingRoutes(app, { ...o.recordings, audit: o.audit, outbox: o.outbox, holdsOf: (r) => o.retention.holds.matching(r) });
  retentionRoutes(app, { ...o.retention, audit: o.audit });
  webhookRoutes(app, o.webhooks);
  opsRoutes(app, { ...o.ops, accounts: o.accounts, audit: o.audit, policy: o.policy, outbox: o.outbox, targets: o.targets, sqlLogs: o.sqlLogs, throttle });
  await serveUi(app, o.uiRoot);
  return app;
}

/**
 * Whether a request path names the API however it is spelled: percent-decoded (repeatedly), with
 * backslashes as slashes, doubled slashes and dot segments resolved, in any case. The not-found
 * handler answers such paths with a JSON 404 and never with the UI page (security issue, finding 1).
 */
function looksLikeApi(url: string): boolean {
  let path = url.split('?')[0] ?? '';
  // Byte-wise, so a malformed or non-UTF-8 escape cannot throw; only ASCII letters matter here.
  for (let i = 0; i < 5; i++) {
    const decoded = path.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (decoded === path) break;
    path = decoded;
  }
  const segments: string[] = [];
  for (const seg of path.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg.toLowerCase());
  }
  return /^api(?:$|[^a-z0-9])/.test(segments[0] ?? '');
}

/** File names in the UI's `assets` folder (Vite's hashed bundles). */
const ASSET = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Serves the built UI: `/` and every other GET outside the API answer with its index page (client
 * routing), `/assets/:file` with its bundles. Both are declared public: they hold no data.
 */
async function serveUi(app: FastifyInstance, root: string): Promise<void> {
  const index = `${root}/index.html`;
  if (!existsSync(index)) {
    app.get('/', { config: PUBLIC }, (_req, reply) => reply.type('text/plain').send('The web UI is not built: run "npm run build:ui" (npm ci does it).\n'));
    return;
  }
  // Only `reply.sendFile`: the routes are callseal's own, so each declares its access.
  await app.register(fastifyStatic, { root, serve: false });
  const html = readFileSync(index, 'utf8');
  const page = (_req: unknown, reply: import('fastify').FastifyReply): import('fastify').FastifyReply => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  app.get('/', { config: PUBLIC, schema: { hide: true } }, page);
  app.get('/assets/:file', { config: PUBLIC, schema: { hide: true } }, (req, reply) => {
    const { file } = req.params as { file: string };
    if (!ASSET.test(file) || !existsSync(`${root}/assets/${file}`)) return reply.code(404).send({ error: 'not found' });
    return reply.sendFile(`assets/${file}`, { maxAge: '1h', immutable: false, cacheControl: true });
  });
  // The not-found handler runs no route, so the access check has nothing to admit: it is public and
  // serves only the UI page (to GETs of paths that are not the API's) or a 404.
  app.setNotFoundHandler((req, reply) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && !looksLikeApi(req.url) && !(req.url.split('?')[0] ?? '').includes('.')) return page(req, reply);
    return reply.code(404).send({ error: 'not found' });
  });
}
