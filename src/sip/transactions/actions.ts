/**
 * What the transaction core asks its adapter to do, and the context the transaction state
 * machines use to arm timers and emit those actions. Plain data: the core does no I/O.
 */
import type { Logger } from '../../common/log.ts';
import type { SipRequest, SipResponse } from '../model.ts';
import type { Remote } from '../transport.ts';
import type { SipTimers, TimerName } from './timers.ts';

/** Identifies one transaction for its whole life (never reused, unlike a branch). */
export type TransactionId = number;

/** One thing for the adapter to carry out, in order. */
export type TxAction =
  /** Send bytes to a remote. */
  | { readonly kind: 'send'; readonly remote: Remote; readonly bytes: Buffer }
  /**
   * A new request for the transaction user: `tx` is its server transaction, undefined for an ACK
   * to a 2xx (its own transaction, RFC 3261 section 17.2.1; RFC 6026 section 8.7).
   */
  | { readonly kind: 'request'; readonly request: SipRequest; readonly remote: Remote; readonly tx: TransactionId | undefined }
  /** A response for the user of client transaction `tx`: provisional, final, or a 2xx retransmission (RFC 6026 timer M). */
  | { readonly kind: 'response'; readonly response: SipResponse; readonly tx: TransactionId }
  /** A response that matches no client transaction (RFC 3261 section 18.1.2: passed to the core). */
  | { readonly kind: 'stray-response'; readonly response: SipResponse; readonly remote: Remote }
  /** Client transaction `tx` got no final response in time (timer B, F or C): its user treats it as 408. */
  | { readonly kind: 'timeout'; readonly tx: TransactionId }
  /** Transaction `tx` left the table. */
  | { readonly kind: 'terminated'; readonly tx: TransactionId; readonly side: 'server' | 'client' };

/** What the core returns from every call: actions to carry out and when to call `tick` next. */
export interface TxOutput {
  readonly actions: readonly TxAction[];
  /** Monotonic deadline of the earliest armed timer; undefined when none is armed. */
  readonly deadlineMs: number | undefined;
}

/** The part of the core a transaction state machine sees. */
export interface TxContext {
  readonly timers: SipTimers;
  readonly log: Logger;
  /** Arms (or re-arms) timer `name` of `owner` to fire `delayMs` after `nowMs`. */
  arm(owner: TimerOwner, name: TimerName, delayMs: number, nowMs: number): void;
  /** Cancels timer `name` of `owner`. */
  disarm(owner: TimerOwner, name: TimerName): void;
  emit(action: TxAction): void;
  /** Removes the transaction from the table (idempotent). */
  terminate(owner: TimerOwner): void;
  /** Adds one to a counter. */
  count(stat: keyof TxStats): void;
}

/** Counters of the core, for the health view and tests. */
export interface TxStats {
  /** New requests received (not retransmissions). */
  requests: number;
  /** Request retransmissions and ACKs matched to a server transaction. */
  retransmissions: number;
  /** Messages that did not parse. */
  malformed: number;
  responsesSent: number;
  /** Messages from sources outside the allowlist. */
  refusedNotAllowed: number;
  /** Requests answered 503 because the table (or the source's share) was full. */
  overloaded: number;
  /** Requests answered 500 by timer P because their user never answered. */
  stale: number;
  /** Requests callseal sent as client transactions (CANCELs included). */
  requestsSent: number;
  /** Retransmissions of those (timers A and E) and ACKs re-sent for retransmitted non-2xx responses. */
  requestRetransmissions: number;
  /** Client transactions that timed out (timers B, F and C). */
  clientTimeouts: number;
  /** Responses that matched no client transaction. */
  strayResponses: number;
}

/** A transaction as the timer queue and the table know it. */
export interface TimerOwner {
  readonly id: TransactionId;
  readonly side: 'server' | 'client';
  /** The armed timers: an entry in the queue is live only while it is the one stored here. */
  readonly armed: Map<TimerName, unknown>;
  onTimer(name: TimerName, nowMs: number): void;
  /** Called once by the core when the transaction leaves the table. */
  ended(): void;
}
