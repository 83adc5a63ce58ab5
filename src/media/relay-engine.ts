/**
 * The SIP-thread side of the relays (in-line mode): which worker holds each relay, its ports, the
 * pending open, close and prompt requests, the last counts each worker reported, and what a worker
 * failure does to them. `MediaEngine` owns one and delegates its `*Relay` methods here; this file
 * knows nothing of SIP, and never ends a call itself (the signalling does, on `workerFailed`).
 */
import { CallsealError, InvalidStateError } from '../common/errors.ts';
import type { PortPool, SourceCheck } from '../rtp/index.ts';
import { emptyRelayCounts } from './relay-core.ts';
import type { RelayResult, RelaySideChange, RelaySideName, RelaySpec, WorkerCommand, WorkerEvent } from './protocol.ts';

/** callseal's media address facing each side of a relay. */
export interface RelayPorts {
  readonly host: string;
  readonly aPort: number;
  readonly bPort: number;
}

/** What the book needs to know of a worker slot. */
export interface RelayWorkerSlot {
  readonly index: number;
  legs: number;
  readonly alive: boolean;
}

/** Options of {@link RelayBook}. */
export interface RelayBookOptions<S extends RelayWorkerSlot> {
  readonly host: string;
  readonly ports: PortPool;
  readonly sourceCheck: SourceCheck;
  post(slot: S, cmd: WorkerCommand): void;
  dtmf(relayId: string, fromSide: RelaySideName, digit: string, atMs: number): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface RelayRecord<S> {
  readonly relayId: string;
  readonly slot: S;
  readonly basePort: number;
  opening: Pending<RelayPorts> | undefined;
  /** Settles when the worker answered the open. */
  opened: Promise<unknown>;
  readonly ports: RelayPorts;
  closing: Promise<RelayResult> | undefined;
  resolveClose: ((result: RelayResult) => void) | undefined;
  readonly plays: Map<number, () => void>;
  last: RelayResult;
}

/** The events of a worker about its relays. */
export type RelayEvent = Extract<WorkerEvent, { op: 'relayOpened' | 'relayClosed' | 'relayPlayed' | 'relayDtmf' | 'relayActivity' }>;

/** True for an event {@link RelayBook} handles. */
export function isRelayEvent(event: WorkerEvent): event is RelayEvent {
  return event.op.startsWith('relay');
}

/** Load a relay adds to its worker when workers are picked (two sockets, like two legs). */
const RELAY_LOAD = 2;
/** Results of closed relays kept, so a second `close` answers the same (oldest dropped first). */
const CLOSED_KEPT = 4096;

/** The relays of a media engine. */
export class RelayBook<S extends RelayWorkerSlot> {
  readonly #o: RelayBookOptions<S>;
  readonly #relays = new Map<string, RelayRecord<S>>();
  readonly #closed = new Map<string, Promise<RelayResult>>();
  #playIds = 0;

  constructor(options: RelayBookOptions<S>) {
    this.#o = options;
  }

  /** Relays open (or opening). */
  get size(): number {
    return this.#relays.size;
  }

  /** The worker slot of an open relay: where its tap legs must open. */
  slotOf(relayId: string): S | undefined {
    return this.#relays.get(relayId)?.slot;
  }

  /** Takes two port pairs and opens the relay in `slot` (none: the engine is closed); resolves when both sockets are bound. */
  open(slot: S | undefined, spec: RelaySpec): Promise<RelayPorts> {
    if (!slot) return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', 'media engine closed'));
    if (!slot.alive) return Promise.reject(new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker ${slot.index} is not running`));
    if (this.#relays.has(spec.relayId) || this.#closed.has(spec.relayId)) {
      return Promise.reject(new InvalidStateError('CS_RELAY_OPEN', `relay ${spec.relayId} was opened already`));
    }
    const basePort = this.#o.ports.allocate(2);
    const ports: RelayPorts = { host: this.#o.host, aPort: basePort, bPort: basePort + 2 };
    slot.legs += RELAY_LOAD;
    let opening: Pending<RelayPorts> = { resolve: () => undefined, reject: () => undefined };
    // The caller gets a failed open; the copy kept here only orders a close after the open.
    const opened = new Promise<RelayPorts>((resolve, reject) => { opening = { resolve, reject }; });
    this.#relays.set(spec.relayId, {
      relayId: spec.relayId, slot, basePort, ports, opening, opened: opened.catch(() => undefined), closing: undefined, resolveClose: undefined,
      plays: new Map(), last: { a: emptyRelayCounts(), b: emptyRelayCounts() },
    });
    this.#o.post(slot, { op: 'relayOpen', binding: { ...spec, ...ports, sourceCheck: this.#o.sourceCheck } });
    return opened;
  }

  /** Applies an SDP change to one side of an open relay; unknown relays are ignored (the call is ending). */
  update(relayId: string, side: RelaySideName, change: RelaySideChange): void {
    const r = this.#relays.get(relayId);
    if (r && !r.closing) this.#o.post(r.slot, { op: 'relayUpdate', relayId, side, change });
  }

  /** Plays frames to one side; resolves when they are sent or the relay closes. */
  play(relayId: string, toSide: RelaySideName, payloads: readonly Buffer[], payloadType: number, ptimeMs: number, clockRateHz: number): Promise<void> {
    const r = this.#relays.get(relayId);
    if (!r || r.closing) return Promise.resolve();
    const playId = ++this.#playIds;
    return new Promise((resolve) => {
      r.plays.set(playId, resolve);
      // One compact copy: frames cut from a larger buffer would each clone all of it.
      const frames = new Uint8Array(payloads.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of payloads) {
        frames.set(p, at);
        at += p.length;
      }
      this.#o.post(r.slot, { op: 'relayPlay', relayId, playId, toSide, frames, frameLengths: payloads.map((p) => p.length), payloadType, ptimeMs, clockRateHz });
    });
  }

  /** Closes a relay; resolves with its counts. Idempotent: a second call answers the same. */
  close(relayId: string): Promise<RelayResult> {
    const done = this.#closed.get(relayId);
    if (done) return done;
    const r = this.#relays.get(relayId);
    if (!r) return Promise.reject(new InvalidStateError('CS_RELAY_UNKNOWN', `relay ${relayId} is not open`));
    if (r.closing) return r.closing;
    // Closed while its sockets are being bound: close once the worker has answered the open.
    if (r.opening) return r.opened.then(() => this.close(relayId));
    r.closing = new Promise((resolve) => { r.resolveClose = resolve; });
    this.#o.post(r.slot, { op: 'relayClose', relayId });
    return r.closing;
  }

  /** The counts of a relay as last reported (every second), or undefined. */
  activity(relayId: string): RelayResult | undefined {
    return this.#relays.get(relayId)?.last;
  }

  /** Handles a relay event of a worker. */
  onEvent(event: RelayEvent): void {
    switch (event.op) {
      case 'relayOpened': {
        const r = this.#relays.get(event.relayId);
        const opening = r?.opening;
        if (!r || !opening) return;
        r.opening = undefined;
        if (event.error === undefined) opening.resolve(r.ports);
        else {
          this.#forget(r, undefined);
          opening.reject(new CallsealError('CS_RELAY_OPEN', `${event.error} [relayId:${event.relayId}]`));
        }
        return;
      }
      case 'relayClosed': {
        const r = this.#relays.get(event.relayId);
        if (r) this.#forget(r, event.result ?? r.last);
        return;
      }
      case 'relayPlayed': {
        const r = this.#relays.get(event.relayId);
        const resolve = r?.plays.get(event.playId);
        r?.plays.delete(event.playId);
        resolve?.();
        return;
      }
      case 'relayDtmf':
        this.#o.dtmf(event.relayId, event.fromSide, event.digit, event.atMs);
        return;
      case 'relayActivity':
        for (const [relayId, result] of event.relays) {
          const r = this.#relays.get(relayId);
          if (r) r.last = result;
        }
    }
  }

  /** Frees a relay's ports and load and settles what waits on it; keeps the result for a later `close`. */
  #forget(r: RelayRecord<S>, result: RelayResult | undefined): void {
    this.#relays.delete(r.relayId);
    this.#o.ports.release(r.basePort, 2);
    r.slot.legs -= RELAY_LOAD;
    for (const resolve of r.plays.values()) resolve();
    r.plays.clear();
    if (!result) return;
    const settled = r.closing ?? Promise.resolve(result);
    r.resolveClose?.(result);
    this.#closed.set(r.relayId, settled);
    if (this.#closed.size > CLOSED_KEPT) {
      const oldest = this.#closed.keys().next();
      if (!oldest.done) this.#closed.delete(oldest.value);
    }
  }

  /**
   * A worker died: its relays are gone. Opening ones fail, prompts resolve, and `close` answers with
   * the last counts reported and the reason. Returns the relay ids, for `workerFailed`.
   */
  workerFailed(slot: S, reason: string): string[] {
    const ids: string[] = [];
    for (const r of [...this.#relays.values()]) {
      if (r.slot !== slot) continue;
      ids.push(r.relayId);
      const opening = r.opening;
      r.opening = undefined;
      opening?.reject(new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker failed (${reason}) while opening the relay [relayId:${r.relayId}]`));
      this.#forget(r, opening ? undefined : { ...r.last, workerFailed: reason });
    }
    return ids;
  }

  /** The engine closes: every relay is gone with its workers; waiting callers are answered. */
  shutdown(): void {
    for (const r of [...this.#relays.values()]) {
      const opening = r.opening;
      r.opening = undefined;
      opening?.reject(new InvalidStateError('CS_STATE_CLOSED', `media engine closed [relayId:${r.relayId}]`));
      this.#forget(r, opening ? undefined : r.last);
    }
  }
}
