/**
 * The SIP stack: the thin adapter around the I/O-free transaction core (`transactions/`). It owns
 * the transport and the timers (a {@link Scheduler}), feeds the core every inbound message and
 * carries out what the core returns: bytes to send, requests for the transaction user, responses
 * for the requests callseal sent. It writes the top Via of every request callseal originates
 * (sent-by of the transport, a fresh branch with the magic cookie, `rport`), so no layer above
 * `sip/` writes a Via. Dialogs and the UAS core sit above it (`dialog.ts`, `uas.ts`).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import { systemClock, type Scheduler, type TimerHandle } from '../common/clock.ts';
import { InvalidStateError, errorMessage } from '../common/errors.ts';
import { getHeader, type SipHeader, type SipRequest, type SipResponse } from './model.ts';
import { buildResponse, serializeMessage } from './serialize.ts';
import type { Inbound, Remote, SipWire, TransportName } from './transport.ts';
import type { SourceAllowlist } from './admission.ts';
import { TransactionCore } from './transactions/core.ts';
import type { TransactionId, TxOutput, TxStats } from './transactions/actions.ts';
import { MAGIC_COOKIE } from './transactions/keys.ts';
import { DEFAULT_TIMERS, type SipTimers } from './transactions/timers.ts';

export { DEFAULT_TIMERS, type SipTimers } from './transactions/timers.ts';
export { transactionKey } from './transactions/keys.ts';

/** Admission and table bounds of {@link SipStack} (issue 3), and where its requests say they come from. */
export interface SipStackOptions {
  /** Who may send requests; others get a stateless 403 and leave no state. Everyone when omitted. */
  readonly allow?: SourceAllowlist | undefined;
  /** Most server transactions held; beyond it requests get a stateless 503. Default 20,000. */
  readonly maxServerTransactions?: number;
  /** Most server transactions of one source address; beyond it its requests get 503. Default a quarter of the table. */
  readonly maxServerTransactionsPerSource?: number;
  /** Most client transactions at once; beyond it a request is not sent (a local 503). Default 10,000. */
  readonly maxClientTransactions?: number;
  /** Host of the Via sent-by (the advertised address); the transport's bind host when omitted. */
  readonly viaHost?: string | undefined;
  /** Timers; the system's (unref'd `setTimeout`) when omitted. */
  readonly scheduler?: Scheduler | undefined;
}

/** Options for a response. */
export interface RespondOptions {
  readonly toTag?: string;
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
}

/** A new request handed to the transaction user, with the means to answer it. */
export interface ServerRequest {
  readonly message: SipRequest;
  readonly remote: Remote;
  /** Sends a response through the server transaction (an ACK has none: nothing is sent). */
  respond(status: number, reason: string, options?: RespondOptions): SipResponse;
}

/** What the transaction user implements. */
export interface TransactionUser {
  /** A new request (not a retransmission); ACKs for 2xx and CANCELs also arrive here. */
  onRequest(request: ServerRequest): void;
  /** A response that matches no client transaction, such as a 2xx retransmitted after timer M (RFC 3261 section 18.1.2). */
  onStrayResponse?(response: SipResponse, remote: Remote): void;
}

/** Options of {@link SipStack.request}. */
export interface ClientRequestOptions {
  /** Every response as it comes: provisional ones, the final one, and 2xx retransmissions of an INVITE. */
  readonly onResponse?: (response: SipResponse) => void;
}

/** A request callseal sent, as a client transaction. */
export interface ClientRequest {
  /** The request as sent, with callseal's Via. */
  readonly request: SipRequest;
  /**
   * The final response: the peer's, or one made here (see {@link isLocalResponse}): 408 when the
   * transaction timed out, 503 when it could not be sent. Rejects with `InvalidStateError` when
   * the stack closes first.
   */
  readonly final: Promise<SipResponse>;
  /** Cancels an INVITE (RFC 3261 section 9.1); nothing for other methods or after the final response. */
  cancel(): void;
}

interface PendingClient {
  readonly request: SipRequest;
  readonly resolve: (r: SipResponse) => void;
  readonly reject: (err: unknown) => void;
  readonly onResponse: ((r: SipResponse) => void) | undefined;
  settled: boolean;
}

/** Responses made by the stack itself rather than received. */
const localResponses = new WeakSet<SipResponse>();

/** Whether a final response was made by callseal (a timeout's 408, a 503 for a request not sent) rather than received. */
export function isLocalResponse(response: SipResponse): boolean {
  return localResponses.has(response);
}

/** A random token for tags and branches. */
export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** Transactions over a transport. */
export class SipStack {
  readonly #wire: SipWire;
  readonly #log: Logger;
  readonly #core: TransactionCore;
  readonly #scheduler: Scheduler;
  readonly #viaHost: string | undefined;
  readonly #clients = new Map<TransactionId, PendingClient>();
  #armed: { readonly atMs: number; readonly handle: TimerHandle } | undefined;
  #user: TransactionUser | undefined;
  #closed = false;

  constructor(transport: SipWire, log: Logger, timers: SipTimers = DEFAULT_TIMERS, options: SipStackOptions = {}) {
    this.#wire = transport;
    this.#log = log;
    this.#scheduler = options.scheduler ?? systemClock;
    this.#viaHost = options.viaHost;
    this.#core = new TransactionCore({
      log, timers, allow: options.allow, maxServerTransactions: options.maxServerTransactions ?? 20_000,
      ...(options.maxServerTransactionsPerSource !== undefined ? { maxServerTransactionsPerSource: options.maxServerTransactionsPerSource } : {}),
      maxClientTransactions: options.maxClientTransactions ?? 10_000,
    });
    transport.onInbound((inbound) => {
      this.#inbound(inbound);
    });
  }

  /**
   * Counters for the health view and tests: `refusedNotAllowed` counts messages from sources
   * outside the allowlist, `overloaded` requests answered 503 because the table was full.
   */
  get stats(): TxStats {
    return this.#core.stats;
  }

  /** Sets the transaction user. */
  setUser(user: TransactionUser): void {
    this.#user = user;
  }

  /** Number of live server transactions (for tests and health). */
  get serverTransactionCount(): number {
    return this.#core.serverCount;
  }

  /** Number of live client transactions (for tests and health). */
  get clientTransactionCount(): number {
    return this.#core.clientCount;
  }

  /** The timer values in use (the dialogs' 2xx retransmissions follow them too). */
  get timers(): SipTimers {
    return this.#core.timers;
  }

  /** The scheduler the stack's timers run on (dialogs use it too). */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  #inbound(inbound: Inbound): void {
    this.#carryOut(this.#core.receive(inbound, this.#scheduler.monoMs()));
  }

  /** A CANCEL's INVITE transaction still waiting for a final response, if any (RFC 3261 section 9.2). */
  pendingInviteFor(cancel: SipRequest): ServerRequest | undefined {
    const pending = this.#core.pendingInviteFor(cancel);
    return pending ? this.#serverRequest(pending.request, pending.remote, pending.tx) : undefined;
  }

  /** Whether the INVITE transaction a CANCEL names exists, answered or not (RFC 3261 section 9.2: else 481). */
  hasInviteFor(cancel: SipRequest): boolean {
    return this.#core.hasInviteFor(cancel);
  }

  /**
   * Sends a request as a client transaction (RFC 3261 section 17.1). Any Via of `request` is
   * replaced by callseal's own: a user agent's request carries exactly one.
   */
  request(request: SipRequest, remote: Remote, options: ClientRequestOptions = {}): ClientRequest {
    const sent = this.#withVia(request, remote.transport);
    let txId: TransactionId | undefined;
    const final = new Promise<SipResponse>((resolve, reject) => {
      if (this.#closed) {
        reject(new InvalidStateError('CS_STATE_CLOSED', `SIP stack closed [method:${request.method}]`));
        return;
      }
      const { tx, output } = this.#core.sendRequest(sent, remote, this.#scheduler.monoMs());
      txId = tx;
      if (tx === undefined) {
        resolve(local(sent, 503, 'Service Unavailable', 'request not sent: too many client transactions or not serializable'));
        return;
      }
      this.#clients.set(tx, { request: sent, resolve, reject, onResponse: options.onResponse, settled: false });
      this.#carryOut(output);
    });
    return {
      request: sent,
      final,
      cancel: () => {
        if (txId !== undefined && !this.#closed) this.#carryOut(this.#core.cancel(txId, this.#scheduler.monoMs()));
      },
    };
  }

  /** Sends a request as a non-INVITE client transaction; resolves with the final response, or undefined on timeout or when not sent. */
  sendRequest(request: SipRequest, remote: Remote): Promise<SipResponse | undefined> {
    return this.request(request, remote).final.then(
      (r) => (isLocalResponse(r) ? undefined : r),
      () => undefined,
    );
  }

  /**
   * Sends a request outside any transaction: the ACK for a 2xx (RFC 3261 section 13.2.2.4),
   * with callseal's Via and a fresh branch. Returns the request as sent; undefined when it
   * cannot be serialized or the stack is closed.
   */
  sendStateless(request: SipRequest, remote: Remote, options: { readonly again?: boolean } = {}): SipRequest | undefined {
    if (this.#closed) return undefined;
    // `again` re-sends a request this method returned before, Via and all (an ACK for a retransmitted 2xx).
    const sent = options.again === true ? request : this.#withVia(request, remote.transport);
    try {
      this.#wire.send(remote, serializeMessage(sent));
    } catch (err) {
      this.#log.warn({ err: errorMessage(err), method: request.method, callId: getHeader(request, 'call-id') }, 'request cannot be serialized; not sent');
      return undefined;
    }
    return sent;
  }

  /** `request` with callseal's Via on top and no other (sent-by per transport, RFC 3581 rport). */
  #withVia(request: SipRequest, transport: TransportName): SipRequest {
    const sentBy = this.#wire.sentBy(transport);
    const host = this.#viaHost ?? sentBy?.host ?? '127.0.0.1';
    const port = sentBy?.port ?? (transport === 'TLS' ? 5061 : 5060);
    const via = `SIP/2.0/${transport} ${host.includes(':') ? `[${host}]` : host}:${port};branch=${MAGIC_COOKIE}${randomToken(10)};rport`;
    return { ...request, headers: [{ name: 'via', value: via }, ...request.headers.filter((h) => h.name !== 'via')] };
  }

  #serverRequest(msg: SipRequest, remote: Remote, tx: TransactionId | undefined): ServerRequest {
    return {
      message: msg,
      remote,
      respond: (status, reason, options = {}) => {
        const response = buildResponse(msg, status, reason, options);
        if (tx !== undefined) this.#carryOut(this.#core.respond(tx, response, this.#scheduler.monoMs()));
        return response;
      },
    };
  }

  #carryOut(output: TxOutput): void {
    for (const action of output.actions) {
      switch (action.kind) {
        case 'send':
          this.#wire.send(action.remote, action.bytes);
          break;
        case 'request':
          this.#deliver(action.request, action.remote, action.tx);
          break;
        case 'response': {
          const pending = this.#clients.get(action.tx);
          if (!pending) break;
          this.#notify(pending, action.response);
          if (action.response.status >= 200) this.#settle(pending, action.response);
          break;
        }
        case 'timeout': {
          const pending = this.#clients.get(action.tx);
          // RFC 3261 section 8.1.3.1: a transaction timeout is treated as a 408.
          if (pending) this.#settle(pending, local(pending.request, 408, 'Request Timeout', 'no final response in time'));
          break;
        }
        case 'terminated': {
          if (action.side !== 'client') break;
          const pending = this.#clients.get(action.tx);
          this.#clients.delete(action.tx);
          if (pending && !pending.settled) {
            pending.settled = true;
            pending.reject(new InvalidStateError('CS_STATE_CLOSED', `SIP stack closed before the final response [method:${pending.request.method}]`));
          }
          break;
        }
        case 'stray-response':
          try {
            this.#user?.onStrayResponse?.(action.response, action.remote);
          } catch (err) {
            this.#log.error({ err: errorMessage(err), status: action.response.status }, 'stray response handler failed');
          }
          break;
      }
    }
    this.#arm();
  }

  #notify(pending: PendingClient, response: SipResponse): void {
    try {
      pending.onResponse?.(response);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), method: pending.request.method, status: response.status }, 'response handler failed');
    }
  }

  #settle(pending: PendingClient, response: SipResponse): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.resolve(response);
  }

  #deliver(msg: SipRequest, remote: Remote, tx: TransactionId | undefined): void {
    const request = this.#serverRequest(msg, remote, tx);
    try {
      this.#user?.onRequest(request);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), callId: getHeader(msg, 'call-id'), method: msg.method }, 'request handler failed');
      // The core ignores this when a final response went out already.
      if (tx !== undefined) request.respond(500, 'Server Internal Error');
    }
  }

  /** Keeps one scheduler timer at the core's next deadline. */
  #arm(): void {
    if (this.#closed) return;
    const deadline = this.#core.nextDeadlineMs();
    if (deadline === undefined) {
      this.#armed?.handle.cancel();
      this.#armed = undefined;
      return;
    }
    if (this.#armed && this.#armed.atMs <= deadline) return;
    this.#armed?.handle.cancel();
    const handle = this.#scheduler.schedule(deadline - this.#scheduler.monoMs(), () => {
      this.#armed = undefined;
      this.#carryOut(this.#core.tick(this.#scheduler.monoMs()));
    });
    this.#armed = { atMs: deadline, handle };
  }

  /** Stops every timer; pending requests reject with `InvalidStateError`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#armed?.handle.cancel();
    this.#armed = undefined;
    this.#carryOut(this.#core.close());
  }
}

/** A final response made here for `request` (a timeout, a request not sent), with a Warning saying why. */
function local(request: SipRequest, status: number, reason: string, why: string): SipResponse {
  const r = buildResponse(request, status, reason, { headers: [{ name: 'warning', value: `399 callseal "${why}"` }] });
  localResponses.add(r);
  return r;
}
