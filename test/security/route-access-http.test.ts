/**
 * Security issue, finding 1, over real HTTP against the running callseal CLI: `fetch` (and
 * `inject`) normalise URLs, so each spelling of `paths.ts` goes out as the raw request target
 * (`http.request` with `path`). Every route of the OpenAPI description, anonymously and as a
 * member, answers 401/403/404, never 2xx; a changing request that ran under an odd spelling is in
 * the audit trail under its route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { apiCall, until } from '../helpers/api.ts';
import { login, type WebClient } from '../helpers/web.ts';
import { pathVariants } from './paths.ts';

const TOKEN = 'route-access-http-token';
const ADMIN_PASSWORD = 'first-admin-password-1';
const PUBLIC = new Set(['POST /api/session', 'GET /healthz', 'GET /readyz']);
const MEMBER = new Set(['GET /api/me', 'PUT /api/me/groups/{groupId}', 'PUT /api/me/password', 'DELETE /api/session', 'GET /api/certificate', 'GET /api/certificate.pem']);
const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let cs: CallsealProcess;
let member: WebClient;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request with `path` sent exactly as given. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: cs.httpPort, method, path, agent, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `jobs` with at most `n` at a time. */
async function pool<T>(jobs: readonly (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i];
      if (job) out[i] = await job();
    }
  }));
  return out;
}

beforeAll(async () => {
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD, CALLSEAL_API_TOKEN: TOKEN } });
  const created = await apiCall(cs.httpPort, TOKEN, 'POST', '/api/accounts', { username: 'maria', displayName: 'Maria', roles: ['member'], password: 'member-password-1' });
  expect(created.status).toBe(201);
  member = await login(cs.httpPort, 'maria', 'member-password-1');
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await cs.stop();
});

describe('route-based authorisation over real HTTP (security issue, finding 1)', () => {
  it('refuses the reported requests: /%61pi/accounts, /%61pi/recordings, /%61pi/audit, PUT /%61pi/settings/record-all', async () => {
    const body = JSON.stringify({ username: 'mallory', displayName: 'Mallory', password: 'mallory-password-1', roles: ['admin', 'auditor'] });
    expect((await raw('POST', '/%61pi/accounts', {}, body)).status).toBe(401);
    for (const path of ['/%61pi/recordings', '/%61pi/audit', '/%61pi/accounts', '/ap%69/accounts', '/a%70i/accounts']) expect((await raw('GET', path, {})).status, path).toBe(401);
    expect((await raw('PUT', '/%61pi/settings/record-all', {}, JSON.stringify({ name: 'off', enabled: false, scope: { kind: 'all' } }))).status).toBe(401);
    const accounts = await apiCall(cs.httpPort, TOKEN, 'GET', '/api/accounts');
    expect((accounts.json as { username: string }[]).map((a) => a.username)).not.toContain('mallory');
  });

  it('answers every OpenAPI route under every raw spelling with 401/403/404, never 2xx (anonymous and member)', async () => {
    const doc = JSON.parse((await raw('GET', '/api/openapi.json', {})).body) as { paths: Record<string, Record<string, unknown>> };
    const jobs: (() => Promise<string | undefined>)[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const key = `${method} ${path}`;
        if (PUBLIC.has(key) || method === 'HEAD') continue;
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const body = CHANGING.has(method) && method !== 'DELETE' ? '{}' : undefined;
        for (const variant of [url, ...pathVariants(url)]) {
          jobs.push(async () => {
            const r = await raw(method, variant, {}, body).catch((err: unknown) => ({ status: -1, body: String(err) }));
            return [401, 403, 404].includes(r.status) ? undefined : `anonymous ${method} ${variant} -> ${r.status}`;
          });
          if (!MEMBER.has(key)) {
            jobs.push(async () => {
              const r = await raw(method, variant, { cookie: member.cookie, 'x-csrf-token': member.csrf }, body).catch((err: unknown) => ({ status: -1, body: String(err) }));
              return [401, 403, 404].includes(r.status) ? undefined : `member ${method} ${variant} -> ${r.status}`;
            });
          }
        }
      }
    }
    expect(jobs.length).toBeGreaterThan(3000);
    const wrong = (await pool(jobs, 4)).filter((x) => x !== undefined);
    expect(wrong).toEqual([]);
  }, 600_000);

  it('audits a change sent under a raw odd spelling, under the route that ran', async () => {
    for (const path of ['/%61pi/policy', '/api/policy/', '/api//policy', '/api/./policy', '/x/../api/policy', '/API/policy']) {
      const r = await raw('PUT', path, { authorization: `Bearer ${TOKEN}` }, JSON.stringify({ users: [], groups: [], settings: [] }));
      if (r.status === 404) {
        expect(JSON.parse(r.body), path).toEqual({ error: 'not found' });
        continue;
      }
      expect(r.status, path).toBe(200);
      // The token is an admin, not an auditor: the trail is read from the database. The entry is
      // written once the response has gone out, so it may come a moment after the answer.
      await until(`audit entry of ${path}`, () => {
        const db = new DatabaseSync(`${cs.home}/callseal.db`, { readOnly: true });
        try {
          const rows = db.prepare("SELECT object, details FROM audit WHERE action = 'change' ORDER BY seq DESC LIMIT 5").all() as { object: string; details: string }[];
          return rows.some((e) => e.object === 'PUT /api/policy' && (JSON.parse(e.details) as { url: string }).url === path);
        } finally {
          db.close();
        }
      }, 5000);
    }
  });

  it('never answers an API spelling with the UI page', async () => {
    for (const path of ['/%61pi/nothing', '/API/recordings', '/api//recordings', '/%61pi//recordings', '/x/../api/recordings', '/%2e/api/recordings', '/api%2Frecordings', '/api\\recordings']) {
      const r = await raw('GET', path, {});
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('<!doctype html>');
    }
    expect((await raw('GET', '/recordings', {})).body).toContain('<!doctype html>');
  });
});
