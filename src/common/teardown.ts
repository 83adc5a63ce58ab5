/**
 * Teardown of what a start-up opened: each step is registered right where its resource is opened
 * (or before, when closing a half-opened one is safe), and `run()` undoes them in reverse order.
 * Every step runs even when an earlier one throws; the failures are logged with the step's name and
 * thrown together as one {@link TeardownError} at the end. The same list serves a start that fails
 * midway (only what was opened is closed) and the shutdown of a running process. It owns no
 * resource itself and knows no module.
 */
import { CallsealError, errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

/** One step that failed, with what it threw. */
export interface TeardownFailure {
  readonly step: string;
  readonly error: unknown;
}

/** One or more steps of a teardown failed; every other step still ran. */
export class TeardownError extends CallsealError {
  readonly failures: readonly TeardownFailure[];
  constructor(failures: readonly TeardownFailure[]) {
    super('CS_SHUTDOWN_FAILED', `${failures.length} shutdown step(s) failed: ${failures.map((f) => `[${f.step}] ${errorMessage(f.error)}`).join('; ')}`, { cause: failures[0]?.error });
    this.failures = failures;
  }
}

/** The steps that undo a start-up, run last-registered first. */
export class Teardown {
  readonly #steps: { readonly name: string; readonly run: () => void | Promise<void> }[] = [];
  readonly #log: Logger;
  #running: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers a step; it runs before every step registered earlier. */
  add(name: string, run: () => void | Promise<void>): void {
    if (this.#running) throw new CallsealError('CS_STATE_CLOSED', `teardown already running; step [${name}] was not registered`);
    this.#steps.push({ name, run });
  }

  /** The names of the steps in the order `run()` takes them. */
  get order(): readonly string[] {
    return this.#steps.map((s) => s.name).reverse();
  }

  /**
   * Runs every step in reverse order of registration, each even when an earlier one failed;
   * idempotent (a second call returns the first run). Rejects with {@link TeardownError} when any
   * step failed.
   */
  run(): Promise<void> {
    this.#running ??= this.#runAll();
    return this.#running;
  }

  async #runAll(): Promise<void> {
    const failures: TeardownFailure[] = [];
    for (const step of [...this.#steps].reverse()) {
      try {
        await step.run();
      } catch (error) {
        this.#log.error({ step: step.name, err: errorMessage(error) }, 'shutdown step failed; the remaining steps still run');
        failures.push({ step: step.name, error });
      }
    }
    if (failures.length > 0) throw new TeardownError(failures);
  }
}
