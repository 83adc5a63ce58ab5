/**
 * A clock for tests: time stands still until `advance(ms)` moves it, firing every timer that
 * falls due on the way in deadline order (equal deadlines in the order they were scheduled), each
 * with the clock set to its own deadline. Timers scheduled by a firing timer fire in the same
 * `advance` when they fall due within it.
 */
import type { Clock, Scheduler, TimerHandle } from './clock.ts';

interface FakeTimer {
  readonly atMs: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A manual {@link Clock} and {@link Scheduler}. */
export class FakeClock implements Clock, Scheduler {
  #monoMs: number;
  readonly #epochOffsetMs: number;
  #timers: FakeTimer[] = [];
  #order = 0;

  /** Starts at monotonic `startMs` (default 1,000) and wall clock `epochMs` (default 2026-01-01). */
  constructor(startMs = 1000, epochMs = Date.UTC(2026, 0, 1)) {
    this.#monoMs = startMs;
    this.#epochOffsetMs = epochMs - startMs;
  }

  monoMs(): number {
    return this.#monoMs;
  }

  nowMs(): number {
    return this.#monoMs + this.#epochOffsetMs;
  }

  schedule(delayMs: number, callback: () => void): TimerHandle {
    const timer: FakeTimer = { atMs: this.#monoMs + Math.max(0, delayMs), order: this.#order++, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Deadline of the next pending timer, or undefined. */
  get nextDeadlineMs(): number | undefined {
    return this.#next()?.atMs;
  }

  /** Moves time forward by `ms`, firing due timers in order; a throwing timer propagates. */
  advance(ms: number): void {
    const end = this.#monoMs + Math.max(0, ms);
    for (;;) {
      const next = this.#next();
      if (!next || next.atMs > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#monoMs = Math.max(this.#monoMs, next.atMs);
      next.callback();
    }
    this.#monoMs = end;
  }

  /** Advances to the next pending timer and fires it (and any due at the same moment); false when none is pending. */
  advanceToNext(): boolean {
    const next = this.#next();
    if (!next) return false;
    this.advance(next.atMs - this.#monoMs);
    return true;
  }

  #next(): FakeTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.atMs < best.atMs || (t.atMs === best.atMs && t.order < best.order)) best = t;
    }
    return best;
  }
}
