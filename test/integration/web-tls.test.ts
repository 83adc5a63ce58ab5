/**
 * The web UI and API over HTTPS (`http.tls`): a certificate made by openssl, the session cookie
 * marked Secure, HSTS sent; plain HTTP on the port is not answered as the API. Start-up refuses a
 * short first-admin password and unreadable TLS files with exit 78, naming the field, and exits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freePort, startCallseal, run, type CallsealProcess } from '../helpers/callseal.ts';

let cs: CallsealProcess;
let ca: Buffer;

function request(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: cs.httpPort, method, path, ca, servername: 'localhost', headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, text }); });
    });
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-tls-'));
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  ca = readFileSync(join(dir, 'cert.pem'));
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: 'tls-admin-password' }, config: { http: { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } } } });
});
afterAll(async () => {
  await cs.stop();
});

describe('HTTPS', () => {
  it('logs in over TLS with a Secure cookie and sends HSTS', async () => {
    const r = await request('POST', '/api/session', { username: 'admin', password: 'tls-admin-password' });
    expect(r.status).toBe(200);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(String(r.headers['strict-transport-security'])).toMatch(/max-age=\d+/);
    expect((await request('GET', '/healthz')).status).toBe(200);
  });

  it('does not answer plain HTTP', async () => {
    await expect(fetch(`http://127.0.0.1:${cs.httpPort}/healthz`)).rejects.toThrow();
  });
});

describe('start-up checks of the web settings', () => {
  async function start(env: Record<string, string>, config: unknown): Promise<{ status: number | null; out: string }> {
    const home = mkdtempSync(join(tmpdir(), 'callseal-bad-'));
    writeFileSync(join(home, 'c.json'), JSON.stringify(config));
    const r = spawnSync(join(import.meta.dirname, '../../bin/callseal'), ['start'], {
      encoding: 'utf8', timeout: 60_000,
      env: { ...process.env, CALLSEAL_HOME: home, CALLSEAL_CONFIG: join(home, 'c.json'), CALLSEAL_SIP_PORT: String(await freePort()), CALLSEAL_HTTP_PORT: String(await freePort()), ...env },
    });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it('refuses a first admin password under 12 characters', async () => {
    const r = await start({ CALLSEAL_ADMIN_PASSWORD: 'short' }, { sip: { host: '127.0.0.1' }, rtp: { host: '127.0.0.1' } });
    expect(r.status).toBe(78);
    expect(r.out).toContain('CALLSEAL_ADMIN_PASSWORD: at least 12 characters');
  });

  it('refuses unreadable TLS files', async () => {
    const r = await start({}, { sip: { host: '127.0.0.1' }, rtp: { host: '127.0.0.1' }, http: { tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } } });
    expect(r.status).toBe(78);
    expect(r.out).toContain('http.tls.certFile: cannot read /nonexistent/cert.pem');
  });
});
