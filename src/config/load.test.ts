import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './load.ts';
import { ConfigError } from '../common/errors.ts';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => i.path);
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs with no file and no environment: documented defaults', () => {
    const c = loadConfig({}, '/srv');
    expect(c.home).toBe('/srv/data');
    expect(c.sip.port).toBe(5060);
    expect(c.sip.tcp).toBe(true);
    expect([c.rtp.portMin, c.rtp.portMax]).toEqual([20000, 29999]);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080, sessionIdleMinutes: 30, sessionMaxHours: 12, loginAttemptsPerMinute: 30, loginBackoffAfterFailures: 3, loginBackoffMaxSeconds: 300, diskWarnPercent: 10 });
    expect(c.recording.channels).toBe('stereo');
    expect(c.recording.directoryTemplate).toBe('$Y/$M/$D');
    expect(Object.isFrozen(c.sip)).toBe(true);
  });

  it('applies the environment contract over the file', () => {
    const d = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(d, 'c.json'), JSON.stringify({ sip: { port: 5070 }, recording: { channels: 'separate' } }));
    const c = loadConfig({ CALLSEAL_CONFIG: join(d, 'c.json'), CALLSEAL_HOME: '/var/lib/cs', CALLSEAL_SIP_PORT: '5080', CALLSEAL_RTP_PORTS: '30000-30999', CALLSEAL_HTTP_PORT: '9090' }, d);
    expect(c.home).toBe('/var/lib/cs');
    expect(c.sip.port).toBe(5080);
    expect([c.rtp.portMin, c.rtp.portMax]).toEqual([30000, 30999]);
    expect(c.http.port).toBe(9090);
    expect(c.recording.channels).toBe('separate');
  });

  it('names every bad field at once', () => {
    const d = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(d, 'c.json'), JSON.stringify({ sip: { port: 70000, tls: { enabled: true } }, recording: { channels: 'quad', timeZone: 'Mars/Olympus' }, bogus: 1 }));
    const paths = issuesOf(() => loadConfig({ CALLSEAL_CONFIG: join(d, 'c.json'), CALLSEAL_RTP_PORTS: 'lots', CALLSEAL_HTTP_PORT: 'x' }, d));
    expect(paths).toEqual(expect.arrayContaining(['CALLSEAL_RTP_PORTS', 'CALLSEAL_HTTP_PORT', 'sip.port', 'recording.channels', '(root)']));
  });

  it('reports cross-field problems and unreadable files', () => {
    const d = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(d, 'c.json'), JSON.stringify({ rtp: { portMin: 30000, portMax: 20000 }, sip: { tls: { enabled: true } }, recording: { directoryTemplate: '../x' } }));
    expect(issuesOf(() => loadConfig({ CALLSEAL_CONFIG: join(d, 'c.json') }, d))).toEqual(['rtp.portMin', 'sip.tls.certFile', 'recording.directoryTemplate']);
    writeFileSync(join(d, 'bad.json'), '{ nope');
    expect(issuesOf(() => loadConfig({ CALLSEAL_CONFIG: join(d, 'bad.json') }, d))).toEqual(['CALLSEAL_CONFIG']);
  });

  it('checks sip.allow entries: addresses and CIDR networks, IPv4 and IPv6 (issue 3)', () => {
    const d = mkdtempSync(join(tmpdir(), 'callseal-cfg-'));
    writeFileSync(join(d, 'ok.json'), JSON.stringify({ sip: { allow: ['192.0.2.10', '10.0.0.0/8', '2001:db8::/32', '::1'] } }));
    expect(loadConfig({ CALLSEAL_CONFIG: join(d, 'ok.json') }, d).sip.allow).toHaveLength(4);
    writeFileSync(join(d, 'bad.json'), JSON.stringify({ sip: { allow: ['10.0.0.0/33', 'pbx.example.com', '10.0.0.1/8/1'] } }));
    expect(issuesOf(() => loadConfig({ CALLSEAL_CONFIG: join(d, 'bad.json') }, d))).toEqual(['sip.allow.0', 'sip.allow.1', 'sip.allow.2']);
    expect(loadConfig({}, d).sip.allow).toBeUndefined();
  });
});
