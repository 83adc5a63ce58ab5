/**
 * callseal's media side for bench/inline-load (a child process with an IPC channel, so its CPU is
 * measured alone): a MediaEngine with its workers, opening relayed calls with a recording tap on
 * each side, or SIPREC legs (two per call, bound ports, as a SIPREC session has), and closing them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaEngine } from '../../src/media/index.ts';
import { silentLogger } from '../../src/common/log.ts';

type Msg =
  | { op: 'relays'; peers: [number, number][] }
  | { op: 'legs'; calls: number }
  | { op: 'close' }
  | { op: 'stop' };

const [minArg, maxArg] = process.argv.slice(2);
const engine = new MediaEngine({ host: '127.0.0.1', portMin: Number(minArg), portMax: Number(maxArg), log: silentLogger() });
await engine.start();
const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-bench-'));
let relayIds: string[] = [];
let legIds: string[] = [];
let blocks: number[] = [];
let opened = 0;

async function tap(relayId: string, side: 'a' | 'b'): Promise<void> {
  const legId = `${relayId}-${side}`;
  await engine.openLeg(0, { legId, host: '127.0.0.1', port: 0, codec: 'PCMA', audioPayloadType: 8, path: join(dir, `${legId}.wav`), startMs: Date.now(), reorderMs: 60, tap: { relayId, side } });
  legIds.push(legId);
}

process.on('message', (m: Msg) => {
  void (async () => {
    switch (m.op) {
      case 'relays': {
        const ports: [number, number][] = [];
        for (const [aPeer, bPeer] of m.peers) {
          const relayId = `call-${++opened}`;
          const p = await engine.openRelay({ relayId, a: { remoteHost: '127.0.0.1', remotePort: aPeer }, b: { remoteHost: '127.0.0.1', remotePort: bPeer } });
          relayIds.push(relayId);
          await tap(relayId, 'a');
          await tap(relayId, 'b');
          ports.push([p.aPort, p.bPort]);
        }
        process.send?.({ op: 'relays', ports });
        break;
      }
      case 'legs': {
        const ports: number[] = [];
        for (let i = 0; i < m.calls; i++) {
          const base = engine.ports.allocate(2);
          blocks.push(base);
          for (const [k, port] of [base, base + 2].entries()) {
            const legId = `siprec-${++opened}-${k}`;
            await engine.openLeg(engine.pickWorker(), { legId, host: '127.0.0.1', port, codec: 'PCMA', audioPayloadType: 8, path: join(dir, `${legId}.wav`), startMs: Date.now(), reorderMs: 60, remoteAddress: '127.0.0.1' });
            legIds.push(legId);
            ports.push(port);
          }
        }
        process.send?.({ op: 'legs', ports });
        break;
      }
      case 'close': {
        let forwarded = 0;
        let audioBytes = 0;
        for (const id of legIds) audioBytes += (await engine.closeLeg(id, Date.now())).stats.audioBytes;
        for (const id of relayIds) {
          const r = await engine.closeRelay(id);
          forwarded += r.a.forwarded + r.b.forwarded;
        }
        for (const base of blocks) engine.ports.release(base, 2);
        relayIds = [];
        legIds = [];
        blocks = [];
        process.send?.({ op: 'closed', forwarded, audioBytes });
        break;
      }
      case 'stop':
        await engine.close();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
    }
  })();
});
process.send?.({ op: 'ready' });
