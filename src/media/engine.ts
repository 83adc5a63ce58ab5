/**
 * Media engine (SIP thread side): starts the media workers, hands out RTP ports, and opens, updates
 * and closes legs in the workers. The legs of one session stay in one worker.
 *
 * Supervision (invariant 3): a worker that throws or exits while running is "failed", kept apart
 * from one that failed to start. Its legs are not lost: their WAV headers are repaired to the
 * bytes that reached the disk (as crash recovery does) and their statistics read from the `.stats`
 * files, so closing such a leg still yields a result; `workerFailed` names the legs so the
 * signalling can end their sessions visibly; a new worker takes the slot. It must not end
 * sessions itself: it knows nothing of SIP.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Logger } from '../common/log.ts';
import { CallsealError, InvalidStateError, errorMessage } from '../common/errors.ts';
import { TypedEmitter } from '../common/events.ts';
import { PortPool, emptyStats, type SourceCheck } from '../rtp/index.ts';
import type { LegChange, LegResult, LegSpec, RelayResult, RelaySideChange, RelaySideName, RelaySpec, WorkerCommand, WorkerEvent } from './protocol.ts';
import { RelayBook, isRelayEvent, type RelayPorts } from './relay-engine.ts';
import { repairWavHeader } from './wav.ts';
import { readLegStats } from './legstats.ts';

/**
 * Test-only: a worker started with this many packets crashes (an uncaught exception in its socket
 * handler) after receiving that many RTP packets. Only the first worker of each slot gets it, so
 * the respawned worker records normally. Never set it in production (docs/configuration.md).
 */
export const TEST_CRASH_ENV = 'CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS';

/** Why a worker went away, and which legs it took with it. */
export interface WorkerFailure {
  readonly workerIndex: number;
  /** `error: <message>` for an uncaught exception, `exit code <n>` otherwise. */
  readonly reason: string;
  /** Leg ids that were open in the worker; their files are kept and repaired. */
  readonly legIds: readonly string[];
  /** Relays that were open in the worker (in-line mode): gone; their calls should be ended. */
  readonly relayIds: readonly string[];
}

/** Events of {@link MediaEngine}. */
export interface MediaEngineEvents {
  workerFailed: [WorkerFailure];
  workerRestarted: [{ readonly workerIndex: number; readonly restarts: number }];
  /** An RFC 4733 digit sent by one side of a relay (once per event). */
  relayDtmf: [relayId: string, fromSide: RelaySideName, digit: string, atMs: number];
}

/** Health of the media workers, for `/healthz` and `/readyz`. */
export interface MediaHealth {
  readonly configured: number;
  readonly running: number;
  /** Workers that failed after running, since start. */
  readonly failures: number;
  readonly lastFailure: string | undefined;
}

/** Respawn attempts of a slot back off up to this. */
const MAX_RESPAWN_DELAY_MS = 10_000;

/** Options of {@link MediaEngine}. */
export interface MediaEngineOptions {
  readonly host: string;
  readonly portMin: number;
  readonly portMax: number;
  /** Number of media workers; defaults to the number of cores. */
  readonly workers?: number;
  /** Which source each leg accepts media from (`rtp.sourceCheck`); default `sdp`. */
  readonly sourceCheck?: SourceCheck;
  readonly log: Logger;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface WorkerSlot {
  readonly worker: Worker;
  readonly index: number;
  legs: number;
  /** False once the worker failed or exited: no leg is opened in it any more. */
  alive: boolean;
  /** The uncaught error that took the worker down, if any. */
  error: string | undefined;
}

/** Media workers and the RTP port pool. */
export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  readonly ports: PortPool;
  readonly #options: MediaEngineOptions;
  readonly #log: Logger;
  readonly #slots: WorkerSlot[] = [];
  readonly #legWorker = new Map<string, WorkerSlot>();
  /** Spec of every open leg (its file path, for repair after a worker failure). */
  readonly #legSpec = new Map<string, LegSpec>();
  /** Legs of a failed worker, repaired, waiting for their `closeLeg`. */
  readonly #orphans = new Map<string, LegResult>();
  readonly #crashAfterPackets: number | undefined;
  #failures = 0;
  #lastFailure: string | undefined;
  readonly #opening = new Map<string, Pending<undefined>>();
  readonly #closing = new Map<string, Pending<LegResult>>();
  /** Last packet time per leg, reported by the workers every second. */
  readonly #activity = new Map<string, { lastPacketAtMs: number; received: number; lost: number }>();
  #closed = false;
  #dtmfHandler: (legId: string, digit: string, atMs: number) => void = () => undefined;
  #legFailedHandler: (legId: string, err: CallsealError) => void = () => undefined;
  readonly #relays: RelayBook<WorkerSlot>;

  constructor(options: MediaEngineOptions) {
    super();
    this.#options = options;
    this.#log = options.log;
    this.ports = new PortPool(options.portMin, options.portMax);
    this.#relays = new RelayBook<WorkerSlot>({
      host: options.host, ports: this.ports, sourceCheck: options.sourceCheck ?? 'sdp',
      post: (slot, cmd) => { this.#post(slot, cmd); },
      dtmf: (relayId, fromSide, digit, atMs) => { this.safeEmit('relayDtmf', relayId, fromSide, digit, atMs); },
    });
    const crash = Number(process.env[TEST_CRASH_ENV] ?? '');
    this.#crashAfterPackets = Number.isInteger(crash) && crash > 0 ? crash : undefined;
    this.onListenerError((err, event) => {
      this.#log.error({ err: errorMessage(err), event }, 'media engine listener failed');
    });
  }

  /** Starts the workers; a worker that fails to start fails `start` (kept apart from one that dies later). */
  async start(): Promise<void> {
    const n = Math.max(1, this.#options.workers ?? availableParallelism());
    for (let i = 0; i < n; i++) this.#slots.push(await this.#spawn(i, this.#crashAfterPackets));
  }

  #spawn(index: number, crashAfterPackets?: number): Promise<WorkerSlot> {
    if (crashAfterPackets !== undefined) this.#log.warn({ workerIndex: index, crashAfterPackets, env: TEST_CRASH_ENV }, 'test-only worker crash is armed');
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { crashAfterPackets } });
    const slot: WorkerSlot = { worker, index, legs: 0, alive: false, error: undefined };
    worker.on('message', (event: WorkerEvent) => {
      this.#onEvent(event);
    });
    worker.on('error', (err) => {
      slot.error = errorMessage(err);
      this.#log.error({ workerIndex: index, err: slot.error }, 'media worker failed');
    });
    return new Promise((resolve, reject) => {
      worker.once('online', () => {
        slot.alive = true;
        // Only a worker that ran is supervised; one that never came online rejects instead.
        worker.on('exit', (code) => { this.#onExit(slot, code); });
        resolve(slot);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => { if (!slot.alive) reject(new CallsealError('CS_MEDIA_WORKER_START', `media worker ${index} exited with code ${code} before it started`)); });
    });
  }

  /** A running worker went away: keep its legs' files, tell the signalling, start a new worker. */
  #onExit(slot: WorkerSlot, code: number): void {
    slot.alive = false;
    if (this.#closed) return;
    const reason = slot.error !== undefined ? `error: ${slot.error}` : `exit code ${code}`;
    this.#failures++;
    this.#lastFailure = `media worker ${slot.index} failed (${reason}) at ${new Date().toISOString()}`;
    const legIds: string[] = [];
    for (const [legId, s] of [...this.#legWorker]) {
      if (s !== slot) continue;
      legIds.push(legId);
      this.#legWorker.delete(legId);
      this.#activity.delete(legId);
      const spec = this.#legSpec.get(legId);
      this.#legSpec.delete(legId);
      const opening = this.#opening.get(legId);
      if (opening) {
        this.#opening.delete(legId);
        opening.reject(new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker failed (${reason}) while opening the leg`));
      }
      const result = spec ? this.#salvage(legId, spec.path) : undefined;
      const closing = this.#closing.get(legId);
      this.#closing.delete(legId);
      if (closing) {
        if (result) closing.resolve(result);
        else closing.reject(new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker failed (${reason})`));
      } else if (result) this.#orphans.set(legId, result);
    }
    const relayIds = this.#relays.workerFailed(slot, reason);
    this.#log.error({ workerIndex: slot.index, code, reason, legs: legIds.length, relays: relayIds.length }, 'media worker exited; starting a new one');
    this.safeEmit('workerFailed', { workerIndex: slot.index, reason, legIds, relayIds });
    this.#respawn(slot.index, 0);
  }

  /** What a dead worker had written of a leg: the header repaired to the data on disk, stats from `.stats`. */
  #salvage(legId: string, path: string): LegResult | undefined {
    try {
      const { dataBytes } = repairWavHeader(path);
      const saved = readLegStats(path);
      return { stats: saved?.stats ?? { ...emptyStats(), audioBytes: dataBytes }, dataBytes, dtmf: [] };
    } catch (err) {
      this.#log.error({ legId, path, err: errorMessage(err) }, 'leg file of a failed media worker could not be repaired');
      return undefined;
    }
  }

  #respawn(index: number, attempt: number): void {
    if (this.#closed) return;
    const delayMs = attempt === 0 ? 0 : Math.min(MAX_RESPAWN_DELAY_MS, 250 * 2 ** attempt);
    setTimeout(() => {
      if (this.#closed) return;
      this.#spawn(index).then((fresh) => {
        if (this.#closed) {
          void fresh.worker.terminate();
          return;
        }
        this.#slots[index] = fresh;
        this.#log.info({ workerIndex: index, failures: this.#failures }, 'media worker restarted');
        this.safeEmit('workerRestarted', { workerIndex: index, restarts: this.#failures });
      }, (err: unknown) => {
        this.#log.error({ workerIndex: index, attempt, err: errorMessage(err) }, 'media worker could not be restarted; trying again');
        this.#respawn(index, attempt + 1);
      });
    }, delayMs).unref();
  }

  /** Workers configured and running, and failures since start. */
  get health(): MediaHealth {
    return { configured: this.#slots.length, running: this.#slots.filter((s) => s.alive).length, failures: this.#failures, lastFailure: this.#lastFailure };
  }

  #onEvent(event: WorkerEvent): void {
    if (isRelayEvent(event)) {
      this.#relays.onEvent(event);
      return;
    }
    switch (event.op) {
      case 'opened': {
        const p = this.#opening.get(event.legId);
        this.#opening.delete(event.legId);
        if (event.error !== undefined) {
          this.#releaseLeg(event.legId);
          this.#legSpec.delete(event.legId);
          p?.reject(new CallsealError('CS_RECORDING_IO', event.error));
        } else p?.resolve(undefined);
        break;
      }
      case 'closed': {
        const p = this.#closing.get(event.legId);
        this.#closing.delete(event.legId);
        this.#releaseLeg(event.legId);
        this.#legSpec.delete(event.legId);
        this.#activity.delete(event.legId);
        if (event.stats && event.dataBytes !== undefined) {
          if (event.error !== undefined) this.#log.error({ legId: event.legId, err: event.error }, 'leg closed with an error');
          p?.resolve({ stats: event.stats, dataBytes: event.dataBytes, dtmf: event.dtmf ?? [] });
        } else p?.reject(new CallsealError('CS_RECORDING_IO', event.error ?? 'leg close failed'));
        break;
      }
      case 'failed':
        this.#log.error({ legId: event.legId, err: event.error, code: event.code }, 'leg write failed');
        try {
          this.#legFailedHandler(event.legId, new CallsealError(event.code, event.error));
        } catch (err) {
          this.#log.error({ legId: event.legId, err: errorMessage(err) }, 'leg failure handler failed');
        }
        break;
      case 'warning':
        this.#log.warn({ legId: event.legId, err: event.error }, 'media worker warning');
        break;
      case 'dtmf':
        try {
          this.#dtmfHandler(event.legId, event.digit, event.atMs);
        } catch (err) {
          this.#log.error({ legId: event.legId, err: errorMessage(err) }, 'DTMF handler failed');
        }
        break;
      case 'activity':
        for (const [legId, lastPacketAtMs, received, lost] of event.legs) this.#activity.set(legId, { lastPacketAtMs, received, lost });
        break;
    }
  }

  #releaseLeg(legId: string): void {
    const slot = this.#legWorker.get(legId);
    if (slot) slot.legs--;
    this.#legWorker.delete(legId);
  }

  #post(slot: WorkerSlot, cmd: WorkerCommand): void {
    slot.worker.postMessage(cmd);
  }

  /** Sets the handler of DTMF digits seen in any leg (RFC 4733). */
  onDtmf(handler: (legId: string, digit: string, atMs: number) => void): void {
    this.#dtmfHandler = handler;
  }

  /**
   * Sets the handler of a leg whose file could not be written (a full disk): the leg has stopped
   * recording and keeps what reached its file; the handler should end the recording visibly.
   */
  onLegFailed(handler: (legId: string, err: CallsealError) => void): void {
    this.#legFailedHandler = handler;
  }

  /** Picks the least loaded running worker for a new session (a slot being restarted is skipped). */
  pickWorker(): number {
    let best = -1;
    this.#slots.forEach((s, i) => {
      if (s.alive && (best < 0 || s.legs < (this.#slots[best]?.legs ?? Infinity))) best = i;
    });
    return Math.max(0, best);
  }

  /** Opens a leg in worker `workerIndex` (a tap in its relay's worker); resolves when its socket (or tap) and file are ready. */
  openLeg(workerIndex: number, spec: LegSpec): Promise<void> {
    if (this.#closed) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', 'media engine closed'));
    const slot = spec.tap ? this.#relays.slotOf(spec.tap.relayId) : this.#slots[workerIndex % this.#slots.length];
    if (!slot && spec.tap) return Promise.reject(new InvalidStateError('CS_RELAY_UNKNOWN', `relay ${spec.tap.relayId} is not open [legId:${spec.legId}]`));
    if (!slot) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', 'no media worker'));
    if (!slot.alive) return Promise.reject(new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker ${slot.index} is not running`));
    slot.legs++;
    this.#legWorker.set(spec.legId, slot);
    this.#legSpec.set(spec.legId, spec);
    return new Promise((resolve, reject) => {
      this.#opening.set(spec.legId, { resolve: () => { resolve(); }, reject });
      this.#post(slot, { op: 'open', spec: { ...spec, sourceCheck: spec.sourceCheck ?? this.#options.sourceCheck ?? 'sdp' } });
    });
  }

  /** Changes the payload types, SRTP key or SDP source address of an open leg (re-INVITE). */
  updateLeg(legId: string, change: LegChange): void {
    const slot = this.#legWorker.get(legId);
    if (slot) this.#post(slot, { op: 'update', legId, change });
  }

  /** Closes a leg: releases the reorder window, pads to `endMs`, fsyncs and closes the file. */
  closeLeg(legId: string, endMs: number): Promise<LegResult> {
    const orphan = this.#orphans.get(legId);
    if (orphan) {
      // Its worker failed: the file was repaired then, and it ends where the worker stopped.
      this.#orphans.delete(legId);
      return Promise.resolve(orphan);
    }
    const slot = this.#legWorker.get(legId);
    if (!slot) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', `leg ${legId} is not open`));
    return new Promise((resolve, reject) => {
      this.#closing.set(legId, { resolve, reject });
      this.#post(slot, { op: 'close', legId, endMs });
    });
  }

  /** Last packet time of a leg as last reported, or undefined. */
  activity(legId: string): { lastPacketAtMs: number; received: number; lost: number } | undefined {
    return this.#activity.get(legId);
  }

  /** Legs open across all workers. */
  get openLegs(): number {
    return this.#legWorker.size;
  }

  /** Opens an RTP relay for one call (in-line mode) in the least loaded worker; resolves with callseal's port facing each side. */
  openRelay(spec: RelaySpec): Promise<RelayPorts> {
    return this.#relays.open(this.#closed ? undefined : this.#slots[this.pickWorker()], spec);
  }

  /** Applies one side's new SDP to a relay (answer, re-INVITE, UPDATE). */
  updateRelay(relayId: string, side: RelaySideName, change: RelaySideChange): void {
    this.#relays.update(relayId, side, change);
  }

  /** Plays codec frames to one side at `ptimeMs` instead of what the other side sends (relay-core.ts); resolves when played or closed. */
  playRelay(relayId: string, toSide: RelaySideName, payloads: readonly Buffer[], payloadType: number, ptimeMs: number, clockRateHz = 8000): Promise<void> {
    return this.#relays.play(relayId, toSide, payloads, payloadType, ptimeMs, clockRateHz);
  }

  /** Closes a relay (its tap legs stay open until closed); resolves with per-side counts. Idempotent. */
  closeRelay(relayId: string): Promise<RelayResult> {
    return this.#relays.close(relayId);
  }

  /** A relay's counts as last reported by its worker (every second): `lastPacketAtMs` per side for media timeouts. */
  relayActivity(relayId: string): RelayResult | undefined {
    return this.#relays.activity(relayId);
  }

  /** Stops the workers (open legs are closed and their files kept). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#relays.shutdown();
    await Promise.all(this.#slots.filter((s) => s.alive).map(async (s) => {
      this.#post(s, { op: 'stop' });
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { void s.worker.terminate().then(() => { resolve(); }); }, 3000);
        s.worker.once('exit', () => { clearTimeout(t); resolve(); });
      });
    }));
  }
}
