/**
 * The web API's security and the recording browser against a running callseal, with sipp as the SRC:
 * accounts and roles (a member cannot read recordings, an auditor cannot change settings, an admin
 * cannot listen), sessions (httpOnly SameSite cookie, logout), CSRF refusal, login back-off per
 * account and the per-address limit, hostile input, the append-only audit trail, the OpenAPI
 * description; playback checked against sox's own G.711 decoding, downloads against sha256sum, the
 * verification kit unpacked with unzip and checked with verify.sh (openssl), the certificate
 * fingerprint and CSR with openssl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { startCallseal, run, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { twoTonePcap } from '../helpers/pcap.ts';
import { until } from '../helpers/api.ts';
import { client, login, type WebClient } from '../helpers/web.ts';

const ADMIN_PASSWORD = 'first-admin-password-1';
const TOKEN = 'web-api-test-token';
const HOSTILE = '<script>alert(1)</script> Eve';

let cs: CallsealProcess;
let dir: string;
let admin: WebClient;
let auditor: WebClient;
let member: WebClient;
let recordingId: string;

interface Row { id: string; baseName: string; dir: string; caller: { number: string; name: string }; callee: { number: string }; local: boolean }

beforeAll(async () => {
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD, CALLSEAL_API_TOKEN: TOKEN }, config: { http: { loginAttemptsPerMinute: 30, loginBackoffMaxSeconds: 4 } } });
  dir = mkdtempSync(join(tmpdir(), 'callseal-web-'));
  const pcap = join(dir, 'tones.pcap');
  const durationMs = twoTonePcap(pcap, 2);
  const r = await runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 }), `127.0.0.1:${cs.sipPort}`);
  expect(r.code, r.errors).toBe(0);
  await cs.waitForLog((l) => l['msg'] === 'recording finished');
}, 120_000);

afterAll(async () => {
  await cs.stop();
});

describe('accounts, sessions and roles', () => {
  it('creates the first admin from CALLSEAL_ADMIN_PASSWORD and never logs the password', () => {
    const line = cs.logs.find((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('first admin account created'));
    expect(line?.['msg']).toContain('CALLSEAL_ADMIN_PASSWORD');
    expect(JSON.stringify(cs.logs)).not.toContain(ADMIN_PASSWORD);
  });

  it('answers 401 without a session, and the health check without one', async () => {
    const anon = client(cs.httpPort);
    expect((await anon.call('GET', '/api/recordings')).status).toBe(401);
    expect((await anon.call('GET', '/api/settings')).status).toBe(401);
    expect((await anon.call('GET', '/api/me')).status).toBe(401);
    expect((await anon.call('GET', '/healthz')).status).toBe(200);
    expect((await anon.call('GET', '/api/recordings', undefined, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('refuses a wrong password with 401 and logs the attempt', async () => {
    const r = await client(cs.httpPort).call('POST', '/api/session', { username: 'admin', password: 'not-the-password' });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: 'wrong username or password' });
  });

  it('logs the admin in with an httpOnly SameSite=Strict cookie and a CSRF token', async () => {
    admin = await login(cs.httpPort, 'admin', ADMIN_PASSWORD);
    const c = (admin as WebClient & { setCookie: string }).setCookie;
    expect(c).toMatch(/^callseal_session=[A-Za-z0-9_-]{43};/);
    expect(c).toMatch(/HttpOnly/i);
    expect(c).toMatch(/SameSite=Strict/i);
    expect(admin.csrf).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The session id is stored only as its SHA-256.
    const db = new DatabaseSync(join(cs.home, 'callseal.db'), { readOnly: true });
    const ids = (db.prepare('SELECT id_sha256 FROM sessions').all() as { id_sha256: string }[]).map((x) => x.id_sha256);
    db.close();
    const raw = admin.cookie.split('=')[1] ?? '';
    expect(ids).toContain(createHash('sha256').update(raw).digest('hex'));
    expect(JSON.stringify(ids)).not.toContain(raw);
  });

  it('refuses a change without the CSRF token, takes it with the token', async () => {
    const body = { username: 'alice', displayName: 'Alice Auditor', roles: ['auditor'], password: 'auditor-password-1' };
    const refused = await admin.call('POST', '/api/accounts', body, { csrf: false });
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ error: 'missing or wrong x-csrf-token' });
    const wrong = await admin.call('POST', '/api/accounts', body, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(32) } });
    expect(wrong.status).toBe(403);
    const ok = await admin.call('POST', '/api/accounts', body);
    expect(ok.status).toBe(201);
    expect(ok.json).not.toHaveProperty('passwordHash');
    expect(JSON.stringify(ok.json)).not.toContain('argon2');
  });

  it('names the bad fields of an account', async () => {
    const r = await admin.call('POST', '/api/accounts', { username: 'Bad Name', displayName: '', roles: ['root'], password: 'short' });
    expect(r.status).toBe(400);
    const paths = (r.json as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['displayName', 'password', 'roles.0', 'username']));
  });

  it('creates a member bound to a directory user, with a hostile display name kept as text', async () => {
    const policy = await admin.call('PUT', '/api/policy', {
      users: [{ id: 'maria', name: HOSTILE, extensions: ['301'] }, { id: 'peter', name: 'Peter', extensions: ['302'] }],
      groups: [
        { id: 'sales', name: 'Sales', numbers: ['+4989765432'], members: [{ userId: 'maria', active: true }] },
        { id: 'board', name: 'Board', numbers: ['+4989765499'], members: [{ userId: 'peter', active: true }] },
      ],
      settings: [{ id: 'record-all', name: 'Record all calls', scope: { kind: 'all' } }],
    });
    expect(policy.status).toBe(200);
    const r = await admin.call('POST', '/api/accounts', { username: 'maria', displayName: HOSTILE, roles: ['member'], directoryUserId: 'maria', password: 'member-password-1' });
    expect(r.status).toBe(201);
    expect((r.json as { displayName: string }).displayName).toBe(HOSTILE);
    member = await login(cs.httpPort, 'maria', 'member-password-1');
    auditor = await login(cs.httpPort, 'alice', 'auditor-password-1');
  });

  it('lets a member see and toggle only its own groups', async () => {
    const me = await member.call('GET', '/api/me');
    expect(me.json).toMatchObject({ username: 'maria', roles: ['member'], groups: [{ groupId: 'sales', name: 'Sales', active: true }] });
    expect((await member.call('PUT', '/api/me/groups/sales', { active: false })).status).toBe(200);
    const groups = await admin.call('GET', '/api/groups/sales');
    expect((groups.json as { members: { active: boolean }[] }).members[0]?.active).toBe(false);
    expect((await member.call('PUT', '/api/me/groups/board', { active: false })).status).toBe(403);
    expect((await member.call('PUT', '/api/me/groups/sales', { active: true })).status).toBe(200);
  });

  it('stores SMTP settings entered by an admin sealed, never shows the password, names bad fields', async () => {
    const bad = await admin.call('PUT', '/api/alerts', { host: '', from: 'x@y', to: ['not an address'] });
    expect(bad.status).toBe(400);
    expect((bad.json as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual(['host', 'to.0']);
    const ok = await admin.call('PUT', '/api/alerts', { host: 'mail.example.test', port: 587, user: 'alerts', password: 'smtp-secret-1', from: 'callseal@example.test', to: ['ops@example.test'] });
    expect(ok.json).toMatchObject({ configured: true, source: 'ui', password: '(set)' });
    // Without a password the stored one stays.
    await admin.call('PUT', '/api/alerts', { host: 'mail.example.test', port: 587, user: 'alerts', from: 'callseal@example.test', to: ['ops@example.test', 'cco@example.test'] });
    const shown = await admin.call('GET', '/api/alerts');
    expect(shown.json).toMatchObject({ password: '(set)', to: ['ops@example.test', 'cco@example.test'] });
    expect(shown.text).not.toContain('smtp-secret-1');
    const db = new DatabaseSync(join(cs.home, 'callseal.db'), { readOnly: true });
    const stored = JSON.stringify(db.prepare("SELECT value FROM meta WHERE key = 'alerts.smtp'").get());
    db.close();
    expect(stored).not.toContain('smtp-secret-1');
    expect(stored).not.toContain('mail.example.test');
    expect((await admin.call('DELETE', '/api/alerts')).json).toMatchObject({ configured: false, source: 'none' });
  });

  it('keeps members out of recordings, configuration and the audit trail', async () => {
    for (const path of ['/api/recordings', '/api/audit', '/api/settings', '/api/accounts', '/api/dashboard', '/api/live', '/api/targets', '/api/certificate/csr']) {
      expect((await member.call('GET', path)).status, path).toBe(403);
    }
    expect((await member.call('POST', '/api/groups/sales/members/maria/logout')).status).toBe(403);
  });

  it('keeps auditors out of configuration', async () => {
    expect((await auditor.call('PUT', '/api/settings/record-all', { name: 'x', scope: { kind: 'all' } })).status).toBe(403);
    expect((await auditor.call('POST', '/api/accounts', { username: 'x', displayName: 'x', roles: ['admin'], password: 'xxxxxxxxxxxxxx' })).status).toBe(403);
    expect((await auditor.call('GET', '/api/accounts')).status).toBe(403);
    expect((await auditor.call('DELETE', '/api/targets/x')).status).toBe(403);
    expect((await auditor.call('GET', '/api/dashboard')).status).toBe(200);
  });

  it('keeps admins out of recordings (separation of duties)', async () => {
    expect((await admin.call('GET', '/api/recordings')).status).toBe(403);
    expect((await admin.call('GET', '/api/audit')).status).toBe(403);
  });

  it('guards every route of the OpenAPI description: 401 without a session, 403 for a member outside its own routes', async () => {
    const doc = (await client(cs.httpPort).call('GET', '/api/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
    const PUBLIC = new Set(['POST /api/session', 'GET /healthz', 'GET /readyz']);
    const MEMBER = new Set(['GET /api/me', 'PUT /api/me/groups/{groupId}', 'PUT /api/me/password', 'DELETE /api/session', 'GET /api/certificate', 'GET /api/certificate.pem']);
    const anon = client(cs.httpPort);
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const route = `${method} ${path}`;
        if (PUBLIC.has(route) || method === 'HEAD') continue;
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        expect((await anon.call(method, url, body)).status, route).toBe(401);
        // Logging the member out is tested below; everything else a member may not do is refused.
        if (!MEMBER.has(route)) expect((await member.call(method, url, body)).status, route).toBe(403);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('describes the API in OpenAPI', async () => {
    const r = await client(cs.httpPort).call('GET', '/api/openapi.json');
    const doc = r.json as { openapi: string; paths: Record<string, Record<string, { summary?: string }>> };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/session', '/api/recordings', '/api/recordings/{id}/kit.zip', '/api/settings/{id}', '/api/targets/{id}/test', '/api/audit', '/api/live/events']));
    expect(doc.paths['/api/recordings/{id}/audio']?.['get']?.summary).toMatch(/PCM/);
  });
});

describe('recording browser', () => {
  it('finds the call by number, name and time range', async () => {
    const all = await auditor.call('GET', '/api/recordings');
    expect(all.status).toBe(200);
    const items = (all.json as { total: number; items: Row[] }).items;
    expect(items).toHaveLength(1);
    recordingId = items[0]?.id ?? '';
    expect(items[0]).toMatchObject({ caller: { number: '+4930123456', name: 'Alice Anders' }, local: true });
    const byNumber = await auditor.call('GET', '/api/recordings?number=4989765432');
    expect((byNumber.json as { total: number }).total).toBe(1);
    const byName = await auditor.call('GET', '/api/recordings?text=anders');
    expect((byName.json as { total: number }).total).toBe(1);
    const none = await auditor.call('GET', '/api/recordings?text=%25_nobody');
    expect((none.json as { total: number }).total).toBe(0);
    const future = await auditor.call('GET', `/api/recordings?from=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect((future.json as { total: number }).total).toBe(0);
    const bad = await auditor.call('GET', '/api/recordings?from=yesterday-ish&direction=sideways');
    expect(bad.status).toBe(400);
    expect((bad.json as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual(['direction']);
  });

  it('plays the G.711 file as PCM that matches sox\'s decoding, with byte ranges', async () => {
    const detail = await auditor.call('GET', `/api/recordings/${recordingId}`);
    const d = detail.json as Row & { files: { name: string; playable: boolean }[] };
    const wav = d.files.find((f) => f.playable);
    expect(wav?.name).toMatch(/\.wav$/);
    const full = await auditor.call('GET', `/api/recordings/${recordingId}/audio`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('audio/wav');
    const mine = join(dir, 'played.wav');
    writeFileSync(mine, full.bytes);
    const info = run('soxi', [mine]);
    expect(info).toMatch(/Channels\s*:\s*2/);
    expect(info).toMatch(/Sample Encoding\s*:\s*16-bit Signed Integer PCM/);
    // sox decodes the archived A-law file itself; the samples must be identical.
    const original = join(cs.home, 'recordings', d.dir, wav?.name ?? '');
    const soxOut = join(dir, 'sox.raw');
    run('sox', [original, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', soxOut]);
    expect(full.bytes.subarray(44).equals(readFileSync(soxOut))).toBe(true);
    const part = await auditor.call('GET', `/api/recordings/${recordingId}/audio`, undefined, { headers: { range: 'bytes=1001-5000' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1001-5000/${full.bytes.length}`);
    expect(part.bytes.equals(full.bytes.subarray(1001, 5001))).toBe(true);
  });

  it('downloads the original files unchanged (sha256sum -c on the downloads)', async () => {
    const d = (await auditor.call('GET', `/api/recordings/${recordingId}`)).json as { baseName: string; files: { name: string }[] };
    const out = mkdtempSync(join(dir, 'dl-'));
    for (const f of d.files) {
      const r = await auditor.call('GET', `/api/recordings/${recordingId}/files/${encodeURIComponent(f.name)}`);
      expect(r.status, f.name).toBe(200);
      writeFileSync(join(out, f.name), r.bytes);
    }
    expect(run('sha256sum', ['-c', `${d.baseName}_hash.txt`], out)).toMatch(/: OK/);
    expect((await auditor.call('GET', `/api/recordings/${recordingId}/files/..%2F..%2Fcallseal.db`)).status).toBe(404);
  });

  it('exports a verification kit that verify.sh accepts', async () => {
    const r = await auditor.call('GET', `/api/recordings/${recordingId}/kit.zip`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/zip');
    const out = mkdtempSync(join(dir, 'kit-'));
    writeFileSync(join(out, 'kit.zip'), r.bytes);
    run('unzip', ['-q', 'kit.zip'], out);
    const base = ((await auditor.call('GET', `/api/recordings/${recordingId}`)).json as { baseName: string }).baseName;
    const verdict = run('bash', ['verify.sh', '--cert', 'callseal-cert.pem', base], out);
    expect(verdict).toMatch(/OK/);
    const readme = readFileSync(join(out, 'README.txt'), 'utf8');
    expect(readme).toContain(`bash verify.sh --cert callseal-cert.pem ${base}`);
  });

  it('verifies the recording and reports a tampered file', async () => {
    const ok = await auditor.call('GET', `/api/recordings/${recordingId}/verify`);
    expect(ok.json).toMatchObject({ ok: true, signature: 'valid', matchesLog: true });
    const d = (await auditor.call('GET', `/api/recordings/${recordingId}`)).json as { dir: string; baseName: string };
    const meta = join(cs.home, 'recordings', d.dir, `${d.baseName}_info.txt`);
    const saved = readFileSync(meta);
    writeFileSync(meta, Buffer.concat([saved, Buffer.from('edited: yes\n')]));
    try {
      const bad = await auditor.call('GET', `/api/recordings/${recordingId}/verify`);
      expect(bad.json).toMatchObject({ ok: false, signature: 'valid', files: expect.arrayContaining([{ name: `${d.baseName}_info.txt`, ok: false, problem: 'SHA-256 differs from the hash file' }]) as unknown });
    } finally {
      writeFileSync(meta, saved);
    }
  });

  it('refuses to delete the only copy of a recording', async () => {
    const r = await auditor.call('DELETE', `/api/recordings/${recordingId}/local`);
    expect(r.status).toBe(409);
    expect(listFiles(join(cs.home, 'recordings')).filter((f) => f.endsWith('.wav'))).toHaveLength(1);
  });

  it('exports the search result as CSV', async () => {
    const r = await auditor.call('GET', '/api/recordings.csv');
    expect(r.status).toBe(200);
    expect(r.text.split('\n')[0]).toBe('basefilename,direction,start,end,callid,callername,caller,calleename,callee,setting,interrupted,signature');
    expect(r.text).toContain('+4930123456');
  });

  it('shows today\'s recordings, disk space and the SIP listener on the dashboard', async () => {
    const r = await auditor.call('GET', '/api/dashboard');
    expect(r.json).toMatchObject({ recordings: { today: 1, total: 1 }, sip: { listening: { udp: cs.sipPort } }, live: 0, outbox: { pending: 0 }, failingTargets: [] });
    const disk = (r.json as { disk: { freeBytes: number; totalBytes: number } }).disk;
    expect(disk.freeBytes).toBeGreaterThan(0);
    expect(disk.totalBytes).toBeGreaterThanOrEqual(disk.freeBytes);
  });
});

describe('certificate', () => {
  it('shows the fingerprint openssl computes, a QR code, and a CSR openssl accepts', async () => {
    const r = await member.call('GET', '/api/certificate');
    const c = r.json as { pem: string; fingerprint: string; qrSvg: string };
    const pemFile = join(dir, 'cert.pem');
    writeFileSync(pemFile, c.pem);
    const ossl = run('openssl', ['x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256']).trim();
    expect(ossl.split('=')[1]).toBe(c.fingerprint);
    expect(c.pem).toBe(readFileSync(join(cs.home, 'recordings', 'callseal-cert.pem'), 'utf8'));
    expect(c.qrSvg).toMatch(/^<svg /);
    const csr = await admin.call('GET', '/api/certificate/csr');
    writeFileSync(join(dir, 'c.csr'), csr.bytes);
    expect(run('bash', ['-c', `openssl req -in ${join(dir, 'c.csr')} -noout -verify 2>&1`])).toMatch(/verify OK/i);
  });
});

describe('audit trail', () => {
  it('holds logins, playback, downloads, exports, verifications, changes and refusals, with who', async () => {
    const r = await auditor.call('GET', '/api/audit?limit=1000');
    const { entries, chain } = r.json as { entries: { actor: string; action: string; object: string; outcome: string }[]; chain: { entries: number; brokenAt?: number } };
    const has = (actor: string, action: string, object?: string): boolean => entries.some((e) => e.actor === actor && e.action === action && (object === undefined || e.object === object));
    expect(has('admin', 'login-failed')).toBe(true);
    expect(has('admin', 'login')).toBe(true);
    expect(has('alice', 'play', `recording:${recordingId}`)).toBe(true);
    expect(has('alice', 'download', `recording:${recordingId}`)).toBe(true);
    expect(has('alice', 'export-kit', `recording:${recordingId}`)).toBe(true);
    expect(has('alice', 'verify', `recording:${recordingId}`)).toBe(true);
    expect(has('alice', 'export-log')).toBe(true);
    expect(has('admin', 'change', 'PUT /api/policy')).toBe(true);
    expect(has('admin', 'csrf-rejected')).toBe(true);
    expect(has('maria', 'denied', 'GET /api/recordings')).toBe(true);
    expect(has('maria', 'change', 'PUT /api/me/groups/:groupId')).toBe(true);
    expect(chain.brokenAt).toBeUndefined();
    expect(chain.entries).toBeGreaterThan(20);
    // Playing with byte ranges (seeking) is one "play", not one per range.
    expect(entries.filter((e) => e.action === 'play')).toHaveLength(1);
  });

  it('is append-only in the database itself', () => {
    const db = new DatabaseSync(join(cs.home, 'callseal.db'));
    try {
      expect(() => { db.exec("UPDATE audit SET actor = 'nobody'"); }).toThrow(/append-only/);
      expect(() => { db.exec('DELETE FROM audit'); }).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });
});

describe('session end and login rate limit', () => {
  it('ends the session on logout', async () => {
    const m2 = await login(cs.httpPort, 'maria', 'member-password-1');
    expect((await m2.call('DELETE', '/api/session')).status).toBe(204);
    expect((await m2.call('GET', '/api/me')).status).toBe(401);
  });

  it('ends the sessions of a disabled account', async () => {
    const before = await member.call('GET', '/api/me');
    expect(before.status).toBe(200);
    expect((await admin.call('PUT', '/api/accounts/maria', { displayName: 'Maria', roles: ['member'], directoryUserId: 'maria', disabled: true })).status).toBe(200);
    expect((await member.call('GET', '/api/me')).status).toBe(401);
    await expect(login(cs.httpPort, 'maria', 'member-password-1')).rejects.toThrow(/401/);
  });

  // Security issue: the per-address limit also locked out the right password. Every request here
  // comes from 127.0.0.1, as from behind a reverse proxy.
  it('backs off an account hammered with wrong passwords without stopping another account from the same address', async () => {
    const anon = client(cs.httpPort);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await anon.call('POST', '/api/session', { username: 'alice', password: `guess-${i}` })).status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(6);
    expect(statuses.at(-1)).toBe(429);
    // Another account logs in from the same address with its right password.
    await expect(login(cs.httpPort, 'admin', ADMIN_PASSWORD)).resolves.toBeDefined();
    const refused = await anon.call('POST', '/api/session', { username: 'alice', password: 'auditor-password-1' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('lets the right password in once the account\'s back-off has passed', async () => {
    let last = 0;
    await until('login after back-off', async () => {
      const r = await client(cs.httpPort).call('POST', '/api/session', { username: 'alice', password: 'auditor-password-1' });
      last = r.status;
      if (r.status === 429) await new Promise((res) => setTimeout(res, Number(r.headers.get('retry-after')) * 1000));
      return r.status !== 429;
    }, 60_000);
    expect(last).toBe(200);
  });

  it('answers 429 after too many failed logins from one address across many accounts', async () => {
    const anon = client(cs.httpPort);
    const statuses: number[] = [];
    await until('429', async () => {
      const r = await anon.call('POST', '/api/session', { username: `nobody${statuses.length}`, password: 'guess' });
      statuses.push(r.status);
      return r.status === 429;
    }, 60_000);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(30);
    expect(statuses.at(-1)).toBe(429);
    expect((await anon.call('POST', '/api/session', { username: 'admin', password: ADMIN_PASSWORD })).status).toBe(429);
  });
});
