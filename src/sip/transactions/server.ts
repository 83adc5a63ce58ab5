/**
 * Server transactions (RFC 3261 section 17.2): INVITE with RFC 6026's Accepted state, and
 * non-INVITE. Absorbs request retransmissions, retransmits the final response of an INVITE over
 * unreliable transports until the ACK, and leaves the table after the timers of the RFC. Every
 * transaction also answers 500 when its user gives no final response for a long time (timer P),
 * so an entry never stays forever. Does no I/O: bytes and requests leave as actions.
 *
 * ```
 *  INVITE:  Proceeding --1xx--> Proceeding
 *           Proceeding --2xx--> Accepted  --timer L--> Terminated      (RFC 6026 section 7.1)
 *           Proceeding --3xx-6xx--> Completed --ACK--> Confirmed --timer I--> Terminated
 *                                   Completed --timer H--> Terminated  (timer G retransmits)
 *  other:   Trying --1xx--> Proceeding --final--> Completed --timer J--> Terminated
 * ```
 */
import { errorMessage } from '../../common/errors.ts';
import type { SipRequest, SipResponse } from '../model.ts';
import { buildResponse, serializeMessage } from '../serialize.ts';
import type { Remote } from '../transport.ts';
import type { TimerOwner, TransactionId, TxContext } from './actions.ts';
import { PROCEEDING_LIMIT_T1, type TimerName } from './timers.ts';

/** States of a server transaction. */
export type ServerState = 'trying' | 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

/** One server transaction. */
export class ServerTransaction implements TimerOwner {
  readonly id: TransactionId;
  readonly side = 'server';
  readonly key: string;
  readonly method: string;
  readonly remote: Remote;
  readonly armed = new Map<TimerName, unknown>();
  /** The request, until the final response: afterwards only the response is kept, so a full table stays small. */
  request: SipRequest | undefined;
  state: ServerState;
  finalStatus = 0;
  #lastResponse: Buffer | undefined;
  #intervalMs = 0;
  readonly #ctx: TxContext;

  constructor(ctx: TxContext, id: TransactionId, key: string, request: SipRequest, remote: Remote) {
    this.#ctx = ctx;
    this.id = id;
    this.key = key;
    this.method = request.method;
    this.remote = remote;
    this.request = request;
    this.state = request.method === 'INVITE' ? 'proceeding' : 'trying';
  }

  get #reliable(): boolean {
    return this.remote.transport !== 'UDP';
  }

  /** Arms timer P and, for an INVITE, sends 100 Trying at once (RFC 3261 section 17.2.1); false when the transaction ended. */
  start(nowMs: number): boolean {
    this.#ctx.arm(this, 'P', PROCEEDING_LIMIT_T1 * this.#ctx.timers.t1, nowMs);
    if (this.method === 'INVITE' && this.request) return this.#send(buildResponse(this.request, 100, 'Trying'));
    return true;
  }

  /**
   * A request that matched this transaction: a retransmission, or the ACK of an INVITE. Returns
   * 'to-user' when the message belongs to the user (an ACK for a 2xx, RFC 6026 section 8.7).
   */
  onRequest(msg: SipRequest, nowMs: number): 'absorbed' | 'to-user' {
    if (msg.method === 'ACK') {
      if (this.state === 'accepted') return 'to-user';
      if (this.state === 'completed') {
        // RFC 3261 section 17.2.1: the ACK for a non-2xx final response stops G and H, starts I.
        this.state = 'confirmed';
        this.#ctx.disarm(this, 'G');
        this.#ctx.disarm(this, 'H');
        this.#after('I', this.#reliable ? 0 : this.#ctx.timers.t4, nowMs);
      }
      return 'absorbed';
    }
    // Retransmissions get the last response again, except in Trying (nothing sent yet), in
    // Accepted (the user retransmits its 2xx, RFC 6026 section 7.1) and in Confirmed.
    if ((this.state === 'proceeding' || this.state === 'completed') && this.#lastResponse) {
      this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#lastResponse });
    }
    return 'absorbed';
  }

  /** A response from the user. */
  respond(response: SipResponse, nowMs: number): void {
    if (this.state === 'accepted' && response.status === this.finalStatus && this.#lastResponse) {
      // RFC 3261 section 13.3.1.4 and RFC 6026 section 8.5: the user retransmits its 2xx until
      // the ACK comes; the retransmission is the very response sent first (same To tag and body).
      this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#lastResponse });
      return;
    }
    if (this.state === 'terminated' || this.finalStatus >= 200) {
      this.#ctx.log.debug({ key: this.key, status: response.status }, 'response after final response ignored');
      return;
    }
    if (!this.#send(response)) return;
    if (response.status < 200) {
      if (this.state === 'trying') this.state = 'proceeding';
      return;
    }
    this.finalStatus = response.status;
    this.request = undefined;
    this.#ctx.disarm(this, 'P');
    const { t1 } = this.#ctx.timers;
    if (this.method !== 'INVITE') {
      this.state = 'completed';
      // Timer J: 64*T1 on unreliable transports, zero on reliable ones.
      this.#after('J', this.#reliable ? 0 : 64 * t1, nowMs);
    } else if (response.status < 300) {
      // RFC 6026 section 7.1: Accepted absorbs INVITE retransmissions for 64*T1 (timer L).
      this.state = 'accepted';
      this.#after('L', 64 * t1, nowMs);
    } else {
      this.state = 'completed';
      if (!this.#reliable) {
        this.#intervalMs = t1;
        this.#ctx.arm(this, 'G', t1, nowMs);
      }
      // Timer H: give up waiting for the ACK.
      this.#ctx.arm(this, 'H', 64 * t1, nowMs);
    }
  }

  ended(): void {
    this.state = 'terminated';
    this.request = undefined;
  }

  onTimer(name: TimerName, nowMs: number): void {
    switch (name) {
      case 'G':
        if (this.state !== 'completed' || !this.#lastResponse) return;
        this.#ctx.emit({ kind: 'send', remote: this.remote, bytes: this.#lastResponse });
        this.#intervalMs = Math.min(this.#intervalMs * 2, this.#ctx.timers.t2);
        this.#ctx.arm(this, 'G', this.#intervalMs, nowMs);
        return;
      case 'P':
        if ((this.state !== 'proceeding' && this.state !== 'trying') || !this.request) return;
        this.#ctx.count('stale');
        this.#ctx.log.warn({ key: this.key, method: this.method, remote: this.remote }, 'request got no final response in time; answering 500');
        this.respond(buildResponse(this.request, 500, 'Server Internal Error'), nowMs);
        return;
      case 'H': case 'I': case 'J': case 'L':
        this.#ctx.terminate(this);
        return;
      case 'A': case 'B': case 'C': case 'D': case 'E': case 'F': case 'K': case 'M':
        return;
    }
  }

  /** Timer `name` after `delayMs`; zero ends the transaction at once (reliable transports). */
  #after(name: TimerName, delayMs: number, nowMs: number): void {
    if (delayMs <= 0) this.#ctx.terminate(this);
    else this.#ctx.arm(this, name, delayMs, nowMs);
  }

  /**
   * Sends a response of the transaction; false when it cannot be serialized (a request whose
   * headers cannot be echoed), and then the transaction ends at once instead of waiting forever.
   */
  #send(response: SipResponse): boolean {
    let bytes: Buffer;
    try {
      bytes = serializeMessage(response);
    } catch (err) {
      this.#ctx.log.warn({ err: errorMessage(err), key: this.key, status: response.status, remote: this.remote }, 'response cannot be serialized; transaction ended');
      this.#ctx.terminate(this);
      return false;
    }
    this.#lastResponse = bytes;
    this.#ctx.count('responsesSent');
    this.#ctx.emit({ kind: 'send', remote: this.remote, bytes });
    return true;
  }
}
