/**
 * SIP transaction layer for a UAS (RFC 3261 section 17.2, with RFC 6026's Accepted state), plus a
 * non-INVITE client transaction for the BYEs callseal sends. Absorbs retransmissions, answers
 * malformed requests with the error the parser chose, and hands each new request to one handler.
 * Dialog state lives above this layer (`siprec/`).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import { SipError, errorMessage } from '../common/errors.ts';
import {
  buildResponse, getHeader, parseCSeq, parseVia, serializeMessage,
  type SipHeader, type SipRequest, type SipResponse,
} from './message.ts';
import type { Inbound, Remote, SipTransport } from './transport.ts';
import { RefusalLog, type SourceAllowlist } from './admission.ts';

/** RFC 3261 timer values in milliseconds (section 17.1.1.1 and table 4). */
export interface SipTimers {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

/** The defaults of RFC 3261. */
export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };

/** Admission and table bounds of {@link SipStack} (issue 3). */
export interface SipStackOptions {
  /** Who may send requests; others get a stateless 403 and leave no state. Everyone when omitted. */
  readonly allow?: SourceAllowlist | undefined;
  /** Most server transactions held; beyond it requests get a stateless 503. Default 20,000. */
  readonly maxServerTransactions?: number;
  /** Most server transactions of one source address; beyond it its requests get 503. Default a quarter of the table. */
  readonly maxServerTransactionsPerSource?: number;
  /** Most client transactions (BYEs callseal sends) at once; beyond it a request is not sent. Default 10,000. */
  readonly maxClientTransactions?: number;
}

/** A server transaction that got no final response from its user this long is answered 500 (in T1 units). */
const PROCEEDING_LIMIT_T1 = 360;
/** Seconds an overloaded stack asks a peer to wait (RFC 3261 section 21.5.4). */
const OVERLOAD_RETRY_AFTER_SEC = 5;

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
  /** Sends a response through the server transaction. */
  respond(status: number, reason: string, options?: RespondOptions): SipResponse;
}

/** What the transaction user implements. */
export interface TransactionUser {
  /** A new request (not a retransmission); ACKs for 2xx and CANCELs also arrive here. */
  onRequest(request: ServerRequest): void;
}

type ServerState = 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

interface ServerTransaction {
  readonly key: string;
  readonly method: string;
  readonly remote: Remote;
  /** The request, until the final response: afterwards only the response is kept, so a full table stays small. */
  request: SipRequest | undefined;
  state: ServerState;
  lastResponse: Buffer | undefined;
  finalStatus: number;
  timers: NodeJS.Timeout[];
}

interface ClientTransaction {
  readonly resolve: (response: SipResponse | undefined) => void;
  readonly timers: NodeJS.Timeout[];
}

/** A random token for tags and branches. */
export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** Server transactions over a transport. */
export class SipStack {
  readonly #transport: SipTransport;
  readonly #log: Logger;
  readonly #timers: SipTimers;
  readonly #server = new Map<string, ServerTransaction>();
  readonly #client = new Map<string, ClientTransaction>();
  readonly #allow: SourceAllowlist | undefined;
  readonly #maxServer: number;
  /** Server transactions one source address may hold: no SRC can take the whole table. */
  readonly #maxServerPerSource: number;
  readonly #perSource = new Map<string, number>();
  readonly #maxClient: number;
  readonly #refusals = new RefusalLog();
  #user: TransactionUser | undefined;
  #closed = false;
  /**
   * Counters for the health view and tests: `refusedNotAllowed` counts messages from sources
   * outside the allowlist, `overloaded` requests answered 503 because the table was full.
   */
  readonly stats = { requests: 0, retransmissions: 0, malformed: 0, responsesSent: 0, refusedNotAllowed: 0, overloaded: 0, stale: 0 };

  constructor(transport: SipTransport, log: Logger, timers: SipTimers = DEFAULT_TIMERS, options: SipStackOptions = {}) {
    this.#transport = transport;
    this.#log = log;
    this.#timers = timers;
    this.#allow = options.allow;
    this.#maxServer = options.maxServerTransactions ?? 20_000;
    this.#maxServerPerSource = options.maxServerTransactionsPerSource ?? Math.max(1, Math.floor(this.#maxServer / 4));
    this.#maxClient = options.maxClientTransactions ?? 10_000;
    transport.onInbound((inbound) => {
      this.#inbound(inbound);
    });
  }

  /** Sets the transaction user. */
  setUser(user: TransactionUser): void {
    this.#user = user;
  }

  /** Number of live server transactions (for tests and health). */
  get serverTransactionCount(): number {
    return this.#server.size;
  }

  /** Number of live client transactions (for tests and health). */
  get clientTransactionCount(): number {
    return this.#client.size;
  }

  /** The timer values in use (the transaction user's 2xx retransmissions follow them too). */
  get timers(): SipTimers {
    return this.#timers;
  }

  #inbound(inbound: Inbound): void {
    if (this.#closed) return;
    if (this.#allow && !this.#allow.allows(inbound.remote.address)) {
      this.#refuseSource(inbound);
      return;
    }
    if (!inbound.ok) {
      this.stats.malformed++;
      this.#rejectMalformed(inbound.error, inbound.raw, inbound.remote);
      return;
    }
    const msg = inbound.message;
    if (msg.kind === 'response') {
      this.#clientResponse(msg);
      return;
    }
    const key = transactionKey(msg);
    const existing = this.#server.get(key);
    if (existing) {
      this.#retransmission(existing, msg);
      return;
    }
    if (msg.method === 'ACK') {
      // An ACK for a 2xx is its own transaction (RFC 3261 section 17.2.1): pass it to the user.
      this.#deliver(msg, inbound.remote, undefined);
      return;
    }
    this.stats.requests++;
    const held = this.#perSource.get(inbound.remote.address) ?? 0;
    if (this.#server.size >= this.#maxServer || held >= this.#maxServerPerSource) {
      this.#overloaded(msg, inbound.remote);
      return;
    }
    const tx: ServerTransaction = {
      key, method: msg.method, remote: inbound.remote, request: msg, state: 'proceeding',
      lastResponse: undefined, finalStatus: 0, timers: [],
    };
    this.#server.set(key, tx);
    this.#perSource.set(inbound.remote.address, held + 1);
    // Every entry has a timer from its first moment: a request its user never answers is answered
    // 500 and then leaves the table like any other.
    this.#later(tx, PROCEEDING_LIMIT_T1 * this.#timers.t1, () => {
      if (tx.state !== 'proceeding' || !tx.request) return;
      this.stats.stale++;
      this.#log.warn({ key: tx.key, method: tx.method, remote: tx.remote }, 'request got no final response in time; answering 500');
      this.#respond(tx, buildResponse(tx.request, 500, 'Server Internal Error'));
    });
    if (msg.method === 'INVITE') {
      // RFC 3261 section 17.2.1: send 100 Trying at once; we answer fast, but a TU may wait.
      if (!this.#send(tx, buildResponse(msg, 100, 'Trying'))) return;
    }
    this.#deliver(msg, inbound.remote, tx);
  }

  #deliver(msg: SipRequest, remote: Remote, tx: ServerTransaction | undefined): void {
    const request: ServerRequest = {
      message: msg,
      remote,
      respond: (status, reason, options = {}) => {
        const response = buildResponse(msg, status, reason, options);
        if (tx) this.#respond(tx, response);
        return response;
      },
    };
    try {
      this.#user?.onRequest(request);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), callId: getHeader(msg, 'call-id'), method: msg.method }, 'request handler failed');
      if (tx && tx.finalStatus === 0) this.#respond(tx, buildResponse(msg, 500, 'Server Internal Error'));
    }
  }

  #retransmission(tx: ServerTransaction, msg: SipRequest): void {
    this.stats.retransmissions++;
    if (msg.method === 'ACK') {
      if (tx.state === 'completed') {
        // RFC 3261 section 17.2.1: ACK for a non-2xx final response stops Timer G, starts Timer I.
        tx.state = 'confirmed';
        this.#clearTimers(tx);
        this.#later(tx, tx.remote.transport === 'UDP' ? this.#timers.t4 : 0, () => { this.#terminate(tx); });
      } else if (tx.state === 'accepted') {
        // RFC 6026 section 8.7: an ACK for a 2xx goes to the TU.
        this.#deliver(msg, tx.remote, undefined);
      }
      return;
    }
    if (tx.lastResponse) this.#transport.send(tx.remote, tx.lastResponse);
  }

  #respond(tx: ServerTransaction, response: SipResponse): void {
    if (tx.state === 'accepted' && response.status === tx.finalStatus && tx.lastResponse) {
      // RFC 3261 section 13.3.1.4: the TU retransmits its 2xx until the ACK comes; the
      // retransmission is the very response sent first (same To tag, same body).
      this.#transport.send(tx.remote, tx.lastResponse);
      return;
    }
    if (tx.state === 'terminated' || tx.finalStatus >= 200) {
      this.#log.debug({ key: tx.key, status: response.status }, 'response after final response ignored');
      return;
    }
    if (!this.#send(tx, response) || response.status < 200) return;
    tx.finalStatus = response.status;
    tx.request = undefined;
    const reliable = tx.remote.transport !== 'UDP';
    const { t1, t2 } = this.#timers;
    if (tx.method === 'INVITE') {
      if (response.status < 300) {
        // RFC 6026 section 7.1: Accepted state absorbs INVITE retransmissions for 64*T1 (Timer L).
        tx.state = 'accepted';
        this.#later(tx, 64 * t1, () => { this.#terminate(tx); });
      } else {
        tx.state = 'completed';
        if (!reliable) {
          let interval = t1;
          const retransmit = (): void => {
            if (tx.state !== 'completed' || !tx.lastResponse) return;
            this.#transport.send(tx.remote, tx.lastResponse);
            interval = Math.min(interval * 2, t2);
            this.#later(tx, interval, retransmit);
          };
          this.#later(tx, interval, retransmit);
        }
        // Timer H: give up waiting for the ACK.
        this.#later(tx, 64 * t1, () => { this.#terminate(tx); });
      }
    } else {
      tx.state = 'completed';
      // Timer J: 64*T1 for unreliable transports, zero for reliable ones.
      this.#later(tx, reliable ? 0 : 64 * t1, () => { this.#terminate(tx); });
    }
  }

  /**
   * Sends a response of the transaction; false when it cannot be serialized (a request whose
   * headers cannot be echoed), and then the transaction ends at once instead of waiting forever.
   */
  #send(tx: ServerTransaction, response: SipResponse): boolean {
    let bytes: Buffer;
    try {
      bytes = serializeMessage(response);
    } catch (err) {
      this.#log.warn({ err: errorMessage(err), key: tx.key, status: response.status, remote: tx.remote }, 'response cannot be serialized; transaction ended');
      this.#terminate(tx);
      return false;
    }
    tx.lastResponse = bytes;
    this.stats.responsesSent++;
    this.#transport.send(tx.remote, bytes);
    return true;
  }

  /** A CANCEL's INVITE transaction still waiting for a final response, if any (RFC 3261 section 9.2). */
  pendingInviteFor(cancel: SipRequest): ServerRequest | undefined {
    const key = transactionKey({ ...cancel, method: 'INVITE' });
    const tx = this.#server.get(key);
    const request = tx?.request;
    if (tx?.state !== 'proceeding' || !request) return undefined;
    return {
      message: request,
      remote: tx.remote,
      respond: (status, reason, options = {}) => {
        const response = buildResponse(request, status, reason, options);
        this.#respond(tx, response);
        return response;
      },
    };
  }

  #later(tx: ServerTransaction, ms: number, fn: () => void): void {
    tx.timers.push(setTimeout(fn, ms).unref());
  }

  #clearTimers(tx: ServerTransaction): void {
    for (const t of tx.timers) clearTimeout(t);
    tx.timers = [];
  }

  #terminate(tx: ServerTransaction): void {
    tx.state = 'terminated';
    this.#clearTimers(tx);
    if (this.#server.delete(tx.key)) {
      const held = (this.#perSource.get(tx.remote.address) ?? 1) - 1;
      if (held > 0) this.#perSource.set(tx.remote.address, held);
      else this.#perSource.delete(tx.remote.address);
    }
  }

  /**
   * A message from a source outside the allowlist: requests get a stateless 403 (no transaction,
   * so a flood leaves no state), responses and unparsable bytes are dropped; all are counted and
   * logged with the source, at most every few seconds per source.
   */
  #refuseSource(inbound: Inbound): void {
    this.stats.refusedNotAllowed++;
    const remote = inbound.remote;
    const request = inbound.ok && inbound.message.kind === 'request' ? inbound.message : undefined;
    const suppressed = this.#refusals.shouldLog(`forbidden|${remote.address}`, Date.now());
    if (suppressed !== undefined) {
      this.#log.warn({ code: 'CS_SIP_FORBIDDEN', remote, method: request?.method, callId: request ? getHeader(request, 'call-id') : undefined, suppressed }, 'SIP from a source outside sip.allow refused');
    }
    if (!request || request.method === 'ACK') return;
    this.#sendStateless(buildResponse(request, 403, 'Forbidden', { headers: [warningHeader('source address not allowed (sip.allow)')] }), remote);
  }

  /** The transaction table is full: a stateless 503 with Retry-After (RFC 3261 section 21.5.4). */
  #overloaded(msg: SipRequest, remote: Remote): void {
    this.stats.overloaded++;
    const suppressed = this.#refusals.shouldLog(`overloaded|${remote.address}`, Date.now());
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
    this.#transport.send(remote, bytes);
  }

  #rejectMalformed(error: unknown, raw: Buffer, remote: Remote): void {
    // RFC 3261 section 16.3 and RFC 4475: a request gets the parser's status when enough of it is
    // readable to build a response (Via, From, To, Call-ID, CSeq); anything else is dropped.
    const status = error instanceof SipError ? error.status : 400;
    const reason = error instanceof SipError ? error.reason : 'Bad Request';
    const salvage = salvageRequest(raw);
    this.#log.info({ err: errorMessage(error), remote, status, answered: salvage !== undefined }, 'malformed SIP message');
    if (!salvage) return;
    const response = buildResponse(salvage, status, reason, {
      headers: [{ name: 'warning', value: `399 callseal "${errorMessage(error).replace(/["\\\r\n]/g, "'").slice(0, 200)}"` }],
    });
    this.#transport.send(remote, serializeMessage(response));
  }

  /** Sends a request as a non-INVITE client transaction (RFC 3261 section 17.1.2); resolves with the final response or undefined on Timer F. */
  sendRequest(request: SipRequest, remote: Remote): Promise<SipResponse | undefined> {
    const via = getHeader(request, 'via') ?? '';
    const branch = /;branch=([^;\s]+)/i.exec(via)?.[1] ?? '';
    const key = `${branch}|${request.method}`;
    const bytes = serializeMessage(request);
    if (this.#client.size >= this.#maxClient) {
      this.#log.warn({ method: request.method, callId: getHeader(request, 'call-id'), transactions: this.#client.size }, 'client transaction table full; request not sent');
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const tx: ClientTransaction = {
        resolve: (r) => {
          for (const t of tx.timers) clearTimeout(t);
          this.#client.delete(key);
          resolve(r);
        },
        timers: [],
      };
      this.#client.set(key, tx);
      this.#transport.send(remote, bytes);
      const { t1, t2 } = this.#timers;
      if (remote.transport === 'UDP') {
        let interval = t1;
        const retransmit = (): void => {
          if (!this.#client.has(key)) return;
          this.#transport.send(remote, bytes);
          interval = Math.min(interval * 2, t2);
          tx.timers.push(setTimeout(retransmit, interval).unref());
        };
        tx.timers.push(setTimeout(retransmit, interval).unref());
      }
      tx.timers.push(setTimeout(() => { tx.resolve(undefined); }, 64 * t1).unref());
    });
  }

  #clientResponse(response: SipResponse): void {
    const via = getHeader(response, 'via');
    const cseq = getHeader(response, 'cseq');
    if (!via || !cseq) return;
    let key: string;
    try {
      key = `${parseVia(via).branch ?? ''}|${parseCSeq(cseq).method}`;
    } catch {
      this.#log.debug('response with malformed Via or CSeq dropped');
      return;
    }
    const tx = this.#client.get(key);
    if (tx && response.status >= 200) tx.resolve(response);
  }

  /** Stops every timer; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const tx of this.#server.values()) this.#clearTimers(tx);
    this.#server.clear();
    this.#perSource.clear();
    for (const tx of this.#client.values()) tx.resolve(undefined);
  }
}

/**
 * The server transaction key (RFC 3261 section 17.2.3): branch, sent-by and method, with ACK
 * matching its INVITE. RFC 2543 requests without the magic cookie use Call-ID, CSeq number,
 * From tag and the top Via instead.
 */
export function transactionKey(msg: SipRequest): string {
  const method = msg.method === 'ACK' ? 'INVITE' : msg.method;
  const topVia = getHeader(msg, 'via') ?? '';
  let branch = '';
  let sentBy = '';
  try {
    const via = parseVia(topVia);
    branch = via.branch ?? '';
    sentBy = `${via.host}:${via.port ?? ''}`;
  } catch {
    branch = '';
  }
  if (branch.startsWith('z9hG4bK')) return `${branch}|${sentBy}|${method}`;
  const cseq = /^(\d+)/.exec(getHeader(msg, 'cseq') ?? '')?.[1] ?? '';
  const fromTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(getHeader(msg, 'from') ?? '')?.[1] ?? '';
  return `2543|${getHeader(msg, 'call-id') ?? ''}|${cseq}|${fromTag}|${topVia}|${method}`;
}

function warningHeader(text: string): SipHeader {
  return { name: 'warning', value: `399 callseal "${text}"` };
}

/** Best-effort extraction of the headers needed to answer an unparsable request. */
function salvageRequest(raw: Buffer): SipRequest | undefined {
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8', 0, Math.min(raw.length, 64 * 1024));
  const headEnd = text.indexOf('\r\n\r\n');
  const lines = (headEnd >= 0 ? text.slice(0, headEnd) : text).split(/\r?\n/);
  const first = lines[0] ?? '';
  if (first.startsWith('SIP/')) return undefined;
  const method = /^([A-Za-z]+)/.exec(first)?.[1];
  if (!method || method.toUpperCase() === 'ACK') return undefined;
  const wanted = ['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq'];
  const kept: string[] = [];
  for (const line of lines.slice(1)) {
    const previous = kept[kept.length - 1];
    if (/^[ \t]/.test(line) && previous !== undefined) {
      kept[kept.length - 1] = `${previous} ${line.trim()}`;
      continue;
    }
    const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
    if (wanted.includes(name)) kept.push(line);
  }
  return salvageLoose(kept);
}

function salvageLoose(lines: readonly string[]): SipRequest | undefined {
  const headers: SipHeader[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const short: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id' };
    const rawName = line.slice(0, colon).trim().toLowerCase();
    const name = short[rawName] ?? rawName;
    const value = line.slice(colon + 1).trim();
    if (/[\r\n]/.test(value)) return undefined;
    headers.push({ name, value });
  }
  // RFC 4475 section 3.3.1 (insuf): answer 400 even when Call-ID, From or To are missing; the Via is enough to route it.
  if (!headers.some((h) => h.name === 'via')) return undefined;
  return { kind: 'request', method: 'OPTIONS', uri: 'sip:salvage.invalid', version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
}
