/**
 * Issue 3, first finding, for SIPS: with `sip.tls.clientCaFile` callseal asks for a client
 * certificate and completes the handshake only with one issued by that CA (certificates made by
 * openssl); without one, or with one from another CA, the handshake fails and no SIP is read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { freePort, startCallseal, run, type CallsealProcess } from '../helpers/callseal.ts';

let cs: CallsealProcess;
let tlsPort: number;
let dir: string;

/** A CA (self-signed) and, optionally, a leaf certificate it signs. */
function makeCa(name: string): void {
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`)]);
}
function makeLeaf(name: string, ca: string, san: string): void {
  run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`)]);
  run('bash', ['-c', `printf 'subjectAltName=${san}\\n' > "${join(dir, `${name}.ext`)}"`]);
  run('openssl', ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, `${ca}.pem`), '-CAkey', join(dir, `${ca}.key`), '-CAcreateserial',
    '-days', '2', '-extfile', join(dir, `${name}.ext`), '-out', join(dir, `${name}.pem`)]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-mtls-'));
  makeCa('src-ca');
  makeCa('other-ca');
  makeLeaf('server', 'src-ca', 'DNS:localhost,IP:127.0.0.1');
  makeLeaf('sbc', 'src-ca', 'DNS:sbc.example.net');
  makeLeaf('rogue', 'other-ca', 'DNS:rogue.example.net');
  tlsPort = await freePort();
  cs = await startCallseal({
    config: { sip: { allow: ['127.0.0.1/32'], tls: { enabled: true, port: tlsPort, certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key'), clientCaFile: join(dir, 'src-ca.pem') } } },
  });
});
afterAll(async () => {
  await cs.stop();
});

/** Connects, and when the handshake succeeds sends an OPTIONS; resolves with the status line or the error. */
function options(client?: string, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      socket: net.connect({ host: '127.0.0.1', port: tlsPort, localAddress }), ca: readFileSync(join(dir, 'src-ca.pem')), servername: 'localhost',
      ...(client ? { cert: readFileSync(join(dir, `${client}.pem`)), key: readFileSync(join(dir, `${client}.key`)) } : {}),
    });
    let text = '';
    socket.on('secureConnect', () => {
      socket.write(`OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5;branch=z9hG4bKmtls${Date.now()}\r\nFrom: <sip:sbc@x>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: mtls-${Date.now()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n')) {
        resolve(text.slice(0, text.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', (err: Error) => { resolve(`error: ${err.message}`); });
    socket.on('close', () => { resolve(`closed: ${text}`); });
  });
}

describe('SIPS with client certificates (issue 3)', () => {
  it('completes the handshake with a client certificate from sip.tls.clientCaFile and answers SIP', async () => {
    expect(await options('sbc')).toBe('SIP/2.0 200 OK');
  });

  it('fails the handshake without a client certificate, or with one from another CA', async () => {
    // TLS 1.3 reports the refusal after the client's handshake: as an alert or a closed connection, never a SIP answer.
    expect(await options()).toMatch(/^(error|closed): (?!SIP)/);
    expect(await options('rogue')).toMatch(/^(error|closed): (?!SIP)/);
    await cs.waitForLog((l) => l['msg'] === 'TLS handshake failed');
  });

  it('closes a TLS connection from outside sip.allow before the handshake, even with a valid certificate', async () => {
    expect(await options('sbc', '127.0.0.5')).toMatch(/^(error|closed): (?!SIP)/);
    await cs.waitForLog((l) => l['msg'] === 'SIP connection refused' && l['remote'] === '127.0.0.5' && l['transport'] === 'TLS');
    // callseal is still serving.
    expect(await options('sbc')).toBe('SIP/2.0 200 OK');
  });
});
