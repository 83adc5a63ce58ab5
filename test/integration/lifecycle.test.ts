/**
 * Start-up and shutdown as a whole: a start that fails midway (a SIP or web port already taken)
 * closes everything it had opened — the same ports can be taken again in the same process, no file
 * of the home folder stays open, and the real CLI exits instead of hanging on a leftover socket,
 * timer or media worker; a shutdown step that throws does not stop the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { silentLogger } from '../../src/common/log.ts';
import { TeardownError } from '../../src/common/teardown.ts';
import { CHECKPOINT_DIR } from '../../src/seal/index.ts';
import { freePort, freeUdpBlock } from '../helpers/callseal.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Setup {
  readonly home: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly env: Record<string, string>;
  readonly config: Config;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<Setup> {
  const home = mkdtempSync(join(tmpdir(), 'callseal-lifecycle-'));
  cleanups.push(() => { rmSync(home, { recursive: true, force: true }); });
  const sipPort = await freePort();
  const httpPort = await freePort();
  const rtpBase = await freeUdpBlock(15000, 26999, 40, 40);
  const configFile = join(home, 'test-config.json');
  writeFileSync(configFile, JSON.stringify({ sip: { host: '127.0.0.1' }, rtp: { host: '127.0.0.1', workers: 2 } }));
  const env: Record<string, string> = {
    CALLSEAL_HOME: home, CALLSEAL_SIP_PORT: String(sipPort), CALLSEAL_HTTP_PORT: String(httpPort),
    CALLSEAL_RTP_PORTS: `${rtpBase}-${rtpBase + 39}`, CALLSEAL_CONFIG: configFile,
  };
  return { home, sipPort, httpPort, env, config: loadConfig(env) };
}

/** Holds a TCP port (the web port, or SIP over TCP) until released. */
async function takeTcp(port: number): Promise<() => Promise<void>> {
  const srv = net.createServer();
  await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(port, '127.0.0.1', () => { res(); }); });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await new Promise<void>((res) => { srv.close(() => { res(); }); });
  };
  cleanups.push(release);
  return release;
}

/** Holds a UDP port (SIP over UDP) until released. */
async function takeUdp(port: number): Promise<() => void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(port, '127.0.0.1', () => { res(); }); });
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    sock.close();
  };
  cleanups.push(release);
  return release;
}

/** Files under `dir` that this process holds open. */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      // The descriptor readdir itself used is gone by now.
      return [];
    }
  });
}

async function started(config: Config): Promise<App> {
  const app = await startApp(config, silentLogger());
  let closed = false;
  cleanups.push(async () => {
    if (!closed) await app.close();
  });
  return { ...app, close: async () => { closed = true; await app.close(); } };
}

/** Starts the real CLI and resolves with its exit code, or undefined if it still runs after `ms`. */
function runCli(env: Record<string, string>, ms: number): Promise<{ code: number | null | undefined; stdout: string }> {
  const child = spawn(join(ROOT, 'bin/callseal'), ['start'], { env: { ...process.env, ...env, CALLSEAL_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  cleanups.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return new Promise((res) => {
    const timer = setTimeout(() => { res({ code: undefined, stdout }); }, ms);
    child.on('exit', (code) => { clearTimeout(timer); res({ code, stdout }); });
  });
}

describe('a start that fails midway', () => {
  it('with the web port taken closes SIP, media and the database: the same ports start again in this process', async () => {
    const s = await setup();
    const release = await takeTcp(s.httpPort);
    await expect(startApp(s.config, silentLogger())).rejects.toThrow(/EADDRINUSE/);
    expect(openFilesUnder(s.home)).toEqual([]);
    await release();
    // The SIP ports (UDP and TCP) were bound before the web port failed: they are free again.
    const app = await started(s.config);
    expect(app.ports).toMatchObject({ sipUdp: s.sipPort, sipTcp: s.sipPort, http: s.httpPort });
    await app.close();
    expect(openFilesUnder(s.home)).toEqual([]);
  });

  it('with the SIP TCP port taken closes the UDP socket bound before it and the media workers', async () => {
    const s = await setup();
    const release = await takeTcp(s.sipPort);
    await expect(startApp(s.config, silentLogger())).rejects.toThrow(/EADDRINUSE/);
    expect(openFilesUnder(s.home)).toEqual([]);
    await release();
    const app = await started(s.config);
    expect(app.ports.sipUdp).toBe(s.sipPort);
    await app.close();
  });

  it('leaves nothing that keeps the CLI running: it exits with 1 when the SIP or the web port is taken', async () => {
    const s = await setup();
    const releaseSip = await takeUdp(s.sipPort);
    const sip = await runCli(s.env, 60_000);
    expect(sip.code, sip.stdout.slice(-2000)).toBe(1);
    expect(sip.stdout).toContain('callseal failed to start');
    releaseSip();
    await takeTcp(s.httpPort);
    const web = await runCli(s.env, 60_000);
    expect(web.code, web.stdout.slice(-2000)).toBe(1);
    expect(web.stdout).toContain('callseal failed to start');
  });
});

describe('close()', () => {
  it('runs every step when one throws, then rejects naming it', async () => {
    const s = await setup();
    const app = await started(s.config);
    const media = app.media;
    const realClose = media.close.bind(media);
    // The media step does its work and then fails: every step after it must still run.
    media.close = async (): Promise<void> => {
      await realClose();
      throw new Error('media close failed on purpose');
    };
    const err = await app.close().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TeardownError);
    expect((err as TeardownError).failures.map((f) => f.step)).toEqual(['media workers']);
    // Steps before it (web, SIP) and after it (the shutdown checkpoint, the database) all ran.
    const checkpointYears = join(s.home, 'recordings', CHECKPOINT_DIR);
    const checkpointFiles = existsSync(checkpointYears) ? readdirSync(checkpointYears).flatMap((y) => readdirSync(join(checkpointYears, y))) : [];
    expect(checkpointFiles.filter((f) => f.endsWith('.txt')).length).toBe(2);
    expect(openFilesUnder(s.home)).toEqual([]);
    await (await takeTcp(s.httpPort))();
    await (await takeTcp(s.sipPort))();
    (await takeUdp(s.sipPort))();
  });
});
