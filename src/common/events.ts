/**
 * A typed event emitter whose listeners cannot break the emitter: a throwing listener is logged
 * through the `onListenerError` hook and the remaining listeners still run.
 */

type Listener<A extends unknown[]> = (...args: A) => void;

/** Typed events: `TypedEmitter<{ ended: [reason: string] }>`. */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  readonly #listeners = new Map<keyof E, Set<Listener<never[]>>>();
  #onListenerError: (err: unknown, event: keyof E) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };

  /** Sets what happens when a listener throws (default: rethrown asynchronously). */
  onListenerError(handler: (err: unknown, event: keyof E) => void): void {
    this.#onListenerError = handler;
  }

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as Listener<never[]>);
    return this;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    this.#listeners.get(event)?.delete(listener as unknown as Listener<never[]>);
    return this;
  }

  /** Number of listeners of `event`. */
  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  safeEmit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<E[K]>)(...args);
      } catch (err) {
        this.#onListenerError(err, event);
      }
    }
  }
}
