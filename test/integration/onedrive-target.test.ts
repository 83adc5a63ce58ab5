/**
 * The OneDrive / SharePoint target against a local server that speaks the documented Microsoft
 * identity platform and Graph drive wire formats (no tenant is reachable from here): app sign-in
 * with a secret and with a certificate, device code user sign-in with its token cache, simple and
 * session uploads (320 KiB chunks, no token sent to the upload URL), quickXorHash verification,
 * the retention label, and the sign-in failures an admin must act on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OneDriveTarget, type OneDriveTargetConfig } from '../../src/archive/index.ts';
import { startFakeGraph, type FakeGraph } from '../helpers/graph.ts';
import { until } from '../helpers/api.ts';

let graph: FakeGraph;
let dir: string;

function config(over: Partial<OneDriveTargetConfig> = {}): OneDriveTargetConfig {
  return {
    kind: 'onedrive', signIn: 'app', tenant: graph.tenant, clientId: graph.clientId, clientSecret: graph.clientSecret,
    authorityHost: graph.base, graphBaseUrl: `${graph.base}/v1.0`, driveId: 'drive-1', folder: 'callseal', ...over,
  };
}

function file(name: string, bytes: number): string {
  const p = join(dir, name);
  writeFileSync(p, randomBytes(bytes));
  return p;
}

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

beforeAll(async () => {
  graph = await startFakeGraph();
  dir = mkdtempSync(join(tmpdir(), 'callseal-onedrive-'));
});
afterAll(async () => {
  await graph.close();
});

describe('OneDrive / SharePoint target against the documented Microsoft Graph wire format (no tenant reachable)', () => {
  it('app sign-in with a client secret: uploads, verifies by quickXorHash, reads back, lists, applies the retention label', async () => {
    const t = new OneDriveTarget(config({ retentionLabel: 'Call recordings 10 years' }), { ca: graph.ca });
    const local = file('a.wav', 300_000);
    await t.put(local, '2026/11/23/a.wav');
    expect(graph.items.get('callseal/2026/11/23/a.wav')?.data.equals(readFileSync(local))).toBe(true);
    expect(graph.seen.some((r) => r.method === 'PUT' && r.path.startsWith('/v1.0/drives/drive-1/root:/callseal/2026/11/23/a.wav:/content') && r.path.includes('@microsoft.graph.conflictBehavior=replace'))).toBe(true);
    // The token endpoint got the client secret and the .default scope of the Graph origin.
    const tokenReq = graph.seen.find((r) => r.path.includes('/oauth2/v2.0/token'));
    expect(new URLSearchParams(tokenReq?.body ?? '').get('scope')).toContain(`${graph.base}/.default`);
    expect(await t.stat('2026/11/23/a.wav')).toEqual({ size: 300_000 });
    expect(await t.stat('2026/11/23/missing.wav')).toBeUndefined();
    expect(await t.sha256('2026/11/23/a.wav')).toBe(sha256(local));
    // The download redirect is fetched without the bearer token.
    expect(graph.seen.filter((r) => r.path.startsWith('/download/')).every((r) => r.authorization === undefined)).toBe(true);
    const label = graph.seen.find((r) => r.method === 'PATCH');
    expect(label?.path).toMatch(/^\/v1\.0\/drives\/drive-1\/items\/[0-9a-f-]+\/retentionLabel$/);
    expect(JSON.parse(label?.body ?? '{}')).toEqual({ name: 'Call recordings 10 years' });
    expect(await t.describeLock('2026/11/23/a.wav')).toMatchObject({ mode: 'label', label: 'Call recordings 10 years', worm: false });
    await t.put(file('b.wav', 10), '2026/11/23/b.wav');
    await t.put(file('c.wav', 10), '2026/11/23/sub/c.wav');
    expect((await t.list('2026/11/23')).sort()).toEqual(['a.wav', 'b.wav', 'sub']);
    // A second upload of the same name replaces the first.
    const again = file('a2.wav', 1000);
    await t.put(again, '2026/11/23/a.wav');
    expect(await t.sha256('2026/11/23/a.wav')).toBe(sha256(again));
    await t.remove('2026/11/23/b.wav');
    expect(await t.stat('2026/11/23/b.wav')).toBeUndefined();
  });

  it('uploads a large file through an upload session in chunks of a multiple of 320 KiB, without the token', async () => {
    const t = new OneDriveTarget(config(), { ca: graph.ca });
    const before = graph.seen.length;
    const local = file('big.wav', 21 * 1024 * 1024 + 5);
    await t.put(local, 'big/big.wav');
    const chunks = graph.seen.slice(before).filter((r) => r.path.startsWith('/upload/'));
    expect(chunks.length).toBe(3);
    expect(chunks.every((r) => r.authorization === undefined)).toBe(true);
    expect(chunks.slice(0, -1).every((r) => r.bodyBytes % (320 * 1024) === 0)).toBe(true);
    expect(chunks.map((r) => r.contentRange)).toEqual([`bytes 0-10485759/${21 * 1024 * 1024 + 5}`, `bytes 10485760-20971519/${21 * 1024 * 1024 + 5}`, `bytes 20971520-${21 * 1024 * 1024 + 4}/${21 * 1024 * 1024 + 5}`]);
    const session = graph.seen.slice(before).find((r) => r.path.includes('createUploadSession'));
    expect(JSON.parse(session?.body ?? '{}')).toEqual({ item: { '@microsoft.graph.conflictBehavior': 'replace' } });
    expect(await t.sha256('big/big.wav')).toBe(sha256(local));
  });

  it('refuses a copy whose quickXorHash differs, and sends no token to a nextLink elsewhere', async () => {
    const t = new OneDriveTarget(config(), { ca: graph.ca });
    graph.corruptNextUpload();
    await expect(t.put(file('bad.wav', 5000), 'bad.wav')).rejects.toMatchObject({ stage: 'verify' });
    await t.put(file('n1', 10), 'next/n1');
    await t.put(file('n2', 10), 'next/n2');
    graph.foreignNextLink();
    await expect(t.list('next')).rejects.toThrow(/refusing to send the token/);
  });

  it('app sign-in with a certificate (PS256 client assertion), a SharePoint site drive', async () => {
    const t = new OneDriveTarget(config({ clientSecret: undefined, certificatePem: graph.appCertPem, privateKeyPem: graph.appKeyPem, driveId: undefined, siteId: 'contoso.sharepoint.com,2c1d5c4e-0000-4000-8000-000000000001,3d2e6d5f-0000-4000-8000-000000000002' }), { ca: graph.ca });
    expect(await t.test()).toMatchObject({ ok: true });
    const before = graph.seen.length;
    await t.put(file('s.wav', 100), 's.wav');
    expect(graph.seen.slice(before).some((r) => r.path.startsWith('/v1.0/sites/contoso.sharepoint.com,2c1d5c4e-0000-4000-8000-000000000001,3d2e6d5f-0000-4000-8000-000000000002/drive/root:/callseal/s.wav:/content'))).toBe(true);
    expect([...graph.items.keys()].some((k) => k.includes('.callseal-test-'))).toBe(false);
  });

  it('names what is wrong: a wrong secret, an unknown app, a revoked consent (with one sign-in alert)', async () => {
    const wrong = await new OneDriveTarget(config({ clientSecret: 'nope' }), { ca: graph.ca }).test();
    expect(wrong).toMatchObject({ ok: false, stage: 'auth' });
    expect(wrong.message).toMatch(/client secret is wrong.*AADSTS7000215/);
    expect((await new OneDriveTarget(config({ clientId: '00000000-0000-0000-0000-000000000000' }), { ca: graph.ca }).test()).message).toMatch(/not known in this tenant/);
    expect(await new OneDriveTarget(config({ authorityHost: 'https://127.0.0.1:1' }), { ca: graph.ca }).test()).toMatchObject({ ok: false, stage: 'connect' });
    const lost: string[] = [];
    const t = new OneDriveTarget(config({ driveId: undefined, userId: 'recorder@example.com' }), { ca: graph.ca, onSignInLost: (m) => { lost.push(m); } });
    await t.put(file('u.wav', 10), 'u.wav');
    graph.revokeConsent();
    // MSAL keeps the app token: a new target asks the token endpoint again.
    const t2 = new OneDriveTarget(config({ userId: 'recorder@example.com' }), { ca: graph.ca, onSignInLost: (m) => { lost.push(m); } });
    await expect(t2.put(file('u2.wav', 10), 'u2.wav')).rejects.toMatchObject({ stage: 'auth' });
    await expect(t2.put(file('u3.wav', 10), 'u3.wav')).rejects.toThrow(/consent .* revoked .*AADSTS65001/);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/administrator must grant/);
  });

  it('user sign-in by device code: the token cache is handed to the store; an expired refresh token asks to sign in again', async () => {
    let cache: string | undefined;
    const lost: string[] = [];
    const store = { load: () => cache, save: (s: string) => { cache = s; } };
    const t = new OneDriveTarget(config({ signIn: 'user', clientSecret: undefined, driveId: undefined }), { ca: graph.ca, cache: store, onSignInLost: (m) => { lost.push(m); } });
    expect((await t.test()).message).toMatch(/nobody signed in yet/);
    const prompt = await t.startSignIn();
    expect(prompt).toMatchObject({ userCode: 'CSEAL123', verificationUri: 'https://microsoft.com/devicelogin' });
    expect(await t.signInState()).toEqual({ state: 'pending' });
    graph.approveDeviceCode();
    await until('the device code sign-in', async () => (await t.signInState()).state === 'signed-in', 15_000);
    expect(await t.signInState()).toEqual({ state: 'signed-in', account: 'recorder@example.onmicrosoft.com' });
    expect(cache).toContain('RefreshToken');
    // A new target instance (after a restart) signs in from the stored cache alone.
    const restarted = new OneDriveTarget(config({ signIn: 'user', clientSecret: undefined, driveId: undefined }), { ca: graph.ca, cache: store, onSignInLost: (m) => { lost.push(m); } });
    const local = file('me.wav', 2000);
    await restarted.put(local, 'me.wav');
    expect(graph.seen.some((r) => r.path.startsWith('/v1.0/me/drive/root:/callseal/me.wav:/content'))).toBe(true);
    graph.revokeRefreshTokens();
    const failed = await restarted.test();
    expect(failed).toMatchObject({ ok: false, stage: 'auth' });
    expect(failed.message).toMatch(/sign in again.*AADSTS700082/);
    expect(lost).toHaveLength(1);
  });
});
