/**
 * A deadline that moves with activity: `arm(limitMs)` fires `onIdle` once the last activity (as
 * `lastActivityMs` reports it, on the wall clock) is `limitMs` old, and re-arms itself at each new
 * deadline when activity came meanwhile. One timer at a time, from the injected `Scheduler`.
 */
import type { Clock, Scheduler, TimerHandle } from '../common/clock.ts';

/** Options of {@link IdleWatch}. */
export interface IdleWatchOptions {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Wall-clock time of the latest activity. */
  readonly lastActivityMs: () => number;
  /** Called once per arming when the limit passed without activity, with how long it was idle. */
  readonly onIdle: (idleMs: number) => void;
}

/** Fires when nothing happened for a while. */
export class IdleWatch {
  readonly #o: IdleWatchOptions;
  #timer: TimerHandle | undefined;

  constructor(options: IdleWatchOptions) {
    this.#o = options;
  }

  /** (Re)starts the watch with `limitMs`; fires at once when the call is already idle that long. */
  arm(limitMs: number): void {
    this.cancel();
    const idleMs = this.#o.clock.nowMs() - this.#o.lastActivityMs();
    if (idleMs >= limitMs) {
      this.#o.onIdle(idleMs);
      return;
    }
    this.#timer = this.#o.scheduler.schedule(limitMs - idleMs, () => {
      this.#timer = undefined;
      this.arm(limitMs);
    });
  }

  /** Stops watching. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
