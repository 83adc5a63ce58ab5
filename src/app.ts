/**
 * Composition root: the only file that knows every module. Starts recovery, media workers,
 * SIP transports and the SIPREC server, and a small HTTP listener for `GET /healthz`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from './common/log.ts';
import { errorMessage } from './common/errors.ts';
import { advertisedAddress, type Config } from './config/index.ts';
import { SipStack, SipTransport } from './sip/index.ts';
import { MediaEngine } from './media/index.ts';
import { RecordingStore, type FinishedRecording } from './recording/index.ts';
import { SiprecServer } from './siprec/index.ts';

/** callseal's version, written into every metadata file. */
export const VERSION = '0.1.0';

/** A running callseal. */
export interface App {
  readonly config: Config;
  readonly instanceId: string;
  readonly ports: { readonly sipUdp: number; readonly sipTcp: number | undefined; readonly sipTls: number | undefined; readonly http: number };
  readonly siprec: SiprecServer;
  readonly media: MediaEngine;
  readonly store: RecordingStore;
  readonly recovered: readonly FinishedRecording[];
  close(): Promise<void>;
}

async function instanceId(home: string): Promise<string> {
  const file = join(home, 'instance-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  await writeFile(file, `${id}\n`, { flag: 'wx' });
  return id;
}

/** Starts callseal with a validated configuration. */
export async function startApp(config: Config, log: Logger): Promise<App> {
  await mkdir(join(config.home, 'recordings'), { recursive: true });
  await mkdir(join(config.home, 'spool'), { recursive: true });
  const id = await instanceId(config.home);
  const store = new RecordingStore({
    home: config.home, directoryTemplate: config.recording.directoryTemplate, timeZone: config.recording.timeZone,
    instanceId: id, recorder: `callseal ${VERSION}`, log,
  });
  // Invariant 1: recordings left by a crash are finished before new calls are taken.
  const recovered = await store.recover();

  const media = new MediaEngine({
    host: config.rtp.host, portMin: config.rtp.portMin, portMax: config.rtp.portMax,
    ...(config.rtp.workers > 0 ? { workers: config.rtp.workers } : {}), log,
  });
  await media.start();

  const transport = new SipTransport({
    host: config.sip.host, udpPort: config.sip.port, tcp: config.sip.tcp, maxMessageBytes: config.sip.maxMessageBytes, log,
    tls: config.sip.tls.enabled && config.sip.tls.certFile && config.sip.tls.keyFile
      ? { port: config.sip.tls.port, certFile: config.sip.tls.certFile, keyFile: config.sip.tls.keyFile } : undefined,
  });
  const stack = new SipStack(transport, log);
  const sipAddress = advertisedAddress(config.sip.host, config.sip.advertisedAddress);
  let bound;
  try {
    bound = await transport.listen();
  } catch (err) {
    await media.close();
    throw err;
  }
  const siprec = new SiprecServer({
    stack, media, store, log, sipAddress, sipPort: bound.udp,
    rtpHost: config.rtp.host, rtpAddress: advertisedAddress(config.rtp.host, config.rtp.advertisedAddress ?? config.sip.advertisedAddress),
    channels: config.recording.channels, reorderMs: config.rtp.reorderMs, mediaTimeoutSec: config.recording.mediaTimeoutSec,
    answerDelayMs: config.sip.answerDelayMs,
  });

  const http = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', instanceId: id, live: siprec.live().length, openLegs: media.openLegs, sip: stack.stats, siprec: siprec.stats }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  const httpPort = await new Promise<number>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.http.port, config.http.host, () => {
      const a = http.address();
      resolve(typeof a === 'object' && a ? a.port : config.http.port);
    });
  }).catch(async (err: unknown) => {
    await Promise.all([transport.close(), media.close()]);
    throw err;
  });

  log.info({
    instanceId: id, home: config.home, sipUdp: `${config.sip.host}:${bound.udp}`, sipTcp: bound.tcp !== undefined ? `${config.sip.host}:${bound.tcp}` : 'off',
    sipTls: bound.tls !== undefined ? `${config.sip.host}:${bound.tls}` : 'off', rtp: `${config.rtp.host}:${config.rtp.portMin}-${config.rtp.portMax}`,
    http: `http://${config.http.host}:${httpPort}`, recordings: store.recordingsRoot, recovered: recovered.length,
  }, 'callseal listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info('shutting down: ending running recordings');
      await siprec.close();
      stack.close();
      await transport.close();
      await media.close();
      await new Promise<void>((resolve) => { closeServer(http, resolve); });
      log.info('stopped');
    })().catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'shutdown failed');
    });
    return closing;
  };
  return {
    config, instanceId: id, ports: { sipUdp: bound.udp, sipTcp: bound.tcp, sipTls: bound.tls, http: httpPort },
    siprec, media, store, recovered, close,
  };
}

function closeServer(server: Server, done: () => void): void {
  server.close(() => { done(); });
  server.closeAllConnections();
}
