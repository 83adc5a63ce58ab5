/**
 * Client transactions (RFC 3261 section 17.1): INVITE with RFC 6026's Accepted state, and
 * non-INVITE. Retransmits the request over unreliable transports (timer A doubling without cap,
 * timer E doubling up to T2), gives up with a timeout after 64*T1 (timers B and F), ACKs non-2xx
 * final responses itself (section 17.1.1.3), and passes every 2xx to its user while in Accepted
 * (timer M) so the dialog can ACK each one. Does no I/O: bytes and responses leave as actions.
 *
 * ```
 *  INVITE:  Calling --1xx--> Proceeding --2xx--> Accepted --timer M--> Terminated
 *           Calling/Proceeding --3xx-6xx, ACK--> Completed --timer D--> Terminated
 *           Calling --timer B--> Terminated (timeout)
 *  other:   Trying --1xx--> Proceeding --final--> Completed --timer K--> Terminated
 *           Trying/Proceeding --timer F--> Terminated (timeout)
 * ```
 */
import { errorMessage } from '../../common/errors.ts';
import { getHeader, getHeaders, type SipHeader, type SipRequest, type SipResponse } from '../model.ts';
import { serializeMessage } from '../serialize.ts';
import type { Remote } from '../transport.ts';
import type { TimerOwner, TransactionId, TxContext } from './actions.ts';
import { PROCEEDING_LIMIT_T1, timerD, type TimerName } from './timers.ts';

/** States of a client transaction. */
export type ClientState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

/** One client transaction. */
export class ClientTransaction implements TimerOwner {
  readonly id: TransactionId;
  readonly side = 'client';
  readonly key: string;
  readonly method: string;
  readonly remote: Remote;
  readonly request: SipRequest;
  readonly armed = new Map<TimerName, unknown>();
  state: ClientState;
  /** A CANCEL was asked for before any provisional response (RFC 3261 section 9.1: it waits for one). */
  cancelWanted = false;
  #ack: Buffer | undefined;
  readonly #bytes: Buffer;
  #intervalMs = 0;
  readonly #ctx: TxContext;

  /** `bytes` is the serialized `request`. */
  constructor(ctx: TxContext, id: TransactionId, key: string, request: SipRequest, bytes: Buffer, remote: Remote) {
    this.#ctx = ctx;
    this.id = id;
    this.key = key;
    this.method = request.method;
    this.request = request;
    this.#bytes = bytes;
    this.remote = remote;
    this.state = request.method === 'INVITE' ? 'calling' : 'trying';
  }

  get #reliable(): boolean {
    return this.remote.transport !== 'UDP';
  }

  /** Sends the request and arms the retransmission and timeout timers. */
  start(nowMs: number): void {
    const { t1 } = this.#ctx.timers;
    this.#ctx.count('requestsSent');
    this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#bytes });
    this.#intervalMs = t1;
    if (!this.#reliable) this.#ctx.arm(this, this.method === 'INVITE' ? 'A' : 'E', t1, nowMs);
    this.#ctx.arm(this, this.method === 'INVITE' ? 'B' : 'F', 64 * t1, nowMs);
  }

  /** A response that matched this transaction; returns true when a wanted CANCEL may go now. */
  onResponse(response: SipResponse, nowMs: number): boolean {
    const status = response.status;
    if (this.method === 'INVITE') return this.#inviteResponse(response, status, nowMs);
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    if (status < 200) {
      this.state = 'proceeding';
      this.#ctx.emit({ kind: 'response', response, tx: this.id });
      return false;
    }
    this.state = 'completed';
    this.#ctx.disarm(this, 'E');
    this.#ctx.disarm(this, 'F');
    // The response goes up before timer K can end the transaction (at once on reliable transports).
    this.#ctx.emit({ kind: 'response', response, tx: this.id });
    this.#after('K', this.#reliable ? 0 : this.#ctx.timers.t4, nowMs);
    return false;
  }

  #inviteResponse(response: SipResponse, status: number, nowMs: number): boolean {
    if (this.state === 'accepted') {
      // RFC 6026 section 8.4: 2xx retransmissions (and 2xx of other forks) go to the user.
      if (status >= 200 && status < 300) this.#ctx.emit({ kind: 'response', response, tx: this.id });
      return false;
    }
    if (this.state === 'completed') {
      // A retransmitted final response: the ACK was lost (RFC 3261 section 17.1.1.2).
      if (status >= 300 && this.#ack) {
        this.#ctx.count('requestRetransmissions');
        this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#ack });
      }
      return false;
    }
    if (this.state !== 'calling' && this.state !== 'proceeding') return false;
    this.#ctx.disarm(this, 'A');
    this.#ctx.disarm(this, 'B');
    if (status < 200) {
      const wasCalling = this.state === 'calling';
      this.state = 'proceeding';
      // Timer B ends only Calling; an INVITE that rings for ever still leaves the table (timer C).
      if (wasCalling) this.#ctx.arm(this, 'C', PROCEEDING_LIMIT_T1 * this.#ctx.timers.t1, nowMs);
      this.#ctx.emit({ kind: 'response', response, tx: this.id });
      return wasCalling && this.cancelWanted;
    }
    this.#ctx.disarm(this, 'C');
    if (status < 300) {
      // RFC 6026 section 7.2: Accepted, so retransmitted 2xx still reach the dialog to be ACKed.
      this.state = 'accepted';
      this.#ctx.arm(this, 'M', 64 * this.#ctx.timers.t1, nowMs);
      this.#ctx.emit({ kind: 'response', response, tx: this.id });
      return false;
    }
    this.state = 'completed';
    try {
      this.#ack = serializeMessage(ackFor(this.request, response));
      this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#ack });
    } catch (err) {
      // A To header that cannot be written back (a bare line feed) leaves the ACK unsent; timer
      // D still ends the transaction and the peer's timer H its own.
      this.#ctx.log.warn({ err: errorMessage(err), key: this.key, status }, 'ACK cannot be serialized; not sent');
    }
    this.#ctx.emit({ kind: 'response', response, tx: this.id });
    this.#after('D', timerD(this.#ctx.timers, this.#reliable), nowMs);
    return false;
  }

  ended(): void {
    this.state = 'terminated';
  }

  onTimer(name: TimerName, nowMs: number): void {
    const { t2 } = this.#ctx.timers;
    switch (name) {
      case 'A':
        if (this.state !== 'calling') return;
        this.#retransmit();
        this.#intervalMs *= 2;
        this.#ctx.arm(this, 'A', this.#intervalMs, nowMs);
        return;
      case 'E':
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.#retransmit();
        this.#intervalMs = this.state === 'trying' ? Math.min(this.#intervalMs * 2, t2) : t2;
        this.#ctx.arm(this, 'E', this.#intervalMs, nowMs);
        return;
      case 'B': case 'C': case 'F':
        this.#ctx.count('clientTimeouts');
        this.#ctx.emit({ kind: 'timeout', tx: this.id });
        this.#ctx.terminate(this);
        return;
      case 'D': case 'K': case 'M':
        this.#ctx.terminate(this);
        return;
      case 'G': case 'H': case 'I': case 'J': case 'L': case 'P':
        return;
    }
  }

  #retransmit(): void {
    this.#ctx.count('requestRetransmissions');
    this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#bytes });
  }

  #after(name: TimerName, delayMs: number, nowMs: number): void {
    if (delayMs <= 0) this.#ctx.terminate(this);
    else this.#ctx.arm(this, name, delayMs, nowMs);
  }
}

/**
 * The ACK for a non-2xx final response (RFC 3261 section 17.1.1.3): Request-URI, Call-ID, From
 * and CSeq number of the INVITE, the To of the response (with its tag), only the INVITE's top
 * Via, and its Route header fields.
 */
export function ackFor(invite: SipRequest, response: SipResponse): SipRequest {
  return sameTransactionRequest(invite, 'ACK', getHeader(response, 'to') ?? getHeader(invite, 'to') ?? '');
}

/**
 * The CANCEL of an INVITE (RFC 3261 section 9.1): Request-URI, Call-ID, To, From and CSeq number
 * of the INVITE, its top Via (so the same branch) and its Route header fields.
 */
export function cancelFor(invite: SipRequest): SipRequest {
  return sameTransactionRequest(invite, 'CANCEL', getHeader(invite, 'to') ?? '');
}

function sameTransactionRequest(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string): SipRequest {
  const seq = /^(\d+)/.exec(getHeader(invite, 'cseq') ?? '')?.[1] ?? '1';
  const headers: SipHeader[] = [
    { name: 'via', value: getHeader(invite, 'via') ?? '' },
    ...getHeaders(invite, 'route').map((value) => ({ name: 'route', value })),
    { name: 'max-forwards', value: '70' },
    { name: 'from', value: getHeader(invite, 'from') ?? '' },
    { name: 'to', value: to },
    { name: 'call-id', value: getHeader(invite, 'call-id') ?? '' },
    { name: 'cseq', value: `${seq} ${method}` },
  ];
  return { kind: 'request', method, uri: invite.uri, version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
}
