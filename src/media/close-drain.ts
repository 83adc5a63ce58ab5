/**
 * When a closing leg's socket may close without losing audio (invariant 1). A leg counts the
 * datagrams it has read; these helpers only watch that count through timers and event-loop turns
 * and call back once it is safe. They never touch sockets or files: the worker closes the leg.
 *
 * Two things can still be on their way when the close command arrives:
 * - RTP sent before the re-INVITE or BYE that ends the stream, which travels apart from the
 *   signalling and may reach the socket after it ({@link whenQuiet});
 * - datagrams already queued in the socket of a worker that fell behind under load, seconds of
 *   them at most ({@link afterQueuedRead}).
 * What they carry is still bounded by the call's end (the timeline's `finish(endMs)`).
 */

/** The shortest quiet period: one packet time of the usual 20 ms packetization. */
export const CLOSE_QUIET_MIN_MS = 20;
/** The longest a closing leg waits for its socket to go quiet (a sender that never stops). */
export const CLOSE_QUIET_MAX_MS = 1000;
/** Event-loop turns spent reading what is queued: the first turn that reads none ends it, this many at most. */
export const CLOSE_DRAIN_MAX_TURNS = 64;

/**
 * Calls `done` once `read()` has not changed for `quietMs` (the leg's reorder window, at least
 * {@link CLOSE_QUIET_MIN_MS}), counted from now and from each change seen, or after
 * {@link CLOSE_QUIET_MAX_MS} at most.
 */
export function whenQuiet(read: () => number, reorderMs: number, done: () => void): void {
  const quietMs = Math.max(reorderMs, CLOSE_QUIET_MIN_MS);
  const giveUpAtMs = Date.now() + CLOSE_QUIET_MAX_MS;
  let seen = read();
  const check = (): void => {
    if (read() !== seen && Date.now() < giveUpAtMs) {
      seen = read();
      setTimeout(check, quietMs);
      return;
    }
    done();
  };
  setTimeout(check, quietMs);
}

/**
 * Calls `done` after the first event-loop turn whose poll phase read nothing more
 * ({@link CLOSE_DRAIN_MAX_TURNS} turns at most). A timer or message handler may run before its
 * turn's poll phase has read the socket, so it always takes two turns.
 */
export function afterQueuedRead(read: () => number, done: () => void): void {
  let turns = 0;
  let last = read();
  const next = (): void => {
    turns++;
    if (turns < 2 || (read() !== last && turns < CLOSE_DRAIN_MAX_TURNS)) {
      last = read();
      setImmediate(next);
      return;
    }
    done();
  };
  setImmediate(next);
}
