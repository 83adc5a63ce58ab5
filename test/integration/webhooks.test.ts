/**
 * Webhooks of the live recording events (H8) end to end: callseal runs as a process, sipp is the
 * SRC, and a real HTTP server in the test is the receiver. The receiver checks each body and its
 * signature with `openssl dgst -sha256 -hmac` (an outside tool, not callseal's code), answers the
 * first delivery 500 and sees it retried; a receiver that never answers does not slow a SIPREC call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata, runSipp, siprecScenario, type MetaParty } from '../helpers/sipp.ts';
import { twoTonePcap } from '../helpers/pcap.ts';
import { apiCall, until } from '../helpers/api.ts';

const TOKEN = 'webhooks-test-token';
const SIPP_PCAPS = '/usr/share/sip-tester';
const MARIA: MetaParty = { id: 'cDE=', aor: 'sip:301@pbx.example.com', name: 'Maria Member', sends: 'c3Ry' };
const CUSTOMER: MetaParty = { id: 'cDI=', aor: 'tel:+4940111222', name: 'Customer', sends: 'c3Qy' };
const SECRET = 'receiver-secret-0123456789';

interface Received { readonly headers: http.IncomingHttpHeaders; readonly body: string; readonly status: number; readonly atMs: number }
interface Body { id: string; type: string; createdMs: number; data: Record<string, unknown> }

/** A receiver on 127.0.0.1: `answer` picks the status of each request, or 'hang' to never answer. */
async function startReceiver(answer: (n: number) => number | 'hang'): Promise<{ url: string; received: Received[]; open: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => { chunks.push(c); });
    req.on('end', () => {
      const a = answer(received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: a === 'hang' ? 0 : a, atMs: Date.now() });
      if (a === 'hang') {
        hanging.add(res);
        res.on('close', () => { hanging.delete(res); });
      } else res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => { server.listen(0, '127.0.0.1', r); });
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/callseal`, received, open: () => hanging.size,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => { server.close(() => { r(); }); });
    },
  };
}

/** The v1 value `openssl dgst -sha256 -hmac` computes over "<t>.<body>". */
function opensslHmac(secret: string, timestamp: string, body: string): string {
  const out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], { input: `${timestamp}.${body}`, encoding: 'utf8' });
  return out.trim().split(/\s+/).pop() ?? '';
}

let cs: CallsealProcess;
let dir: string;
let pcap: string;
let pcapMs: number;

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return apiCall(cs.httpPort, TOKEN, method, path, body);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-webhooks-'));
  pcap = join(dir, 'tones.pcap');
  pcapMs = twoTonePcap(pcap, 2);
  cs = await startCallseal({ env: { CALLSEAL_API_TOKEN: TOKEN }, config: { webhooks: { retryBaseMs: 300, retryMaxMs: 2000, timeoutMs: 30_000 } } });
}, 60_000);

afterAll(async () => {
  await cs.stop();
});

describe('webhooks of the live recording events', () => {
  it('refuses an endpoint URL that is not http or https', async () => {
    for (const url of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'gopher://127.0.0.1:25/_x']) {
      const r = await api('POST', '/api/webhooks', { id: 'bad', name: 'Bad', url, secret: SECRET });
      expect(r.status, url).toBe(400);
      expect(r.json).toMatchObject({ code: 'CS_WEBHOOK_INVALID' });
    }
  });

  it('POSTs each event of a SIPREC call signed; openssl checks every signature; a 500 is retried until a 200', async () => {
    const rx = await startReceiver((n) => (n === 0 ? 500 : 200));
    try {
      const created = await api('POST', '/api/webhooks', { id: 'cti', name: 'CTI', url: rx.url, secret: SECRET });
      expect(created.status).toBe(201);
      expect(JSON.stringify(created.json)).not.toContain(SECRET);
      expect(JSON.stringify((await api('GET', '/api/webhooks')).json)).not.toContain(SECRET);

      const call = runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: pcapMs + 1000 }), `127.0.0.1:${String(cs.sipPort)}`);
      // The live view carries the call's mode while it runs.
      await until('the live call', async () => ((await api('GET', '/api/live')).json as unknown[]).length > 0, 20_000);
      expect((await api('GET', '/api/live')).json).toMatchObject([{ mode: 'siprec', caller: { number: '+4930123456' } }]);
      const result = await call;
      expect(result.code, result.errors).toBe(0);
      await until('the sealed event', () => rx.received.some((r) => r.headers['callseal-event'] === 'recording.sealed'), 30_000);

      for (const r of rx.received) {
        const header = String(r.headers['callseal-signature']);
        const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
        expect(m, header).not.toBeNull();
        const [, t = '', v1 = ''] = m ?? [];
        expect(opensslHmac(SECRET, t, r.body)).toBe(v1);
        expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(120);
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['callseal-delivery']).toBe((JSON.parse(r.body) as Body).id);
      }
      // The first delivery was answered 500 and came again, the same event, before anything else.
      const [first, second] = rx.received;
      expect(first?.status).toBe(500);
      expect(second?.body).toBe(first?.body);
      const bodies = rx.received.slice(1).map((r) => JSON.parse(r.body) as Body);
      expect(bodies.map((b) => b.type)).toEqual(['recording.started', 'recording.stopped', 'call.ended', 'recording.sealed']);
      const [started, stopped, ended, sealed] = bodies;
      expect(started?.data).toMatchObject({ mode: 'siprec', caller: { number: '+4930123456', name: 'Alice Anders' }, callee: { number: '+4989765432' } });
      expect(stopped?.data).toMatchObject({ mode: 'siprec', recordingId: started?.data['recordingId'], callId: started?.data['callId'], reason: 'bye' });
      expect(ended?.data).toMatchObject({ mode: 'siprec', callId: started?.data['callId'], reason: 'bye' });
      expect(sealed?.data).toMatchObject({ mode: 'siprec', recordingId: started?.data['recordingId'], interrupted: false, chain: { sequence: 1 } });

      const deliveries = (await api('GET', '/api/webhooks/cti/deliveries')).json as { kind: string; state: string; attempts: number; lastStatus: number }[];
      expect(deliveries.map((d) => [d.kind, d.state, d.attempts])).toEqual([
        ['recording.sealed', 'done', 1], ['call.ended', 'done', 1], ['recording.stopped', 'done', 1], ['recording.started', 'done', 2],
      ]);
      expect(await api('POST', '/api/webhooks/cti/test')).toMatchObject({ status: 200, json: { ok: true, status: 200 } });
      expect(rx.received.at(-1)?.headers['callseal-event']).toBe('webhook.test');
    } finally {
      expect((await api('DELETE', '/api/webhooks/cti')).status).toBe(204);
      await rx.close();
    }
  });

  it('a receiver that never answers does not slow a SIPREC call', async () => {
    const rx = await startReceiver(() => 'hang');
    try {
      expect((await api('POST', '/api/webhooks', { id: 'slow', name: 'Slow', url: rx.url, secret: SECRET })).status).toBe(201);
      const holdMs = pcapMs + 500;
      const t0 = Date.now();
      const result = await runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs }), `127.0.0.1:${String(cs.sipPort)}`);
      const tookMs = Date.now() - t0;
      expect(result.code, result.errors).toBe(0);
      // The receiver holds recording.started unanswered for the whole call (timeout 30 s); a call
      // path that waited for it would take that long.
      expect(rx.received.map((r) => r.headers['callseal-event'])).toEqual(['recording.started']);
      expect(rx.open()).toBe(1);
      expect(tookMs).toBeLessThan(holdMs + 10_000);
      await until('the second recording sealed', () => cs.logs.filter((l) => l['msg'] === 'recording finished').length >= 2, 20_000);
    } finally {
      await api('DELETE', '/api/webhooks/slow');
      await rx.close();
    }
  });

  // Last: it replaces the policy the calls above were recorded under.
  it('*1 from the internal party: recording.stopped comes while the call goes on, call.ended at its end', async () => {
    const put = await api('PUT', '/api/policy', {
      users: [{ id: 'maria', name: 'Maria Member', extensions: ['301'] }],
      groups: [{ id: 'sales', name: 'Sales', numbers: ['+4989765432'], members: [{ userId: 'maria', active: true }] }],
      exceptionLists: [],
      settings: [{ id: 'sales', name: 'Sales', scope: { kind: 'groups', groupIds: ['sales'] }, stopCode: '*1' }],
    });
    expect(put.status).toBe(200);
    const rx = await startReceiver(() => 204);
    try {
      const events = ['recording.started', 'recording.stopped', 'call.ended'];
      expect((await api('POST', '/api/webhooks', { id: 'dtmf', name: 'DTMF', url: rx.url, secret: SECRET, events })).status).toBe(201);
      const scenario = siprecScenario({
        metadata: rsMetadata(MARIA, CUSTOMER),
        sequence: [
          { pcap, pauseMs: pcapMs + 200 },
          { pcap: join(SIPP_PCAPS, 'dtmf_2833_star.pcap'), pauseMs: 400 },
          { pcap: join(SIPP_PCAPS, 'dtmf_2833_1.pcap'), pauseMs: 400 },
          { pcap, pauseMs: pcapMs + 1500 },
        ],
      });
      const result = await runSipp(dir, scenario, `127.0.0.1:${String(cs.sipPort)}`);
      const callEndMs = Date.now();
      expect(result.code, result.errors).toBe(0);
      await until('call.ended', () => rx.received.some((r) => r.headers['callseal-event'] === 'call.ended'), 20_000);
      const bodies = rx.received.map((r) => JSON.parse(r.body) as Body);
      expect(bodies.map((b) => b.type)).toEqual(['recording.started', 'recording.stopped', 'call.ended']);
      expect(String(bodies[1]?.data['reason'])).toMatch(/^stopped by DTMF \*1 from the caller at /);
      expect(bodies[1]?.data).toMatchObject({ mode: 'siprec', callId: bodies[0]?.data['callId'] });
      expect(bodies[2]?.data).toMatchObject({ mode: 'siprec', callId: bodies[0]?.data['callId'], reason: 'bye' });
      // The stop reached the receiver while the call was still running.
      expect(rx.received[1]?.atMs ?? Infinity).toBeLessThan(callEndMs);
    } finally {
      await api('DELETE', '/api/webhooks/dtmf');
      await rx.close();
    }
  });
});
