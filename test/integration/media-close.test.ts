/**
 * Closing a leg (a stream removed by a re-INVITE, a BYE) loses none of the audio sent before it
 * (invariant 1): RTP travels apart from the signalling, so packets the SRC sent before its re-INVITE
 * may reach callseal's socket after the close command. Real media engine, one worker, real UDP.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/log.ts';
import { MediaEngine } from '../../src/media/index.ts';
import { buildRtp } from '../../src/rtp/packet.ts';
import { freeUdpBlock } from '../helpers/callseal.ts';

let engine: MediaEngine;
let sender: dgram.Socket;
let base: number;

beforeAll(async () => {
  base = await freeUdpBlock(15000, 26999, 4);
  engine = new MediaEngine({ host: '127.0.0.1', portMin: base, portMax: base + 3, workers: 1, log: silentLogger() });
  await engine.start();
  sender = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => { sender.bind(0, '127.0.0.1', () => { resolve(); }); });
});

afterAll(async () => {
  sender.close();
  await engine.close();
});

/** Sends RTP packet `n` of a 20 ms PCMA stream and resolves once the kernel has taken it. */
function send(port: number, n: number): Promise<void> {
  const rtp = buildRtp({ payloadType: 8, sequenceNumber: 100 + n, timestamp: 160 * n, ssrc: 0x1234, payload: Buffer.alloc(160, 0xd5) });
  return new Promise((resolve, reject) => { sender.send(rtp, port, '127.0.0.1', (err) => { if (err) reject(err); else resolve(); }); });
}

it('packets that reach the socket after the close command are still recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-close-'));
  const startMs = Date.now();
  // A reorder window far longer than the 20 ms below, so the test does not depend on timer accuracy.
  await engine.openLeg(0, { legId: 'close-1', host: '127.0.0.1', port: base, codec: 'PCMA', audioPayloadType: 8, path: join(dir, 'leg.wav'), startMs, reorderMs: 500, remoteAddress: '127.0.0.1' });
  for (let n = 0; n < 5; n++) await send(base, n);
  const closed = engine.closeLeg('close-1', startMs + 200);
  // The last two packets were sent before the stream's end but arrive after the close command.
  await new Promise((r) => setTimeout(r, 20));
  await send(base, 5);
  await send(base, 6);
  const result = await closed;
  expect(result.stats.received).toBe(7);
  expect(result.stats.foreignSource).toBe(0);
});
