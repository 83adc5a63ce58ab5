/**
 * The transaction core: matches messages to server and client transactions (RFC 3261 sections
 * 17.1.3 and 17.2.3), creates them, runs their timers on a deadline queue and admits requests
 * (source allowlist: stateless 403; a bounded table with a share per source: stateless 503 with
 * Retry-After; malformed requests: the parser's error). No I/O and no real timers: every call
 * takes the monotonic time and returns the actions to carry out with the next deadline, so the
 * adapter (`../stack.ts`) owns sockets and timers and tests drive the core with plain values.
 */
import type { Logger } from '../../common/log.ts';
import { SipError, errorMessage } from '../../common/errors.ts';
import { getHeader, type SipHeader, type SipRequest, type SipResponse } from '../model.ts';
import { buildResponse, serializeMessage } from '../serialize.ts';
import type { Inbound, Remote } from '../transport.ts';
import { RefusalLog, type SourceAllowlist } from '../admission.ts';
import type { TimerOwner, TransactionId, TxAction, TxContext, TxOutput, TxStats } from './actions.ts';
import { ClientTransaction, cancelFor } from './client.ts';
import { clientKey, inviteKeyOf, transactionKey } from './keys.ts';
import { salvageRequest } from './salvage.ts';
import { ServerTransaction } from './server.ts';
import { DEFAULT_TIMERS, TimerQueue, type SipTimers, type TimerEntry } from './timers.ts';

/** Seconds an overloaded core asks a peer to wait (RFC 3261 section 21.5.4). */
const OVERLOAD_RETRY_AFTER_SEC = 5;

/** Options of {@link TransactionCore}. */
export interface TransactionCoreOptions {
  readonly log: Logger;
  readonly timers?: SipTimers;
  /** Who may send requests; others get a stateless 403 and leave no state. Everyone when omitted. */
  readonly allow?: SourceAllowlist | undefined;
  /** Most server transactions held; beyond it requests get a stateless 503. Default 20,000. */
  readonly maxServerTransactions?: number;
  /** Most server transactions of one source address; beyond it its requests get 503. Default a quarter of the table. */
  readonly maxServerTransactionsPerSource?: number;
  /** Most client transactions at once; beyond it a request is not sent. Default 10,000. */
  readonly maxClientTransactions?: number;
}

/** A server INVITE transaction still waiting for its final response. */
export interface PendingInvite {
  readonly tx: TransactionId;
  readonly request: SipRequest;
  readonly remote: Remote;
}

/** Server and client transactions, I/O-free. */
export class TransactionCore {
  readonly timers: SipTimers;
  /** Counters for the health view and tests. */
  readonly stats: TxStats = {
    requests: 0, retransmissions: 0, malformed: 0, responsesSent: 0, refusedNotAllowed: 0, overloaded: 0, stale: 0,
    requestsSent: 0, requestRetransmissions: 0, clientTimeouts: 0, strayResponses: 0,
  };
  readonly #log: Logger;
  readonly #allow: SourceAllowlist | undefined;
  readonly #maxServer: number;
  /** Server transactions one source address may hold: no SRC can take the whole table. */
  readonly #maxServerPerSource: number;
  readonly #maxClient: number;
  readonly #server = new Map<string, ServerTransaction>();
  readonly #client = new Map<string, ClientTransaction>();
  readonly #byId = new Map<TransactionId, ServerTransaction | ClientTransaction>();
  readonly #perSource = new Map<string, number>();
  readonly #queue = new TimerQueue<TimerOwner>();
  readonly #refusals = new RefusalLog();
  readonly #ctx: TxContext;
  #nextId = 1;
  #out: TxAction[] = [];
  #closed = false;

  constructor(options: TransactionCoreOptions) {
    this.#log = options.log;
    this.timers = options.timers ?? DEFAULT_TIMERS;
    this.#allow = options.allow;
    this.#maxServer = options.maxServerTransactions ?? 20_000;
    this.#maxServerPerSource = options.maxServerTransactionsPerSource ?? Math.max(1, Math.floor(this.#maxServer / 4));
    this.#maxClient = options.maxClientTransactions ?? 10_000;
    this.#ctx = {
      timers: this.timers,
      log: this.#log,
      arm: (owner, name, delayMs, nowMs) => { owner.armed.set(name, this.#queue.push(nowMs + delayMs, owner, name)); },
      disarm: (owner, name) => { owner.armed.delete(name); },
      emit: (action) => { this.#out.push(action); },
      terminate: (owner) => { this.#terminate(owner); },
      count: (stat) => { this.stats[stat]++; },
    };
  }

  /** Live server transactions. */
  get serverCount(): number {
    return this.#server.size;
  }

  /** Live client transactions. */
  get clientCount(): number {
    return this.#client.size;
  }

  /** Monotonic deadline of the earliest armed timer; undefined when none is armed. */
  nextDeadlineMs(): number | undefined {
    return this.#liveTop()?.atMs;
  }

  /** A message from the transport. */
  receive(inbound: Inbound, nowMs: number): TxOutput {
    return this.#run(() => {
      if (this.#closed) return;
      const remote = inbound.remote;
      if (this.#allow && !this.#allow.allows(remote.address) && !this.#answersUs(inbound)) {
        this.#refuseSource(inbound, nowMs);
        return;
      }
      if (!inbound.ok) {
        this.stats.malformed++;
        this.#rejectMalformed(inbound.error, inbound.raw, remote);
        return;
      }
      const msg = inbound.message;
      if (msg.kind === 'response') this.#response(msg, remote, nowMs);
      else this.#request(msg, remote, nowMs);
    });
  }

  /** A response of the user to server transaction `tx`; ignored once the transaction has ended. */
  respond(tx: TransactionId, response: SipResponse, nowMs: number): TxOutput {
    return this.#run(() => {
      const t = this.#byId.get(tx);
      if (t instanceof ServerTransaction) t.respond(response, nowMs);
      else this.#log.debug({ tx, status: response.status }, 'response for an ended transaction ignored');
    });
  }

  /**
   * Starts a client transaction for `request`, whose top Via carries a branch with the magic
   * cookie. `tx` is undefined when it is not sent: the table is full, the branch is in use or
   * missing, or the request cannot be serialized.
   */
  sendRequest(request: SipRequest, remote: Remote, nowMs: number): { readonly tx: TransactionId | undefined; readonly output: TxOutput } {
    let tx: TransactionId | undefined;
    const output = this.#run(() => { tx = this.#startClient(request, remote, nowMs); });
    return { tx, output };
  }

  /**
   * Cancels client INVITE transaction `tx` (RFC 3261 section 9.1): the CANCEL goes now when a
   * provisional response came, after the first one otherwise, and never once a final one came.
   */
  cancel(tx: TransactionId, nowMs: number): TxOutput {
    return this.#run(() => {
      const t = this.#byId.get(tx);
      if (!(t instanceof ClientTransaction) || t.method !== 'INVITE' || t.cancelWanted) return;
      t.cancelWanted = true;
      if (t.state === 'proceeding') this.#startCancel(t, nowMs);
    });
  }

  /** The INVITE server transaction a CANCEL cancels, while it waits for a final response (RFC 3261 section 9.2). */
  pendingInviteFor(cancel: SipRequest): PendingInvite | undefined {
    const t = this.#server.get(inviteKeyOf(cancel));
    if (t?.state !== 'proceeding' || !t.request) return undefined;
    return { tx: t.id, request: t.request, remote: t.remote };
  }

  /** Whether the INVITE server transaction a CANCEL names is still in the table (pending or answered). */
  hasInviteFor(cancel: SipRequest): boolean {
    return this.#server.has(inviteKeyOf(cancel));
  }

  /** Fires every timer due at `nowMs`. */
  tick(nowMs: number): TxOutput {
    return this.#run(() => {
      for (;;) {
        const entry = this.#liveTop();
        if (!entry || entry.atMs > nowMs) break;
        this.#queue.pop();
        entry.owner.armed.delete(entry.name);
        entry.owner.onTimer(entry.name, nowMs);
      }
    });
  }

  /** Drops every transaction and timer; later calls do nothing. Idempotent. */
  close(): TxOutput {
    return this.#run(() => {
      if (this.#closed) return;
      this.#closed = true;
      for (const t of [...this.#byId.values()]) this.#terminate(t);
      this.#queue.clear();
    });
  }

  /** Runs `fn` collecting the actions it emits; calls may nest (a user answering inside a delivery). */
  #run(fn: () => void): TxOutput {
    const outer = this.#out;
    this.#out = [];
    try {
      fn();
      return { actions: this.#out, deadlineMs: this.#liveTop()?.atMs };
    } finally {
      this.#out = outer;
    }
  }

  /** The earliest timer entry that is still armed, dropping stale ones on the way. */
  #liveTop(): TimerEntry<TimerOwner> | undefined {
    for (;;) {
      const top = this.#queue.peek();
      if (!top || top.owner.armed.get(top.name) === top) return top;
      this.#queue.pop();
    }
  }

  #request(msg: SipRequest, remote: Remote, nowMs: number): void {
    const key = transactionKey(msg);
    const existing = this.#server.get(key);
    if (existing) {
      this.stats.retransmissions++;
      if (existing.onRequest(msg, nowMs) === 'to-user') this.#out.push({ kind: 'request', request: msg, remote, tx: undefined });
      return;
    }
    if (msg.method === 'ACK') {
      // An ACK for a 2xx is its own transaction (RFC 3261 section 17.2.1): pass it to the user.
      this.#out.push({ kind: 'request', request: msg, remote, tx: undefined });
      return;
    }
    this.stats.requests++;
    const held = this.#perSource.get(remote.address) ?? 0;
    if (this.#server.size >= this.#maxServer || held >= this.#maxServerPerSource) {
      this.#overloaded(msg, remote, nowMs);
      return;
    }
    const tx = new ServerTransaction(this.#ctx, this.#nextId++, key, msg, remote);
    this.#server.set(key, tx);
    this.#byId.set(tx.id, tx);
    this.#perSource.set(remote.address, held + 1);
    if (tx.start(nowMs)) this.#out.push({ kind: 'request', request: msg, remote, tx: tx.id });
  }

  #response(msg: SipResponse, remote: Remote, nowMs: number): void {
    const key = clientKey(msg);
    const tx = key === undefined ? undefined : this.#client.get(key);
    if (!tx) {
      this.stats.strayResponses++;
      this.#out.push({ kind: 'stray-response', response: msg, remote });
      return;
    }
    if (tx.onResponse(msg, nowMs)) this.#startCancel(tx, nowMs);
  }

  #startClient(request: SipRequest, remote: Remote, nowMs: number): TransactionId | undefined {
    if (this.#closed) return undefined;
    const key = clientKey(request);
    const callId = getHeader(request, 'call-id');
    if (key === undefined || this.#client.has(key)) {
      this.#log.warn({ method: request.method, callId, key }, 'request without a fresh branch not sent');
      return undefined;
    }
    if (this.#client.size >= this.#maxClient) {
      this.#log.warn({ code: 'CS_SIP_OVERLOADED', method: request.method, callId, transactions: this.#client.size }, 'client transaction table full; request not sent');
      return undefined;
    }
    let bytes: Buffer;
    try {
      bytes = serializeMessage(request);
    } catch (err) {
      this.#log.warn({ err: errorMessage(err), method: request.method, callId }, 'request cannot be serialized; not sent');
      return undefined;
    }
    const tx = new ClientTransaction(this.#ctx, this.#nextId++, key, request, bytes, remote);
    this.#client.set(key, tx);
    this.#byId.set(tx.id, tx);
    tx.start(nowMs);
    return tx.id;
  }

  #startCancel(invite: ClientTransaction, nowMs: number): void {
    this.#startClient(cancelFor(invite.request), invite.remote, nowMs);
  }

  #terminate(owner: TimerOwner): void {
    const t = this.#byId.get(owner.id);
    if (t !== owner) return;
    this.#byId.delete(t.id);
    t.armed.clear();
    if (t instanceof ServerTransaction) {
      if (this.#server.get(t.key) === t) this.#server.delete(t.key);
      const held = (this.#perSource.get(t.remote.address) ?? 1) - 1;
      if (held > 0) this.#perSource.set(t.remote.address, held);
      else this.#perSource.delete(t.remote.address);
    } else if (this.#client.get(t.key) === t) {
      this.#client.delete(t.key);
    }
    t.ended();
    this.#out.push({ kind: 'terminated', tx: t.id, side: t.side });
  }

  /** A response to a request callseal sent to this very address passes the allowlist: the peer was chosen by callseal. */
  #answersUs(inbound: Inbound): boolean {
    if (!inbound.ok || inbound.message.kind !== 'response') return false;
    const key = clientKey(inbound.message);
    const tx = key === undefined ? undefined : this.#client.get(key);
    return tx?.remote.address === inbound.remote.address;
  }

  /**
   * A message from a source outside the allowlist: requests get a stateless 403 (no transaction,
   * so a flood leaves no state), responses and unparsable bytes are dropped; all are counted and
   * logged with the source, at most every few seconds per source.
   */
  #refuseSource(inbound: Inbound, nowMs: number): void {
    this.stats.refusedNotAllowed++;
    const remote = inbound.remote;
    const request = inbound.ok && inbound.message.kind === 'request' ? inbound.message : undefined;
    const suppressed = this.#refusals.shouldLog(`forbidden|${remote.address}`, nowMs);
    if (suppressed !== undefined) {
      this.#log.warn({ code: 'CS_SIP_FORBIDDEN', remote, method: request?.method, callId: request ? getHeader(request, 'call-id') : undefined, suppressed }, 'SIP from a source outside sip.allow refused');
    }
    if (!request || request.method === 'ACK') return;
    this.#sendStateless(buildResponse(request, 403, 'Forbidden', { headers: [warningHeader('source address not allowed (sip.allow)')] }), remote);
  }

  /** The transaction table is full: a stateless 503 with Retry-After (RFC 3261 section 21.5.4). */
  #overloaded(msg: SipRequest, remote: Remote, nowMs: number): void {
    this.stats.overloaded++;
    const suppressed = this.#refusals.shouldLog(`overloaded|${remote.address}`, nowMs);
    if (suppressed !== undefined) {
      this.#log.warn({ code: 'CS_SIP_OVERLOADED', remote, method: msg.method, transactions: this.#server.size, suppressed }, 'SIP transaction table full; request answered 503');
    }
    this.#sendStateless(buildResponse(msg, 503, 'Service Unavailable', {
      headers: [{ name: 'retry-after', value: String(OVERLOAD_RETRY_AFTER_SEC) }, warningHeader('too many transactions')],
    }), remote);
  }

  #sendStateless(response: SipResponse, remote: Remote): void {
    let bytes: Buffer;
    try {
      bytes = serializeMessage(response);
    } catch (err) {
      this.#log.debug({ err: errorMessage(err), remote, status: response.status }, 'stateless response cannot be serialized; dropped');
      return;
    }
    this.stats.responsesSent++;
    this.#out.push({ kind: 'send', remote, bytes });
  }

  #rejectMalformed(error: unknown, raw: Buffer, remote: Remote): void {
    // RFC 3261 section 16.3 and RFC 4475: a request gets the parser's status when enough of it is
    // readable to build a response (Via, From, To, Call-ID, CSeq); anything else is dropped.
    const status = error instanceof SipError ? error.status : 400;
    const reason = error instanceof SipError ? error.reason : 'Bad Request';
    const salvage = salvageRequest(raw);
    this.#log.info({ err: errorMessage(error), remote, status, answered: salvage !== undefined }, 'malformed SIP message');
    if (!salvage) return;
    const response = buildResponse(salvage, status, reason, { headers: [warningHeader(errorMessage(error))] });
    try {
      this.#out.push({ kind: 'send', remote, bytes: serializeMessage(response) });
    } catch (err) {
      this.#log.debug({ err: errorMessage(err), remote, status }, 'response to a malformed request cannot be serialized; dropped');
    }
  }
}

/** A Warning header with code 399 and callseal as agent (RFC 3261 section 20.43), text made safe. */
export function warningHeader(text: string): SipHeader {
  return { name: 'warning', value: `399 callseal "${text.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` };
}
