/**
 * callseal as UAC over real sockets: a real `SipTransport` on loopback sends an INVITE through the
 * transaction core to sipp's built-in UAS scenario (`-sn uas`: 180, 200, waits for ACK and BYE).
 * The dialog ACKs the 2xx and ends the call with BYE, sipp counts one successful call, and
 * tshark reads exactly one well-formed Via (transport, sent-by, magic-cookie branch, rport) in
 * every request callseal sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/log.ts';
import { SipStack, SipTransport, UasCore, sendInvite } from '../../src/sip/index.ts';
import { freePort } from '../helpers/callseal.ts';
import { SipCapture } from '../helpers/tshark.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Runs sipp's built-in UAS for one call on `port`; resolves with its exit code and output. */
function sippUas(port: number): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-t', 'u1', '-m', '1', '-nostdin', '-timeout', '30s', '-timeout_error'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: mkdtempSync(join(tmpdir(), 'callseal-sipp-')) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<{ code: number | null; out: string }>((resolve) => { child.on('close', (code) => { resolve({ code, out: out.slice(-3000) }); }); });
  return { child, done };
}

describe('callseal as UAC against sipp', () => {
  it('INVITE, 180, 200, ACK and BYE with sipp\'s uas; one well-formed Via in each request', async () => {
    const log = silentLogger();
    const transport = new SipTransport({ host: '127.0.0.1', udpPort: 0, tcp: false, log });
    const ports = await transport.listen();
    closers.push(() => transport.close());
    const stack = new SipStack(transport, log, undefined, { viaHost: '127.0.0.1' });
    closers.push(() => { stack.close(); });
    const uas = new UasCore({ stack, log, supported: [], accept: ['application/sdp'], contact: () => `<sip:callseal@127.0.0.1:${ports.udp}>` });
    const capture = await SipCapture.start(ports.udp);
    closers.push(() => capture.stop());

    const sippPort = await freePort(27000, 28999);
    const sipp = sippUas(sippPort);
    closers.push(() => { if (sipp.child.exitCode === null) sipp.child.kill('SIGKILL'); });
    // No wait for sipp to bind: an INVITE sent before it listens is retransmitted by timer A.

    const provisional: number[] = [];
    const out = sendInvite(uas.context, {
      uri: `sip:service@127.0.0.1:${sippPort}`, from: `<sip:callseal@127.0.0.1:${ports.udp}>`, to: `<sip:service@127.0.0.1:${sippPort}>`,
      remote: { transport: 'UDP', address: '127.0.0.1', port: sippPort }, contact: `<sip:callseal@127.0.0.1:${ports.udp}>`,
      onProvisional: (r) => { provisional.push(r.status); },
    });
    const { response, dialog } = await out.result;
    expect(response.status).toBe(200);
    expect(provisional).toContain(180);
    if (!dialog) throw new TypeError('no dialog');
    expect(dialog.remoteTarget).toMatch(/^sip:.*127\.0\.0\.1/);
    const bye = await dialog.bye();
    expect(bye.status).toBe(200);
    const result = await sipp.done;
    expect(result.code, result.out).toBe(0);

    await capture.stop();
    const requests = capture.requestVias();
    // Retransmissions (an INVITE sent before sipp listened) carry the branch of their original.
    const transactions = [...new Map(requests.map((r) => [`${r.method}|${r.branch}`, r.method])).values()];
    expect(transactions).toEqual(['INVITE', 'ACK', 'BYE']);
    for (const r of requests) {
      expect(r.vias, r.method).toHaveLength(1);
      expect(r.transport).toBe('UDP');
      expect(r.sentBy).toBe(`127.0.0.1:${ports.udp}`);
      expect(r.branch).toMatch(/^z9hG4bK[0-9a-f]{20}$/);
      expect(r.rport).toBe(true);
    }
    expect(new Set(requests.map((r) => r.branch)).size).toBe(3);
    expect(capture.findings()).toEqual([]);
  }, 60_000);
});
