/**
 * A local HTTPS server that speaks the documented wire format of the Microsoft identity platform
 * (OpenID configuration, token endpoint: client credentials with a secret or a PS256 certificate
 * assertion, device code, refresh token; AADSTS errors) and of Microsoft Graph's drive API (PUT
 * content, createUploadSession with 320 KiB chunks and nextExpectedRanges, driveItem with
 * file.hashes.quickXorHash, /content as a 302 to a pre-authenticated URL, children with nextLink,
 * DELETE, retentionLabel). No tenant can be reached here, so callseal's OneDrive target is tested
 * against this; it records every request for the tests to check.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, createPublicKey, randomBytes, randomUUID, verify, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuickXorHash } from '../../src/archive/quickxor.ts';

/** One request as the server saw it. */
export interface SeenRequest { method: string; path: string; authorization: string | undefined; contentRange: string | undefined; bodyBytes: number; body: string }

interface Item { id: string; name: string; data: Buffer; label?: string }

/** The fake tenant's state and knobs. */
export interface FakeGraph {
  readonly base: string;
  /** The CA (here: the server's self-signed certificate) to trust. */
  readonly ca: string;
  readonly tenant: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** An app certificate (PEM) and its key, registered for the app. */
  readonly appCertPem: string;
  readonly appKeyPem: string;
  readonly seen: SeenRequest[];
  /** Items by path under the drive root (`folder/name`). */
  readonly items: Map<string, Item>;
  /** Approves the pending device code sign-in. */
  approveDeviceCode(): void;
  /** Revokes every refresh token (the next refresh answers AADSTS700082). */
  revokeRefreshTokens(): void;
  /** Client credentials answer AADSTS65001 (consent revoked) from now on. */
  revokeConsent(): void;
  /** The next upload's stored bytes are altered (a corrupt copy). */
  corruptNextUpload(): void;
  /** A nextLink pointing elsewhere in the next children answer. */
  foreignNextLink(): void;
  close(): Promise<void>;
}

const CHUNK_UNIT = 320 * 1024;

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

function jwtUnsigned(claims: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

function aadError(res: ServerResponse, status: number, error: string, code: number, text: string): void {
  json(res, status, { error, error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() });
}

function graphError(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID() } } });
}

/** Starts the server on a free loopback port. */
export async function startFakeGraph(): Promise<FakeGraph> {
  const d = mkdtempSync(join(tmpdir(), 'callseal-graph-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(d, 'server.key'), '-out', join(d, 'server.crt')], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=callseal-app', '-keyout', join(d, 'app.key'), '-out', join(d, 'app.crt')], { stdio: 'ignore' });
  const ca = readFileSync(join(d, 'server.crt'), 'utf8');
  const appCertPem = readFileSync(join(d, 'app.crt'), 'utf8');
  const appCert = new X509Certificate(appCertPem);
  const tenant = '11111111-2222-3333-4444-555555555555';
  const clientId = '99999999-8888-7777-6666-555555555555';
  const clientSecret = 'app~secret~value';
  const seen: SeenRequest[] = [];
  const items = new Map<string, Item>();
  const accessTokens = new Set<string>();
  const refreshTokens = new Set<string>();
  const sessions = new Map<string, { path: string; size: number; data: Buffer; received: number }>();
  const downloads = new Map<string, Item>();
  let deviceCode: { code: string; approved: boolean } | undefined;
  let consentRevoked = false;
  let corruptNext = false;
  let foreignNext = false;
  let base = '';
  const user = { oid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', upn: 'recorder@example.onmicrosoft.com' };

  const issue = (withUser: boolean): Record<string, unknown> => {
    const access = randomBytes(24).toString('hex');
    accessTokens.add(access);
    // Below MSAL's 5-minute renewal margin: every token() call of a user sign-in refreshes.
    const out: Record<string, unknown> = { token_type: 'Bearer', scope: 'https://127.0.0.1/Files.ReadWrite.All', expires_in: withUser ? 200 : 3599, ext_expires_in: 3599, access_token: access };
    if (withUser) {
      const refresh = randomBytes(24).toString('hex');
      refreshTokens.add(refresh);
      const now = Math.floor(Date.now() / 1000);
      out['refresh_token'] = refresh;
      out['id_token'] = jwtUnsigned({ aud: clientId, iss: `${base}/${tenant}/v2.0`, iat: now, nbf: now, exp: now + 3600, name: 'Recorder', oid: user.oid, preferred_username: user.upn, sub: 'sub-1', tid: tenant, ver: '2.0' });
      out['client_info'] = b64url(JSON.stringify({ uid: user.oid, utid: tenant }));
    }
    return out;
  };

  const checkAssertion = (assertion: string, audience: string): boolean => {
    const [h, p, s] = assertion.split('.');
    if (h === undefined || p === undefined || s === undefined) return false;
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string; 'x5t#S256'?: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud?: string; iss?: string; sub?: string; exp?: number };
    if (header.alg !== 'PS256' || header['x5t#S256'] !== Buffer.from(appCert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url')) return false;
    if (claims.aud !== audience || claims.iss !== clientId || claims.sub !== clientId || (claims.exp ?? 0) < Date.now() / 1000) return false;
    return verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey(appCertPem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, Buffer.from(s, 'base64url'));
  };

  const token = async (req: IncomingMessage, res: ServerResponse, text: string): Promise<void> => {
    await Promise.resolve();
    const f = new URLSearchParams(text);
    if (f.get('client_id') !== clientId) { aadError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${f.get('client_id') ?? ''}' was not found in the directory.`); return; }
    const grant = f.get('grant_type');
    if (grant === 'client_credentials') {
      const assertion = f.get('client_assertion');
      const ok = assertion !== null ? checkAssertion(assertion, `${base}${new URL(req.url ?? '/', base).pathname}`) : f.get('client_secret') === clientSecret;
      if (!ok) { aadError(res, 401, 'invalid_client', assertion !== null ? 700027 : 7000215, assertion !== null ? 'Client assertion failed signature validation.' : 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.'); return; }
      if (consentRevoked) { aadError(res, 400, 'invalid_grant', 65001, "The user or administrator has not consented to use the application with ID '" + clientId + "'."); return; }
      json(res, 200, issue(false));
      return;
    }
    if (grant === 'device_code') {
      if (!deviceCode || f.get('device_code') !== deviceCode.code) { aadError(res, 400, 'expired_token', 70019, 'Verification code expired.'); return; }
      if (!deviceCode.approved) { aadError(res, 400, 'authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'); return; }
      deviceCode = undefined;
      json(res, 200, issue(true));
      return;
    }
    if (grant === 'refresh_token') {
      const rt = f.get('refresh_token') ?? '';
      if (!refreshTokens.has(rt)) { aadError(res, 400, 'invalid_grant', 700082, 'The refresh token has expired due to inactivity. The token was issued on 2026-01-01T00:00:00Z and was inactive for 90.00:00:00.'); return; }
      refreshTokens.delete(rt);
      json(res, 200, issue(true));
      return;
    }
    aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
  };

  const driveItem = (path: string, it: Item): Record<string, unknown> => ({
    id: it.id, name: it.name, size: it.data.length, parentReference: { driveId: 'drive-1', path: `/drive/root:/${path.split('/').slice(0, -1).join('/')}` },
    file: { mimeType: 'application/octet-stream', hashes: { quickXorHash: new QuickXorHash().update(it.data).digestBase64() } },
  });

  const store = (path: string, data: Buffer): Item => {
    const old = items.get(path);
    const stored = corruptNext ? Buffer.concat([data.subarray(0, Math.max(0, data.length - 1)), Buffer.from([(data[data.length - 1] ?? 0) ^ 0xff])]) : data;
    corruptNext = false;
    const it: Item = { id: old?.id ?? randomUUID(), name: path.split('/').pop() ?? '', data: stored, ...(old?.label !== undefined ? { label: old.label } : {}) };
    items.set(path, it);
    return it;
  };

  const graph = (req: IncomingMessage, res: ServerResponse, url: URL, data: Buffer): void => {
    const auth = req.headers.authorization;
    if (auth === undefined || !accessTokens.has(auth.replace(/^Bearer /, ''))) { graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.'); return; }
    // /v1.0/{drives/drive-1 | sites/{id}/drive | users/{id}/drive | me/drive}/...
    const m = /^\/v1\.0\/(?:drives\/drive-1|sites\/[^/]+\/drive|users\/[^/]+\/drive|me\/drive)\/(.*)$/.exec(url.pathname);
    if (!m) { graphError(res, 404, 'itemNotFound', 'The resource could not be found.'); return; }
    const rest = decodeURIComponent(m[1] ?? '');
    const byId = /^items\/([^/]+)\/retentionLabel$/.exec(rest);
    if (byId) {
      const it = [...items.values()].find((i) => i.id === byId[1]);
      if (!it) { graphError(res, 404, 'itemNotFound', 'Item not found'); return; }
      const first = it.label === undefined;
      it.label = (JSON.parse(data.toString()) as { name: string }).name;
      json(res, first ? 201 : 200, { name: it.label, retentionSettings: { behaviorDuringRetentionPeriod: 'retain', isDeleteAllowed: false, isRecordLocked: false, isMetadataUpdateAllowed: false, isContentUpdateAllowed: false, isLabelUpdateAllowed: false }, isLabelAppliedExplicitly: true, labelAppliedDateTime: new Date().toISOString() });
      return;
    }
    if (rest === 'root/children') { json(res, 200, { value: [...items.keys()].filter((k) => !k.includes('/')).map((name) => ({ name })) }); return; }
    const p = /^root:\/(.+?):?(\/content|\/createUploadSession|\/children|\/retentionLabel)?$/.exec(rest);
    if (!p) { graphError(res, 400, 'invalidRequest', 'Invalid request'); return; }
    const path = p[1] ?? '';
    const op = p[2] ?? '';
    const it = items.get(path);
    if (op === '/content' && req.method === 'PUT') {
      json(res, it ? 200 : 201, driveItem(path, store(path, data)));
    } else if (op === '/createUploadSession' && req.method === 'POST') {
      const id = randomBytes(8).toString('hex');
      sessions.set(id, { path, size: -1, data: Buffer.alloc(0), received: 0 });
      json(res, 200, { uploadUrl: `${base}/upload/${id}?tempauth=${randomBytes(8).toString('hex')}`, expirationDateTime: new Date(Date.now() + 3600_000).toISOString(), nextExpectedRanges: ['0-'] });
    } else if (op === '/content' && req.method === 'GET') {
      if (!it) { graphError(res, 404, 'itemNotFound', 'Item not found'); return; }
      const key = randomBytes(8).toString('hex');
      downloads.set(key, it);
      res.writeHead(302, { location: `${base}/download/${key}` });
      res.end();
    } else if (op === '/children') {
      const prefix = `${path}/`;
      const names = [...new Set([...items.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split('/')[0] ?? ''))];
      const half = Math.ceil(names.length / 2);
      const page = url.searchParams.get('page');
      if (page === null && names.length > 1) {
        json(res, 200, { value: names.slice(0, half).map((name) => ({ name })), '@odata.nextLink': foreignNext ? 'https://graph.example.net/v1.0/next' : `${base}${url.pathname}?$select=name&page=2` });
        foreignNext = false;
      } else json(res, 200, { value: (page === null ? names : names.slice(half)).map((name) => ({ name })) });
    } else if (op === '/retentionLabel') {
      if (!it) { graphError(res, 404, 'itemNotFound', 'Item not found'); return; }
      json(res, 200, { name: it.label ?? '' });
    } else if (op === '' && req.method === 'GET') {
      if (!it) { graphError(res, 404, 'itemNotFound', 'Item not found'); return; }
      json(res, 200, driveItem(path, it));
    } else if (op === '' && req.method === 'DELETE') {
      if (!it) { graphError(res, 404, 'itemNotFound', 'Item not found'); return; }
      items.delete(path);
      res.writeHead(204);
      res.end();
    } else graphError(res, 405, 'invalidRequest', 'Method not allowed');
  };

  const upload = (req: IncomingMessage, res: ServerResponse, url: URL, data: Buffer): void => {
    const s = sessions.get(url.pathname.split('/')[2] ?? '');
    if (!s) { graphError(res, 404, 'itemNotFound', 'Upload session not found'); return; }
    if (req.method === 'DELETE') { sessions.delete(url.pathname.split('/')[2] ?? ''); res.writeHead(204); res.end(); return; }
    const r = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers['content-range'] ?? '');
    const [start, end, total] = [Number(r?.[1]), Number(r?.[2]), Number(r?.[3])];
    if (!r || start !== s.received || end - start + 1 !== data.length || (end + 1 < total && data.length % CHUNK_UNIT !== 0)) {
      graphError(res, 416, 'invalidRange', 'The Content-Range is invalid or chunk is not a multiple of 320 KiB'); return;
    }
    s.data = Buffer.concat([s.data, data]);
    s.received = end + 1;
    if (s.received < total) { json(res, 202, { expirationDateTime: new Date(Date.now() + 3600_000).toISOString(), nextExpectedRanges: [`${s.received}-`] }); return; }
    sessions.delete(url.pathname.split('/')[2] ?? '');
    json(res, 201, driveItem(s.path, store(s.path, s.data)));
  };

  const server: Server = createServer({ key: readFileSync(join(d, 'server.key')), cert: ca }, (req, res) => {
    void (async () => {
      const data = await body(req);
      const url = new URL(req.url ?? '/', base);
      seen.push({ method: req.method ?? '', path: decodeURIComponent(url.pathname) + url.search, authorization: req.headers.authorization, contentRange: req.headers['content-range'], bodyBytes: data.length, body: data.length < 4096 ? data.toString() : '' });
      if (url.pathname === `/${tenant}/v2.0/.well-known/openid-configuration`) {
        const t = `${base}/${tenant}`;
        json(res, 200, {
          token_endpoint: `${t}/oauth2/v2.0/token`, authorization_endpoint: `${t}/oauth2/v2.0/authorize`, device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
          end_session_endpoint: `${t}/oauth2/v2.0/logout`, issuer: `${t}/v2.0`, jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'], response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'], tenant_region_scope: 'EU', cloud_instance_name: 'microsoftonline.com',
        });
      } else if (url.pathname === `/${tenant}/oauth2/v2.0/token` && req.method === 'POST') {
        await token(req, res, data.toString());
      } else if (url.pathname === `/${tenant}/oauth2/v2.0/devicecode` && req.method === 'POST') {
        deviceCode = { code: randomBytes(16).toString('hex'), approved: false };
        json(res, 200, { device_code: deviceCode.code, user_code: 'CSEAL123', verification_uri: 'https://microsoft.com/devicelogin', expires_in: 900, interval: 1, message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code CSEAL123 to authenticate.' });
      } else if (url.pathname.startsWith('/v1.0/')) {
        graph(req, res, url, data);
      } else if (url.pathname.startsWith('/upload/')) {
        upload(req, res, url, data);
      } else if (url.pathname.startsWith('/download/')) {
        const it = downloads.get(url.pathname.split('/')[2] ?? '');
        if (!it) { graphError(res, 404, 'itemNotFound', 'gone'); return; }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(it.data.length) });
        res.end(it.data);
      } else graphError(res, 404, 'notFound', 'No such endpoint');
    })();
  });
  await new Promise<void>((r) => { server.listen(0, '127.0.0.1', () => { r(); }); });
  const addr = server.address();
  base = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    base, ca, tenant, clientId, clientSecret, appCertPem, appKeyPem: readFileSync(join(d, 'app.key'), 'utf8'), seen, items,
    approveDeviceCode: () => { if (deviceCode) deviceCode.approved = true; },
    revokeRefreshTokens: () => { refreshTokens.clear(); },
    revokeConsent: () => { consentRevoked = true; },
    corruptNextUpload: () => { corruptNext = true; },
    foreignNextLink: () => { foreignNext = true; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => { r(); }); }),
  };
}
