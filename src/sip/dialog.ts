/**
 * SIP dialogs (RFC 3261 section 12), UAS and UAC: identified by Call-ID, local tag and remote
 * tag; local and remote CSeq (an in-dialog request below the remote CSeq gets 500, section
 * 12.2.2), the route set, the remote target (updated by target refresh requests and their 2xx)
 * and the secure flag. As UAS a dialog retransmits its 2xx to an INVITE until the ACK (section
 * 13.3.1.4) and ends with BYE after 64*T1 without one; as UAC it ACKs every 2xx it gets, again for
 * each retransmission (section 13.2.2.4). In-dialog requests callseal sends (BYE, re-INVITE,
 * UPDATE, INFO) are built here and go through client transactions. Sockets, transactions and
 * Vias belong to the stack; sessions (SDP, recordings) to the application above.
 */
import { TypedEmitter } from '../common/events.ts';
import type { TimerHandle } from '../common/clock.ts';
import { InvalidStateError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { getHeader, type SipHeader, type SipRequest, type SipResponse } from './model.ts';
import type { RespondOptions, ServerRequest, SipStack } from './stack.ts';
import type { Remote } from './transport.ts';
import { uriRemote } from './uri.ts';
import { contactUri, cseqNumber, dialogKey, type DialogInit, type DialogTable } from './dialog-state.ts';

export { DialogTable, cseqNumber, dialogKey, uacDialogInit, uasDialogInit, tagOf, type DialogInit } from './dialog-state.ts';

/** Why a dialog ended. */
export type DialogEndReason =
  /** The peer sent BYE (answered 200). */
  | 'bye'
  /** callseal sent BYE. */
  | 'bye-sent'
  /** No ACK came for callseal's 2xx within 64*T1; callseal sent BYE (RFC 3261 section 13.3.1.4). */
  | 'no-ack'
  /** An in-dialog request got 408 or 481 (RFC 3261 section 12.2.1.2). */
  | 'gone'
  /** Closed locally without BYE (shutdown). */
  | 'closed';

/** An in-dialog request for the application: answer it with `respond` (a 2xx to a re-INVITE then waits for its ACK). */
export type DialogRequest = ServerRequest;

/** Events of a dialog. */
export interface DialogEvents {
  /** A re-INVITE, UPDATE, INFO, OPTIONS or other in-dialog request (BYE and ACK are the dialog's). */
  request: [DialogRequest];
  /** The ACK for callseal's 2xx arrived. */
  ack: [SipRequest];
  /** The dialog ended; `request` is the peer's BYE when it sent one (its Reason header says why). */
  terminated: [reason: DialogEndReason, request: SipRequest | undefined];
}

/** What a dialog uses. */
export interface DialogContext {
  readonly stack: SipStack;
  readonly table: DialogTable<Dialog>;
  readonly log: Logger;
}

/** The body and extra header fields of an in-dialog request. */
export interface DialogRequestOptions {
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
  readonly contentType?: string;
}

/** Methods that refresh the remote target (RFC 3261 section 12.2; RFC 3311 for UPDATE). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE']);

/** One dialog. */
export class Dialog extends TypedEmitter<DialogEvents> {
  readonly role: 'uas' | 'uac';
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly secure: boolean;
  /** The table key: Call-ID, local tag, remote tag. */
  readonly key: string;
  readonly #ctx: DialogContext;
  readonly #local: string;
  readonly #remote: string;
  readonly #routeSet: readonly string[];
  readonly #localContact: string;
  readonly #flow: Remote;
  #localSeq: number | undefined;
  #remoteSeq: number | undefined;
  #remoteTarget: string;
  #state: 'confirmed' | 'terminated' = 'confirmed';
  /** callseal's 2xx to an INVITE waiting for its ACK. */
  #ackWait: { readonly cseq: number; timer: TimerHandle; deadline: TimerHandle; intervalMs: number; readonly resend: () => void } | undefined;
  /** An INVITE transaction of this dialog without its final response, and who sent it. */
  #inviting: 'uac' | 'uas' | undefined;
  /** The last ACK callseal sent for a 2xx, re-sent when that 2xx comes again. */
  #lastAck: { readonly cseq: number; readonly request: SipRequest; readonly remote: Remote } | undefined;

  constructor(ctx: DialogContext, init: DialogInit) {
    super();
    this.#ctx = ctx;
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.secure = init.secure;
    this.key = dialogKey(init.callId, init.localTag, init.remoteTag);
    this.#local = init.local;
    this.#remote = init.remote;
    this.#localSeq = init.localSeq;
    this.#remoteSeq = init.remoteSeq;
    this.#routeSet = init.routeSet;
    this.#remoteTarget = init.remoteTarget;
    this.#localContact = init.localContact;
    this.#flow = init.flow;
    this.onListenerError((err, event) => {
      ctx.log.error({ err: errorMessage(err), event, callId: this.callId }, 'dialog listener failed');
    });
    ctx.table.add(this);
  }

  get state(): 'confirmed' | 'terminated' {
    return this.#state;
  }

  get remoteTarget(): string {
    return this.#remoteTarget;
  }

  get routeSet(): readonly string[] {
    return this.#routeSet;
  }

  get localSeq(): number | undefined {
    return this.#localSeq;
  }

  get remoteSeq(): number | undefined {
    return this.#remoteSeq;
  }

  /** Whether callseal's 2xx still waits for its ACK. */
  get awaitingAck(): boolean {
    return this.#ackWait !== undefined;
  }

  /**
   * Sends the 2xx to an INVITE of this dialog (the one that created it, or a re-INVITE) with
   * callseal's tag and Contact, and retransmits it until the ACK: T1 doubling to T2 on UDP; on
   * any transport the dialog ends with BYE after 64*T1 without ACK.
   */
  acceptInvite(req: ServerRequest, status = 200, reason = 'OK', options: RespondOptions = {}): SipResponse {
    const headers = options.headers ?? [];
    const withContact = headers.some((h) => h.name === 'contact') ? headers : [{ name: 'contact', value: this.#localContact }, ...headers];
    const response = req.respond(status, reason, { ...options, toTag: this.localTag, headers: withContact });
    if (this.#inviting === 'uas') this.#inviting = undefined;
    this.#awaitAck(cseqNumber(req.message), () => { req.respond(status, reason); });
    return response;
  }

  /** An in-dialog request from the peer (the UAS core matched it here), ACKs included. */
  receive(req: ServerRequest): void {
    const msg = req.message;
    if (msg.method === 'ACK') {
      this.#onAck(msg);
      return;
    }
    if (this.#state === 'terminated') {
      req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const seq = cseqNumber(msg);
    // RFC 3261 section 12.2.2: a request with a lower CSeq than the last one is out of order.
    if (this.#remoteSeq !== undefined && seq < this.#remoteSeq) {
      req.respond(500, 'Server Internal Error', { headers: [{ name: 'warning', value: '399 callseal "CSeq lower than the last request of the dialog"' }] });
      return;
    }
    this.#remoteSeq = seq;
    if (msg.method === 'BYE') {
      req.respond(200, 'OK');
      this.#end('bye', msg);
      return;
    }
    if (msg.method === 'INVITE') {
      // RFC 3261 section 14.2: one INVITE at a time in each direction.
      if (this.#inviting === 'uac') {
        req.respond(491, 'Request Pending');
        return;
      }
      if (this.#inviting === 'uas' || this.#ackWait) {
        req.respond(500, 'Server Internal Error', { headers: [{ name: 'retry-after', value: String(1 + Math.floor(Math.random() * 10)) }] });
        return;
      }
      this.#inviting = 'uas';
    }
    if (TARGET_REFRESH.has(msg.method)) this.#refreshTarget(getHeader(msg, 'contact'));
    const forApp: DialogRequest = msg.method === 'INVITE' ? {
      message: msg,
      remote: req.remote,
      respond: (status, reason, options) => {
        if (status >= 200 && status < 300) return this.acceptInvite(req, status, reason, options);
        if (status >= 300) this.#inviting = undefined;
        return req.respond(status, reason, options);
      },
    } : req;
    if (this.listenerCount('request') > 0) {
      this.safeEmit('request', forApp);
      return;
    }
    // Nobody above takes in-dialog requests: a session that cannot change, INFO and OPTIONS received.
    if (msg.method === 'INVITE' || msg.method === 'UPDATE') forApp.respond(488, 'Not Acceptable Here');
    else if (msg.method === 'INFO' || msg.method === 'OPTIONS') forApp.respond(200, 'OK');
    else forApp.respond(501, 'Not Implemented');
  }

  /**
   * Sends an in-dialog request (RFC 3261 section 12.2.1.1): Request-URI the remote target,
   * Route from the route set, From and To with the tags, the next local CSeq, Max-Forwards, and
   * Contact for target refresh requests. Resolves with the final response (a local 408 on
   * timeout); a 2xx to a re-INVITE is ACKed here. Rejects with `InvalidStateError` once the dialog ended.
   */
  request(method: string, options: DialogRequestOptions = {}): Promise<SipResponse> {
    if (this.#state === 'terminated') {
      return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', `dialog ended [callId:${this.callId}, method:${method}]`));
    }
    if (method === 'ACK' || method === 'CANCEL') {
      return Promise.reject(new InvalidStateError('CS_STATE_CLOSED', `${method} is sent by the dialog and transaction layers [callId:${this.callId}]`));
    }
    if (method === 'INVITE') this.#inviting = 'uac';
    const cseq = this.#localSeq = (this.#localSeq ?? 0) + 1;
    const request = this.#build(method, cseq, options);
    const remote = this.#nextHop();
    const sent = this.#ctx.stack.request(request, remote, method === 'INVITE' ? {
      onResponse: (r) => { if (r.status >= 200 && r.status < 300) this.#ack(cseq, r); },
    } : {});
    return sent.final.then((r) => {
      if (method === 'INVITE' && this.#inviting === 'uac') this.#inviting = undefined;
      if (r.status >= 200 && r.status < 300 && TARGET_REFRESH.has(method)) this.#refreshTarget(getHeader(r, 'contact'));
      // RFC 3261 section 12.2.1.2: 481 and 408 to an in-dialog request end the dialog.
      if ((r.status === 481 || r.status === 408) && method !== 'BYE') this.#end('gone', undefined);
      return r;
    });
  }

  /** Ends the dialog with BYE (optional Reason and other headers); resolves with the BYE's final response. */
  bye(options: DialogRequestOptions = {}): Promise<SipResponse> {
    const p = this.request('BYE', options);
    // RFC 3261 section 15: the dialog is over once the BYE is sent.
    this.#end('bye-sent', undefined);
    return p;
  }

  /**
   * A 2xx to the INVITE that created this UAC dialog (the first one, or a retransmission, also
   * after its transaction ended): ACK it (again). `options` give the first ACK a body (an answer
   * to an offer in the 2xx); a retransmission gets the same ACK again.
   */
  ackInvite(response: SipResponse, options: DialogRequestOptions = {}): void {
    this.#ack(cseqNumber(response), response, options);
  }

  /**
   * Raises the local CSeq to at least `seq`: requests callseal sent in the early dialog before this
   * dialog existed (PRACK, RFC 3262 section 7.1) count toward it, so later ones go above them.
   */
  raiseLocalSeq(seq: number): void {
    if (this.#localSeq === undefined || this.#localSeq < seq) this.#localSeq = seq;
  }

  /** The CSeq of the INVITE whose 2xx callseal ACKed last; undefined before the first ACK. */
  get ackedCseq(): number | undefined {
    return this.#lastAck?.cseq;
  }

  /** Ends the dialog without BYE (shutdown); idempotent. */
  close(): void {
    this.#end('closed', undefined);
  }

  /** The 2xx of INVITE `cseq`: the ACK is built once per CSeq and re-sent for each retransmission (RFC 3261 section 13.2.2.4). */
  #ack(cseq: number, response: SipResponse, options: DialogRequestOptions = {}): void {
    if (response.status < 200 || response.status >= 300) return;
    if (this.#lastAck?.cseq === cseq) {
      this.#ctx.stack.sendStateless(this.#lastAck.request, this.#lastAck.remote, { again: true });
      return;
    }
    const remote = this.#nextHop();
    const sent = this.#ctx.stack.sendStateless(this.#build('ACK', cseq, options), remote);
    if (sent) this.#lastAck = { cseq, request: sent, remote };
  }

  #build(method: string, cseq: number, options: DialogRequestOptions): SipRequest {
    // Loose routing (RFC 3261 section 12.2.1.1): Request-URI the remote target, Route the route
    // set; a strict router first in the set gets the Request-URI and the target goes last.
    const first = this.#routeSet[0];
    const strict = first !== undefined && !/;\s*lr\b/i.test(first);
    const uri = strict ? contactUri(first) ?? this.#remoteTarget : this.#remoteTarget;
    const routes = strict ? [...this.#routeSet.slice(1), `<${this.#remoteTarget}>`] : this.#routeSet;
    const headers: SipHeader[] = [
      ...routes.map((value) => ({ name: 'route', value })),
      { name: 'max-forwards', value: '70' },
      { name: 'from', value: this.#local },
      { name: 'to', value: this.#remote },
      { name: 'call-id', value: this.callId },
      { name: 'cseq', value: `${cseq} ${method}` },
      ...(TARGET_REFRESH.has(method) ? [{ name: 'contact', value: this.#localContact }] : []),
      ...(options.headers ?? []).filter((h) => !['via', 'from', 'to', 'call-id', 'cseq', 'route', 'max-forwards'].includes(h.name)),
      ...(options.body && options.body.length > 0 && options.contentType ? [{ name: 'content-type', value: options.contentType }] : []),
    ];
    return { kind: 'request', method, uri, version: 'SIP/2.0', headers, body: options.body ?? Buffer.alloc(0) };
  }

  /**
   * Where in-dialog requests go. A UAS dialog uses the flow its INVITE came on, as callseal
   * always has: an SRC behind NAT or on a TCP or TLS connection is reached where it spoke from.
   * A UAC dialog goes to the first route or the remote target when it names an IP address, else
   * to the flow its INVITE went to.
   */
  #nextHop(): Remote {
    if (this.role === 'uas') return this.#flow;
    const first = this.#routeSet[0];
    const hop = first !== undefined ? contactUri(first) : this.#remoteTarget;
    return (hop !== undefined ? uriRemote(hop) : undefined) ?? this.#flow;
  }

  #refreshTarget(contact: string | undefined): void {
    const uri = contact === undefined ? undefined : contactUri(contact);
    if (uri !== undefined) this.#remoteTarget = uri;
  }

  #awaitAck(cseq: number, resend: () => void): void {
    this.#stopAckWait();
    const { t1, t2 } = this.#ctx.stack.timers;
    const scheduler = this.#ctx.stack.scheduler;
    const idle: TimerHandle = { cancel: () => undefined };
    const wait = { cseq, timer: idle, deadline: idle, intervalMs: t1, resend };
    // Two timers: the retransmissions, and the end after 64*T1. Kept apart, the deadline never
    // sends one more copy of the 2xx when a timer fires a little early.
    const retransmit = (): void => {
      if (this.#ackWait !== wait) return;
      wait.resend();
      wait.intervalMs = Math.min(wait.intervalMs * 2, t2);
      wait.timer = scheduler.schedule(wait.intervalMs, retransmit);
    };
    const expire = (): void => {
      if (this.#ackWait !== wait) return;
      this.#stopAckWait();
      this.#ctx.log.warn({ callId: this.callId, cseq }, 'no ACK for the 2xx; ending the dialog with BYE');
      this.request('BYE', { headers: [{ name: 'reason', value: 'SIP;cause=408;text="no ACK"' }] }).catch((err: unknown) => {
        this.#ctx.log.warn({ callId: this.callId, err: errorMessage(err) }, 'BYE after a missing ACK failed');
      });
      this.#end('no-ack', undefined);
    };
    // On reliable transports nothing is retransmitted: only the 64*T1 wait for the ACK.
    if (this.#flow.transport === 'UDP') wait.timer = scheduler.schedule(t1, retransmit);
    wait.deadline = scheduler.schedule(64 * t1, expire);
    this.#ackWait = wait;
  }

  #stopAckWait(): void {
    this.#ackWait?.timer.cancel();
    this.#ackWait?.deadline.cancel();
    this.#ackWait = undefined;
  }

  #onAck(msg: SipRequest): void {
    // RFC 3261 section 13.2.2.4 gives an ACK its INVITE's CSeq number, yet published SRC traces
    // (BroadWorks) ACK with other numbers: while a 2xx waits, an ACK of the dialog ends the wait
    // whatever its CSeq says, so such a peer's calls are not ended for want of an ACK.
    if (!this.#ackWait) return;
    this.#stopAckWait();
    this.safeEmit('ack', msg);
  }

  #end(reason: DialogEndReason, request: SipRequest | undefined): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#stopAckWait();
    this.#ctx.table.remove(this);
    this.safeEmit('terminated', reason, request);
  }
}
