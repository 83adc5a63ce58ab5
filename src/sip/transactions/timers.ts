/**
 * RFC 3261 timer values, and the deadline queue of the transaction core: a binary heap of
 * (deadline, transaction, timer) entries. A timer that is re-armed or cancelled leaves its old
 * entry behind; the core skips entries that are no longer the armed one, so re-arming costs
 * O(log n) and no search. Does no I/O and keeps no real timers.
 */

/** RFC 3261 timer values in milliseconds (section 17.1.1.1 and table 4). */
export interface SipTimers {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

/** The defaults of RFC 3261. */
export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };

/**
 * Names of the transaction timers (RFC 3261 table 4, RFC 6026 timers L and M), plus `P`: a server
 * transaction whose user never answers is answered 500 after {@link PROCEEDING_LIMIT_T1}×T1, and
 * `C`: a client INVITE that got a provisional response but no final one gives up as late.
 */
export type TimerName = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M' | 'P';

/** A transaction without a final response this long (in T1 units, 180 s by default) is ended by timer P or C. */
export const PROCEEDING_LIMIT_T1 = 360;

/** Timer D: at least 32 s on unreliable transports (RFC 3261 section 17.1.1.2), zero on reliable ones. */
export function timerD(timers: SipTimers, reliable: boolean): number {
  return reliable ? 0 : Math.max(32_000, 64 * timers.t1);
}

/** One armed timer of a transaction. */
export interface TimerEntry<T> {
  readonly atMs: number;
  readonly owner: T;
  readonly name: TimerName;
  /** Tie-breaker: equal deadlines fire in the order they were armed. */
  readonly seq: number;
}

/** A min-heap of timer entries ordered by deadline, then by arming order. */
export class TimerQueue<T> {
  readonly #heap: TimerEntry<T>[] = [];
  #seq = 0;

  /** Adds an entry and returns it (the owner keeps it to recognise its live timer). */
  push(atMs: number, owner: T, name: TimerName): TimerEntry<T> {
    const entry: TimerEntry<T> = { atMs, owner, name, seq: this.#seq++ };
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (!p || !before(entry, p)) break;
      heap[i] = p;
      heap[parent] = entry;
      i = parent;
    }
    return entry;
  }

  /** The earliest entry, without removing it. */
  peek(): TimerEntry<T> | undefined {
    return this.#heap[0];
  }

  /** Removes and returns the earliest entry. */
  pop(): TimerEntry<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      const li = heap[l];
      const ri = heap[r];
      const si = heap[smallest];
      if (li && si && before(li, si)) smallest = l;
      const s2 = heap[smallest];
      if (ri && s2 && before(ri, s2)) smallest = r;
      if (smallest === i) break;
      const a = heap[i];
      const b = heap[smallest];
      if (!a || !b) break;
      heap[i] = b;
      heap[smallest] = a;
      i = smallest;
    }
    return top;
  }

  /** Entries held, live or stale. */
  get size(): number {
    return this.#heap.length;
  }

  /** Drops every entry. */
  clear(): void {
    this.#heap.length = 0;
  }
}

function before<T>(a: TimerEntry<T>, b: TimerEntry<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
