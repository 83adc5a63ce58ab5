/**
 * Time source, injected so protocol cores and timers can be tested without waiting.
 */

/** Wall-clock and monotonic time. */
export interface Clock {
  /** Milliseconds since the epoch (wall clock). */
  nowMs(): number;
  /** Monotonic milliseconds, for durations and timeouts. */
  monoMs(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monoMs: () => performance.now(),
};
