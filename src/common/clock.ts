/**
 * Time source and timers, injected so protocol cores and their timers can be tested without
 * waiting (`fake-clock.ts`). The real ones read the system clock and use unref'd `setTimeout`s, so
 * a pending timer never keeps the process alive.
 */

/** Wall-clock and monotonic time. */
export interface Clock {
  /** Milliseconds since the epoch (wall clock). */
  nowMs(): number;
  /** Monotonic milliseconds, for durations and timeouts. */
  monoMs(): number;
}

/** A scheduled callback; `cancel()` is idempotent and harmless after the callback ran. */
export interface TimerHandle {
  cancel(): void;
}

/** Timers on monotonic time. */
export interface Scheduler {
  /** Monotonic milliseconds, the time base of every deadline. */
  monoMs(): number;
  /** Runs `callback` once, `delayMs` from now (0 or less: as soon as possible, never synchronously). */
  schedule(delayMs: number, callback: () => void): TimerHandle;
}

/** The real clock and scheduler. */
export const systemClock: Clock & Scheduler = {
  nowMs: () => Date.now(),
  monoMs: () => performance.now(),
  schedule: (delayMs, callback) => {
    const timer = setTimeout(callback, Math.max(0, delayMs)).unref();
    return { cancel: () => { clearTimeout(timer); } };
  },
};
