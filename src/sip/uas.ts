/**
 * The UAS core (RFC 3261 section 8.2): the checks every request passes before anyone acts on it,
 * in the order of the RFC's steps (section 8.2: method, then header fields, then content): 405
 * with Allow or 501 for methods (8.2.1), 416 for URI schemes (8.2.2.1), 482 for merged requests
 * (8.2.2.2), 420 with Unsupported for Require (8.2.2.3), 481 for in-dialog requests of no dialog
 * (section 12.2.2), 415 with Accept for bodies (8.2.3),
 * OPTIONS answered with Allow, Accept and Supported, in-dialog requests handed to their dialog,
 * new INVITEs handed to the application's handler, and CANCEL of a pending INVITE (200 to the
 * CANCEL, 487 to the INVITE, an event). Session decisions (SDP, SIPREC, admission) stay above.
 */
import { TypedEmitter } from '../common/events.ts';
import { SipError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { getHeader, getHeaders, type SipHeader, type SipRequest, type SipResponse } from './model.ts';
import { parseContentType } from './multipart.ts';
import { randomToken, type RespondOptions, type ServerRequest, type SipStack, type TransactionUser } from './stack.ts';
import type { Remote } from './transport.ts';
import { Dialog, DialogTable, tagOf, uasDialogInit, type DialogContext } from './dialog.ts';
import { cseqNumber } from './dialog-state.ts';
import { BadExtensionError, errorResponse } from './error-response.ts';
import { inviteKeyOf, transactionKey } from './transactions/keys.ts';
import { PROCEEDING_LIMIT_T1 } from './transactions/timers.ts';

/** Methods of the SIP RFCs: out of `allow` they get 405, any other method 501 (RFC 3261 sections 8.2.1 and 21.5.2). */
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'UPDATE', 'INFO', 'PRACK', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'MESSAGE', 'REFER']);

/** What callseal allows when not told otherwise. */
export const DEFAULT_ALLOW_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'UPDATE', 'INFO'];

/** Options of {@link UasCore}. */
export interface UasCoreOptions {
  readonly stack: SipStack;
  readonly log: Logger;
  /** Extensions implemented: Supported, and what Require may name. */
  readonly supported: readonly string[];
  /** Body types understood: Accept, and what INVITE and UPDATE bodies may be. */
  readonly accept: readonly string[];
  /** Methods allowed (Allow); {@link DEFAULT_ALLOW_METHODS} when omitted. */
  readonly allow?: readonly string[];
  /** callseal's Contact for a dialog with a peer on `remote`. */
  readonly contact: (remote: Remote) => string;
}

/** A new INVITE (no To tag) for the application. */
export interface IncomingInvite {
  readonly request: SipRequest;
  readonly remote: Remote;
  /** The tag every response to it carries, and the dialog's local tag. */
  readonly localTag: string;
  /** A final response went out (accepted, refused, cancelled or timed out). */
  readonly answered: boolean;
  readonly cancelled: boolean;
  /** A provisional or final non-2xx response with the local tag. */
  respond(status: number, reason: string, options?: RespondOptions): SipResponse;
  /** The 2xx (200 OK unless told): the dialog starts and waits for its ACK; undefined once answered (a CANCEL came first). */
  accept(options?: RespondOptions & { readonly status?: number; readonly reason?: string }): Dialog | undefined;
  /** Refuses with the response for `err` ({@link errorResponse}); undefined once answered. */
  reject(err: unknown): SipResponse | undefined;
}

/** Events of the UAS core. */
export interface UasCoreEvents {
  /** A CANCEL ended a pending INVITE: 200 to the CANCEL and 487 to the INVITE went out. */
  cancelled: [IncomingInvite];
}

interface Pending {
  readonly invite: IncomingInviteImpl;
  readonly txKey: string;
  readonly mergeKey: string;
  readonly atMs: number;
}

/** The UAS core; it is the stack's transaction user. */
export class UasCore extends TypedEmitter<UasCoreEvents> implements TransactionUser {
  readonly dialogs = new DialogTable<Dialog>();
  readonly context: DialogContext;
  readonly #o: UasCoreOptions;
  readonly #allow: readonly string[];
  /** INVITEs without a final response, by transaction key and by merge key (RFC 3261 section 8.2.2.2). */
  readonly #byTx = new Map<string, Pending>();
  readonly #byMerge = new Map<string, Pending>();
  #handler: ((invite: IncomingInvite) => void) | undefined;

  constructor(options: UasCoreOptions) {
    super();
    this.#o = options;
    this.#allow = options.allow ?? DEFAULT_ALLOW_METHODS;
    this.context = { stack: options.stack, table: this.dialogs, log: options.log };
    this.onListenerError((err, event) => {
      options.log.error({ err: errorMessage(err), event }, 'listener failed');
    });
    options.stack.setUser(this);
  }

  /** Sets the handler of new INVITEs; without one they get 480. */
  onInvite(handler: (invite: IncomingInvite) => void): void {
    this.#handler = handler;
  }

  /** Refuses `req` with the response for `err` (the one error mapping, `error-response.ts`). */
  respondError(req: ServerRequest, err: unknown, toTag?: string): SipResponse {
    const r = errorResponse(err, this.#o.accept);
    return req.respond(r.status, r.reason, { headers: r.headers, ...(toTag !== undefined ? { toTag } : {}) });
  }

  onRequest(req: ServerRequest): void {
    const msg = req.message;
    if (msg.method === 'ACK') {
      // An ACK of no dialog (a late one) has nothing to answer.
      this.dialogs.forRequest(msg)?.receive(req);
      return;
    }
    if (msg.method === 'CANCEL') {
      this.#cancel(req);
      return;
    }
    const allow = [{ name: 'allow', value: this.#allow.join(', ') }];
    if (!this.#allow.includes(msg.method)) {
      if (KNOWN_METHODS.has(msg.method)) req.respond(405, 'Method Not Allowed', { headers: allow });
      else req.respond(501, 'Not Implemented', { headers: allow });
      return;
    }
    if (!/^(sips?|tel):/i.test(msg.uri)) {
      req.respond(416, 'Unsupported URI Scheme');
      return;
    }
    // Section 8.2.2.2 before 8.2.2.3: a merged request is refused before its Require is read.
    const inDialog = tagOf(getHeader(msg, 'to')) !== undefined;
    if (!inDialog && this.#merged(msg)) {
      req.respond(482, 'Loop Detected');
      return;
    }
    const supported = this.#o.supported.map((s) => s.toLowerCase());
    const unsupported = getHeaders(msg, 'require').filter((r) => !supported.includes(r.trim().toLowerCase()));
    if (unsupported.length > 0) {
      this.respondError(req, new BadExtensionError(unsupported));
      return;
    }
    if (inDialog) {
      const dialog = this.dialogs.forRequest(msg);
      if (dialog) dialog.receive(req);
      else req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if ((msg.method === 'INVITE' || msg.method === 'UPDATE') && msg.body.length > 0) {
      const type = parseContentType(getHeader(msg, 'content-type') ?? '').type;
      if (!this.#o.accept.includes(type)) {
        this.respondError(req, new SipError('CS_SIP_UNSUPPORTED_MEDIA', 415, 'Unsupported Media Type', `body of type ${type || '(none)'} is not understood`));
        return;
      }
    }
    if (msg.method === 'INVITE') this.#newInvite(req);
    else if (msg.method === 'OPTIONS') {
      req.respond(200, 'OK', { headers: this.capabilities });
    } else req.respond(481, 'Call/Transaction Does Not Exist');
  }

  /** A 2xx retransmitted after its client transaction ended: the dialog ACKs it again (RFC 3261 section 13.2.2.4). */
  onStrayResponse(response: SipResponse): void {
    if (response.status < 200 || response.status >= 300 || !/\bINVITE\s*$/i.test(getHeader(response, 'cseq') ?? '')) return;
    this.dialogs.forResponse(response)?.ackInvite(response);
  }

  /** Allow, Accept and Supported: what an answer to OPTIONS says of callseal (RFC 3261 section 11.2), in a dialog too. */
  get capabilities(): SipHeader[] {
    return [
      { name: 'allow', value: this.#allow.join(', ') },
      { name: 'accept', value: this.#o.accept.join(', ') },
      { name: 'supported', value: this.#o.supported.join(', ') },
    ];
  }

  /** Ends every dialog without BYE (the application sends its BYEs first); idempotent. */
  close(): void {
    for (const d of [...this.dialogs.values()]) d.close();
  }

  /**
   * RFC 3261 section 8.2.2.2: a request without To tag whose Call-ID, From tag and CSeq equal
   * those of a pending INVITE that it does not match as a transaction came twice by different
   * paths; the second gets 482.
   */
  #merged(msg: SipRequest): boolean {
    const pending = this.#byMerge.get(mergeKey(msg));
    return pending !== undefined && pending.txKey !== transactionKey(msg) && !pending.invite.answered;
  }

  #newInvite(req: ServerRequest): void {
    const msg = req.message;
    const invite = new IncomingInviteImpl(this, req, randomToken(6), () => { this.#forget(pending); });
    const pending: Pending = { invite, txKey: transactionKey(msg), mergeKey: mergeKey(msg), atMs: this.#o.stack.scheduler.monoMs() };
    this.#prune(pending.atMs);
    this.#byTx.set(pending.txKey, pending);
    this.#byMerge.set(pending.mergeKey, pending);
    const handler = this.#handler;
    if (!handler) {
      invite.respond(480, 'Temporarily Unavailable');
      return;
    }
    try {
      handler(invite);
    } catch (err) {
      this.#o.log.error({ err: errorMessage(err), callId: getHeader(msg, 'call-id') }, 'INVITE handler failed');
      invite.reject(err);
    }
  }

  #cancel(req: ServerRequest): void {
    const pending = this.#byTx.get(inviteKeyOf(req.message));
    if (pending && !pending.invite.answered && this.#o.stack.pendingInviteFor(req.message)) {
      req.respond(200, 'OK');
      pending.invite.cancelled = true;
      pending.invite.respond(487, 'Request Terminated');
      this.safeEmit('cancelled', pending.invite);
      return;
    }
    // RFC 3261 section 9.2: an INVITE already answered makes the CANCEL a no-op (200); none, 481.
    if (this.#o.stack.hasInviteFor(req.message)) req.respond(200, 'OK');
    else req.respond(481, 'Call/Transaction Does Not Exist');
  }

  #forget(pending: Pending | undefined): void {
    if (!pending) return;
    if (this.#byTx.get(pending.txKey) === pending) this.#byTx.delete(pending.txKey);
    if (this.#byMerge.get(pending.mergeKey) === pending) this.#byMerge.delete(pending.mergeKey);
  }

  /** Drops INVITEs whose transaction ended without the application (timer P answered them): insertion order is age order. */
  #prune(nowMs: number): void {
    const maxAgeMs = (PROCEEDING_LIMIT_T1 + 64) * this.#o.stack.timers.t1;
    for (const p of this.#byTx.values()) {
      if (nowMs - p.atMs < maxAgeMs) break;
      this.#forget(p);
    }
  }

  /** Creates the UAS dialog of an accepted INVITE. */
  dialogFor(invite: IncomingInvite): Dialog {
    return new Dialog(this.context, uasDialogInit(invite.request, invite.remote, invite.localTag, this.#o.contact(invite.remote)));
  }
}

function mergeKey(msg: SipRequest): string {
  return `${getHeader(msg, 'call-id') ?? ''}|${tagOf(getHeader(msg, 'from')) ?? ''}|${cseqNumber(msg)}`;
}

class IncomingInviteImpl implements IncomingInvite {
  readonly request: SipRequest;
  readonly remote: Remote;
  readonly localTag: string;
  answered = false;
  cancelled = false;
  readonly #core: UasCore;
  readonly #req: ServerRequest;
  readonly #done: () => void;

  constructor(core: UasCore, req: ServerRequest, localTag: string, done: () => void) {
    this.#core = core;
    this.#req = req;
    this.request = req.message;
    this.remote = req.remote;
    this.localTag = localTag;
    this.#done = done;
  }

  respond(status: number, reason: string, options: RespondOptions = {}): SipResponse {
    if (status >= 200) this.#final();
    return this.#req.respond(status, reason, { ...options, toTag: this.localTag });
  }

  accept(options: RespondOptions & { readonly status?: number; readonly reason?: string } = {}): Dialog | undefined {
    if (this.answered) return undefined;
    this.#final();
    const dialog = this.#core.dialogFor(this);
    const { status = 200, reason = 'OK', ...rest } = options;
    dialog.acceptInvite(this.#req, status, reason, rest);
    return dialog;
  }

  reject(err: unknown): SipResponse | undefined {
    if (this.answered) return undefined;
    this.#final();
    return this.#core.respondError(this.#req, err, this.localTag);
  }

  #final(): void {
    this.answered = true;
    this.#done();
  }
}
