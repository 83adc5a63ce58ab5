/**
 * S3 and OneDrive targets through callseal's API (a real callseal process): credentials are stored
 * sealed and never shown; the `test` action; a OneDrive user sign-in by device code with its token
 * cache sealed in the database; an alert mail when the app's consent is revoked. Microsoft's side
 * is a local server speaking the documented Microsoft Graph wire format (no tenant reachable), its
 * certificate trusted through NODE_EXTRA_CA_CERTS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { apiCall, until } from '../helpers/api.ts';
import { freePort, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/servers.ts';
import { startFakeGraph, type FakeGraph } from '../helpers/graph.ts';

const TOKEN = 'cloud-targets-test-token';
let cs: CallsealProcess;
let graph: FakeGraph;
let mail: MailCatcher;

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return apiCall(cs.httpPort, TOKEN, method, path, body);
}

const onedrive = (over: Record<string, unknown>): Record<string, unknown> => ({
  kind: 'onedrive', signIn: 'app', tenant: graph.tenant, clientId: graph.clientId, clientSecret: graph.clientSecret,
  authorityHost: graph.base, graphBaseUrl: `${graph.base}/v1.0`, driveId: 'drive-1', folder: 'api', ...over,
});

beforeAll(async () => {
  [graph, mail] = await Promise.all([startFakeGraph(), startMailCatcher()]);
  const caFile = join(mkdtempSync(join(tmpdir(), 'callseal-ca-')), 'graph-ca.pem');
  writeFileSync(caFile, graph.ca);
  cs = await startCallseal({
    env: { CALLSEAL_API_TOKEN: TOKEN, NODE_EXTRA_CA_CERTS: caFile },
    config: { alerts: { smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'callseal@example.test', to: ['ops@example.test'] } } },
  });
});
afterAll(async () => {
  await cs.stop();
  await Promise.all([graph.close(), mail.stop()]);
});

describe('S3 and OneDrive targets through the API (Microsoft Graph: documented wire format, no tenant reachable)', () => {
  it('stores S3 and OneDrive targets with their secrets sealed and never shown; refuses incomplete ones', async () => {
    expect((await api('PUT', '/api/targets/s3a', { name: 'S3 WORM', config: { kind: 's3', endpoint: `http://127.0.0.1:${await freePort()}`, bucket: 'recordings', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 's3-secret-never-shown', lockMode: 'COMPLIANCE' } })).status).toBe(200);
    expect((await api('PUT', '/api/targets/od1', { name: 'OneDrive', config: onedrive({ retentionLabel: 'Recordings' }) })).status).toBe(200);
    const list = JSON.stringify((await api('GET', '/api/targets')).json);
    expect(list).not.toContain('s3-secret-never-shown');
    expect(list).not.toContain(graph.clientSecret);
    expect(list).toContain('(set)');
    const incomplete = await api('PUT', '/api/targets/od2', { name: 'no secret', config: onedrive({ clientSecret: undefined }) });
    expect(incomplete.status).toBe(400);
    expect(JSON.stringify(incomplete.json)).toContain('client secret');
    expect((await api('PUT', '/api/targets/od3', { name: 'http graph', config: onedrive({ graphBaseUrl: 'http://127.0.0.1/v1.0' }) })).status).toBe(400);
    expect((await api('PUT', '/api/targets/s3b', { name: 'no lock mode', config: { kind: 's3', endpoint: 'https://s3.example.test', bucket: 'recordings', accessKeyId: 'a', secretAccessKey: 'b' } })).status).toBe(400);
  });

  it('test action: OneDrive passes, S3 at a closed port is a connect failure and misconfigured', async () => {
    expect((await api('POST', '/api/targets/od1/test')).json).toMatchObject({ ok: true });
    expect((await api('POST', '/api/targets/s3a/test')).json).toMatchObject({ ok: false, stage: 'connect' });
    const rows = (await api('GET', '/api/targets')).json as { id: string; status: string }[];
    expect(rows.find((r) => r.id === 'od1')?.status).toBe('ok');
    expect(rows.find((r) => r.id === 's3a')?.status).toBe('misconfigured');
  });

  it('signs a user in by device code; the token cache is sealed in the database', async () => {
    expect((await api('PUT', '/api/targets/me', { name: 'My OneDrive', config: onedrive({ signIn: 'user', clientSecret: undefined, driveId: undefined }) })).status).toBe(200);
    expect((await api('POST', '/api/targets/me/test')).json).toMatchObject({ ok: false, stage: 'auth' });
    const prompt = await api('POST', '/api/targets/me/sign-in');
    expect(prompt.json).toMatchObject({ userCode: 'CSEAL123', verificationUri: 'https://microsoft.com/devicelogin' });
    graph.approveDeviceCode();
    await until('signed in', async () => ((await api('GET', '/api/targets/me/sign-in')).json as { state: string }).state === 'signed-in', 15_000);
    expect((await api('POST', '/api/targets/me/test')).json).toMatchObject({ ok: true });
    const db = new DatabaseSync(join(cs.home, 'callseal.db'), { readOnly: true });
    try {
      const rows = db.prepare("SELECT key, value FROM meta WHERE key LIKE 'target.tokenCache.%'").all() as { key: string; value: string }[];
      expect(rows.map((r) => r.key)).toEqual(['target.tokenCache.me']);
      expect(rows[0]?.value).not.toMatch(/RefreshToken|refresh_token|secret/i);
    } finally {
      db.close();
    }
    expect((await api('POST', '/api/targets/od1/sign-in')).status).toBe(400);
  });

  it('mails an alert once when the app consent is revoked', async () => {
    graph.revokeConsent();
    // Saving the target again drops the live one and its cached token.
    expect((await api('PUT', '/api/targets/od1', { name: 'OneDrive', config: onedrive({ retentionLabel: 'Recordings' }) })).status).toBe(200);
    const before = mail.messages.length;
    const r = (await api('POST', '/api/targets/od1/test')).json as { ok: boolean; stage: string; message: string };
    expect(r).toMatchObject({ ok: false, stage: 'auth' });
    expect(r.message).toMatch(/AADSTS65001/);
    await api('POST', '/api/targets/od1/test');
    await until('the alert mail', () => mail.messages.length > before);
    await new Promise((res) => setTimeout(res, 500));
    const mails = mail.messages.slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toContain('target od1: Microsoft sign-in needs attention');
  });
});
