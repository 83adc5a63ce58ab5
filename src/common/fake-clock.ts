/**
 * A clock and scheduler for tests: time stands still until `advance` moves it, and the timers
 * that fall due run in time order, each seeing the clock at its own due time. Never used in
 * production code.
 */
import type { Clock, Scheduler, Timer } from './clock.ts';

interface Pending {
  readonly dueMs: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** A {@link Clock} and {@link Scheduler} moved by hand. */
export class FakeClock implements Clock, Scheduler {
  #nowMs: number;
  #monoMs = 0;
  #seq = 0;
  readonly #pending = new Set<Pending>();

  /** Starts at `startMs` on the wall clock (default: the real time now) and 0 on the monotonic clock. */
  constructor(startMs = Date.now()) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  monoMs(): number {
    return this.#monoMs;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const p: Pending = { dueMs: this.#monoMs + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#pending.add(p);
    return { cancel: () => { this.#pending.delete(p); } };
  }

  /** Timers armed and not yet run. */
  get pendingTimers(): number {
    return this.#pending.size;
  }

  /** Moves both clocks forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const endMono = this.#monoMs + Math.max(0, ms);
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.#pending) {
        if (p.dueMs <= endMono && (!next || p.dueMs < next.dueMs || (p.dueMs === next.dueMs && p.seq < next.seq))) next = p;
      }
      if (!next) break;
      this.#pending.delete(next);
      this.#nowMs += next.dueMs - this.#monoMs;
      this.#monoMs = next.dueMs;
      next.fn();
    }
    this.#nowMs += endMono - this.#monoMs;
    this.#monoMs = endMono;
  }
}
