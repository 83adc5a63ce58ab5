import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { FakeClock } from '../common/fake-clock.ts';
import { ConfigError } from '../common/errors.ts';
import { SecretBox } from '../common/secretbox.ts';
import { silentLogger } from '../common/log.ts';
import { openDatabase, WebhookRepository } from '../store/index.ts';
import { WebhookEndpoints } from './endpoints.ts';
import { retryDelayMs, Webhooks, type DeliverySettings } from './dispatcher.ts';
import { SIGNATURE_HEADER, verifySignatureHeader } from './signature.ts';

/** One request as the receiver saw it, with the fake clock's time when it arrived. */
interface Received { readonly atMs: number; readonly headers: http.IncomingHttpHeaders; readonly body: string }
type Answer = number | 'hang';

/** A real HTTP receiver on 127.0.0.1 that answers each request with the next scripted answer (200 when none is left). */
class Receiver {
  readonly received: Received[] = [];
  readonly answers: Answer[] = [];
  readonly #server: http.Server;
  readonly #clock: FakeClock;
  readonly #hanging: http.ServerResponse[] = [];

  constructor(clock: FakeClock, extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
    this.#clock = clock;
    this.#server = http.createServer((req, res) => {
      if (extra?.(req, res) === true) return;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => { chunks.push(c); });
      req.on('end', () => {
        this.received.push({ atMs: this.#clock.monoMs(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const a = this.answers.shift() ?? 200;
        if (a === 'hang') this.#hanging.push(res);
        else res.writeHead(a, a >= 300 && a < 400 ? { location: '/elsewhere' } : {}).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => { this.#server.listen(0, '127.0.0.1', r); });
    return `http://127.0.0.1:${String((this.#server.address() as AddressInfo).port)}/hook`;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => { this.#server.close(() => { r(); }); });
  }
}

const SECRET = 'test-secret-0123456789';
const SETTINGS: DeliverySettings = { timeoutMs: 2000, maxAttempts: 4, retryBaseMs: 1000, retryMaxMs: 3000, queueMax: 5 };

let home: string;
let db: DatabaseSync;
let clock: FakeClock;
let repo: WebhookRepository;
let endpoints: WebhookEndpoints;
const closers: (() => Promise<void>)[] = [];

function dispatcher(settings: Partial<DeliverySettings> = {}): Webhooks {
  const w = new Webhooks({ ...SETTINGS, ...settings, repo, endpoints, clock, log: silentLogger(), userAgent: 'callseal/test' });
  closers.push(() => w.close());
  return w;
}

async function receiver(extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<{ r: Receiver; url: string }> {
  const r = new Receiver(clock, extra);
  closers.push(() => r.close());
  return { r, url: await r.listen() };
}

/** Moves the fake clock and lets the deliveries it starts finish on the real network. */
async function advance(w: Webhooks, ms: number): Promise<void> {
  clock.advance(ms);
  await w.idle();
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'callseal-webhooks-'));
  db = openDatabase(join(home, 'callseal.db'));
  clock = new FakeClock();
  repo = new WebhookRepository(db);
  endpoints = new WebhookEndpoints(repo, new SecretBox(home));
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  db.close();
  rmSync(home, { recursive: true, force: true });
});

describe('retryDelayMs', () => {
  it('doubles from the base per failed attempt and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(retryDelayMs(200, 1000, 60_000)).toBe(60_000);
  });
});

describe('webhook endpoints', () => {
  it('refuses URLs that are not http or https, and credentials in the URL', () => {
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://127.0.0.1:25/', 'javascript:alert(1)', 'not a url', 'https://user:pw@example.com/']) {
      expect(() => endpoints.save({ id: 'a', name: 'A', url, secret: SECRET }, 1)).toThrow(ConfigError);
    }
    try {
      endpoints.save({ id: 'a', name: 'A', url: 'ftp://x/', secret: SECRET }, 1);
    } catch (err) {
      expect((err as ConfigError).code).toBe('CS_WEBHOOK_INVALID');
      expect((err as ConfigError).issues[0]?.path).toBe('url');
    }
  });

  it('generates a secret once, keeps it on a change without one, stores it sealed and never lists it', () => {
    const created = endpoints.save({ id: 'crm', name: 'CRM', url: 'https://crm.example.com/hooks' }, 1);
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(endpoints.list())).not.toContain(created.secret);
    const changed = endpoints.save({ name: 'CRM 2', url: 'http://crm.example.com/hooks', events: ['call.ended'] }, 2, 'crm');
    expect(changed.secret).toBeUndefined();
    expect(endpoints.get('crm')?.secret).toBe(created.secret);
    expect(endpoints.get('crm')?.events).toEqual(['call.ended']);
    expect(repo.endpoint('crm')?.secret_enc).not.toContain(created.secret ?? '');
  });
});

describe('webhook deliveries (fake clock, real HTTP receiver)', () => {
  it('POSTs the event signed, retries a 500 after the back-off, and stops once a 200 comes', async () => {
    const { r, url } = await receiver();
    r.answers.push(500, 200);
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher();
    w.start();
    w.publish('recording.started', { callId: 'call-1', mode: 'siprec' });
    await advance(w, 0);
    expect(r.received).toHaveLength(1);
    // Nothing is sent again before the back-off has passed.
    await advance(w, 999);
    expect(r.received).toHaveLength(1);
    await advance(w, 1);
    expect(r.received.map((x) => x.atMs)).toEqual([1000, 2000]);
    await advance(w, 60_000);
    expect(r.received).toHaveLength(2);
    expect(w.stats).toMatchObject({ published: 1, delivered: 1, failedAttempts: 1, givenUp: 0 });

    const second = r.received[1];
    if (!second) throw new Error('no second request');
    const body = JSON.parse(second.body) as { id: string; type: string; data: Record<string, unknown>; createdAt: string };
    expect(body.type).toBe('recording.started');
    expect(body.data).toEqual({ callId: 'call-1', mode: 'siprec' });
    expect(second.headers['content-type']).toBe('application/json');
    expect(second.headers['callseal-event']).toBe('recording.started');
    expect(second.headers['callseal-delivery']).toBe(body.id);
    // The retry is signed anew, with the time of that attempt.
    const signature = String(second.headers[SIGNATURE_HEADER]);
    expect(signature).toMatch(new RegExp(`^t=${String(Math.floor(clock.nowMs() / 1000) - 60)},v1=[0-9a-f]{64}$`));
    expect(verifySignatureHeader(signature, SECRET, second.body, Math.floor(clock.nowMs() / 1000))).toBe(true);
    expect(w.deliveries('rx').map((d) => [d.state, d.attempts, d.last_status])).toEqual([['done', 2, 200]]);
  });

  it('backs off 1 s, 2 s, 3 s (the maximum) and gives up after maxAttempts', async () => {
    const { r, url } = await receiver();
    r.answers.push(503, 503, 503, 503, 503);
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher();
    w.start();
    w.publish('call.ended', { callId: 'c' });
    await advance(w, 0);
    for (let i = 0; i < 20; i++) await advance(w, 500);
    expect(r.received.map((x) => x.atMs - 1000)).toEqual([0, 1000, 3000, 6000]);
    expect(w.stats).toMatchObject({ failedAttempts: 4, givenUp: 1, delivered: 0 });
    expect(w.deliveries('rx')[0]).toMatchObject({ state: 'failed', attempts: 4, last_status: 503, last_error: 'answered 503' });
  });

  it('does not follow a redirect: a 302 is a failed attempt and the Location is never asked', async () => {
    let elsewhere = 0;
    const { r, url } = await receiver((req) => { if (req.url === '/elsewhere') elsewhere++; return false; });
    r.answers.push(302);
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher();
    w.start();
    w.publish('recording.sealed', { recordingId: 'r1' });
    await advance(w, 0);
    expect(w.deliveries('rx')[0]).toMatchObject({ state: 'pending', attempts: 1, last_status: 302 });
    expect(w.deliveries('rx')[0]?.last_error).toContain('redirects are not followed');
    await advance(w, 1000);
    expect(elsewhere).toBe(0);
    expect(r.received.every((x) => x.headers['callseal-event'] === 'recording.sealed')).toBe(true);
    expect(w.deliveries('rx')[0]).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('ends an attempt that gets no answer within timeoutMs and tries again later', async () => {
    const { r, url } = await receiver();
    r.answers.push('hang', 200);
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher({ timeoutMs: 150 });
    w.start();
    w.publish('recording.stopped', { recordingId: 'r1' });
    await advance(w, 0);
    expect(w.deliveries('rx')[0]).toMatchObject({ state: 'pending', attempts: 1, last_status: null, last_error: 'no answer within 150 ms' });
    await advance(w, 1000);
    expect(r.received).toHaveLength(2);
    expect(w.deliveries('rx')[0]).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('sends only the kinds an enabled endpoint asked for, in order, one at a time per endpoint', async () => {
    const { r, url } = await receiver();
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET, events: ['recording.started', 'call.ended'] }, clock.nowMs());
    endpoints.save({ id: 'off', name: 'Off', url, secret: SECRET, enabled: false }, clock.nowMs());
    const w = dispatcher();
    w.start();
    w.publish('recording.started', { n: 1 });
    w.publish('recording.stopped', { n: 2 });
    w.publish('call.ended', { n: 3 });
    for (let i = 0; i < 3; i++) await advance(w, 0);
    expect(r.received.map((x) => (JSON.parse(x.body) as { type: string }).type)).toEqual(['recording.started', 'call.ended']);
  });

  it('bounds the queue of an endpoint that is down: the oldest pending deliveries are given up', async () => {
    const { r, url } = await receiver();
    r.answers.push(...Array<Answer>(20).fill(500));
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher({ queueMax: 5, maxAttempts: 50 });
    w.start();
    for (let n = 0; n < 8; n++) w.publish('recording.started', { n });
    await advance(w, 0);
    expect(repo.pendingCount('rx')).toBe(5);
    expect(w.stats.dropped).toBe(3);
    const dropped = w.deliveries('rx', 100).filter((d) => d.state === 'failed');
    expect(dropped.map((d) => (JSON.parse(d.body) as { data: { n: number } }).data.n).sort()).toEqual([0, 1, 2]);
  });

  it('keeps pending deliveries across a restart and sends them when the next process starts', async () => {
    const { r, url } = await receiver();
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const first = dispatcher();
    // Not started (a process that stops before sending): the event is stored on close.
    first.publish('call.ended', { callId: 'before-restart' });
    await first.close();
    expect(repo.pendingCount('rx')).toBe(1);
    const second = dispatcher();
    second.start();
    await advance(second, 0);
    expect(r.received).toHaveLength(1);
    expect(JSON.parse(r.received[0]?.body ?? '{}')).toMatchObject({ type: 'call.ended', data: { callId: 'before-restart' } });
    expect(repo.pendingCount('rx')).toBe(0);
  });

  it('writes a burst larger than one batch in full', async () => {
    const { url } = await receiver();
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher({ queueMax: 1000 });
    for (let n = 0; n < 250; n++) w.publish('recording.started', { n });
    clock.advance(0);
    expect(repo.pendingCount('rx')).toBe(250);
    expect(w.stats.published).toBe(250);
  });

  it('publish returns at once while a receiver hangs', async () => {
    const { r, url } = await receiver();
    r.answers.push(...Array<Answer>(5).fill('hang'));
    endpoints.save({ id: 'rx', name: 'Receiver', url, secret: SECRET }, clock.nowMs());
    const w = dispatcher({ timeoutMs: 60_000 });
    w.start();
    w.publish('recording.started', { n: 0 });
    clock.advance(0);
    await new Promise((res) => setTimeout(res, 100));
    const t0 = performance.now();
    for (let n = 1; n <= 100; n++) w.publish('recording.started', { n });
    expect(performance.now() - t0).toBeLessThan(50);
    expect(r.received).toHaveLength(1);
  });
});
