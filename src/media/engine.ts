/**
 * Media engine (SIP thread side): starts the media workers, hands out RTP ports, and opens, updates
 * and closes legs in the workers. The legs of one session stay in one worker.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Logger } from '../common/log.ts';
import { CallsealError, InvalidStateError, errorMessage } from '../common/errors.ts';
import { PortPool, type SourceCheck } from '../rtp/index.ts';
import type { LegChange, LegResult, LegSpec, WorkerCommand, WorkerEvent } from './protocol.ts';

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
  legs: number;
}

/** Media workers and the RTP port pool. */
export class MediaEngine {
  readonly ports: PortPool;
  readonly #options: MediaEngineOptions;
  readonly #log: Logger;
  readonly #slots: WorkerSlot[] = [];
  readonly #legWorker = new Map<string, WorkerSlot>();
  readonly #opening = new Map<string, Pending<undefined>>();
  readonly #closing = new Map<string, Pending<LegResult>>();
  /** Last packet time per leg, reported by the workers every second. */
  readonly #activity = new Map<string, { lastPacketAtMs: number; received: number; lost: number }>();
  #closed = false;
  #dtmfHandler: (legId: string, digit: string, atMs: number) => void = () => undefined;
  #legFailedHandler: (legId: string, err: CallsealError) => void = () => undefined;

  constructor(options: MediaEngineOptions) {
    this.#options = options;
    this.#log = options.log;
    this.ports = new PortPool(options.portMin, options.portMax);
  }

  /** Starts the workers. */
  async start(): Promise<void> {
    const n = Math.max(1, this.#options.workers ?? availableParallelism());
    for (let i = 0; i < n; i++) this.#slots.push(await this.#spawn());
  }

  #spawn(): Promise<WorkerSlot> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url));
    const slot: WorkerSlot = { worker, legs: 0 };
    worker.on('message', (event: WorkerEvent) => {
      this.#onEvent(event);
    });
    worker.on('error', (err) => {
      this.#log.error({ err: errorMessage(err) }, 'media worker failed');
    });
    worker.on('exit', (code) => {
      if (this.#closed) return;
      this.#log.error({ code }, 'media worker exited; starting a new one');
      for (const [legId, s] of this.#legWorker) {
        if (s !== slot) continue;
        this.#legWorker.delete(legId);
        this.#opening.get(legId)?.reject(new CallsealError('CS_RECORDING_IO', 'media worker exited'));
        this.#closing.get(legId)?.reject(new CallsealError('CS_RECORDING_IO', 'media worker exited'));
      }
      const index = this.#slots.indexOf(slot);
      void this.#spawn().then((fresh) => {
        if (index >= 0) this.#slots[index] = fresh;
      });
    });
    return new Promise((resolve, reject) => {
      worker.once('online', () => { resolve(slot); });
      worker.once('error', reject);
    });
  }

  #onEvent(event: WorkerEvent): void {
    switch (event.op) {
      case 'opened': {
        const p = this.#opening.get(event.legId);
        this.#opening.delete(event.legId);
        if (event.error !== undefined) {
          this.#releaseLeg(event.legId);
          p?.reject(new CallsealError('CS_RECORDING_IO', event.error));
        } else p?.resolve(undefined);
        break;
      }
      case 'closed': {
        const p = this.#closing.get(event.legId);
        this.#closing.delete(event.legId);
        this.#releaseLeg(event.legId);
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

  /** Picks the least loaded worker for a new session. */
  pickWorker(): number {
    let best = 0;
    this.#slots.forEach((s, i) => {
      if (s.legs < (this.#slots[best]?.legs ?? Infinity)) best = i;
    });
    return best;
  }

  /** Opens a leg in worker `workerIndex`; resolves when its socket is bound and its file created. */
  openLeg(workerIndex: number, spec: LegSpec): Promise<void> {
    if (this.#closed) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', 'media engine closed'));
    const slot = this.#slots[workerIndex % this.#slots.length];
    if (!slot) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', 'no media worker'));
    slot.legs++;
    this.#legWorker.set(spec.legId, slot);
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

  /** Stops the workers (open legs are closed and their files kept). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map(async (s) => {
      this.#post(s, { op: 'stop' });
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { void s.worker.terminate().then(() => { resolve(); }); }, 3000);
        s.worker.once('exit', () => { clearTimeout(t); resolve(); });
      });
    }));
  }
}
