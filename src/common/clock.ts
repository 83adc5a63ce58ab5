/**
 * Time source and timers, injected so protocol cores and timers can be tested without waiting.
 * `fake-clock.ts` holds the test double of both.
 */

/** Wall-clock and monotonic time. */
export interface Clock {
  /** Milliseconds since the epoch (wall clock). */
  nowMs(): number;
  /** Monotonic milliseconds, for durations and timeouts. */
  monoMs(): number;
}

/** A timer armed with a {@link Scheduler}. */
export interface Timer {
  /** Disarms the timer; cancelling a timer that fired or was cancelled does nothing. */
  cancel(): void;
}

/** One-shot timers. */
export interface Scheduler {
  /** Runs `fn` once after `delayMs` (0 or more); the timer never keeps the process alive. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** The real clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monoMs: () => performance.now(),
};

/** Timers of the Node.js event loop, unref'd. */
export const systemScheduler: Scheduler = {
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return { cancel: () => { clearTimeout(t); } };
  },
};
