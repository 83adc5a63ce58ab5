/**
 * One in-line call: a UAS dialog toward the caller (leg `a`) and a UAC dialog toward the callee
 * (leg `b`), built on `sip/`. The INVITE goes on with callseal's own Call-ID, tags, Via and
 * Contact; provisional responses (180, 183 with SDP) and the final one come back, challenges
 * (401/407) unchanged; the ACK of the 2xx goes end to end, with its body; BYE, re-INVITE,
 * UPDATE, INFO and OPTIONS are relayed either way; a CANCEL from the caller cancels the callee's
 * INVITE. Each SDP passes the call's {@link MediaPath}. Recording and policy are the server's:
 * this class only says what happened (`answered`, `request`, `ended`).
 */
import type { Logger } from '../common/log.ts';
import { TypedEmitter } from '../common/events.ts';
import { errorMessage } from '../common/errors.ts';
import {
  cseqNumber, getHeader, isLocalResponse, sendInvite, tagOf, warning,
  type Dialog, type DialogContext, type DialogEndReason, type DialogRequest, type IncomingInvite, type OutgoingInvite, type Remote, type ServerRequest, type SipHeader, type SipMessage, type SipResponse,
} from '../sip/index.ts';
import { INVITE_RELAYED, IN_DIALOG_RELAYED, RESPONSE_RELAYED, bodyType, partyValue, relayedHeaders } from './headers.ts';
import { earlyDialogOf, isReliable, prackFor, rackResponseNum, type EarlyDialog } from './prack.ts';
import { directPath, type LegSide, type MediaPath } from './media-path.ts';
import type { InlineRoute } from './routing.ts';

/** Why an in-line call ended. */
export type CallEndReason = 'bye-caller' | 'bye-callee' | 'cancelled' | 'failed' | 'no-ack' | 'gone' | 'closed';

/** Events of a call. */
export interface InlineCallEvents {
  /** A provisional or final response of the callee reached the caller. */
  response: [status: number];
  /** An in-dialog request was relayed (`from` is the leg it came on); INFO bodies are read here by the server. */
  request: [from: LegSide, method: string, message: SipMessage];
  /** The call ended; `status` is the final response of a call that never connected. */
  ended: [reason: CallEndReason, status: number | undefined];
}

/** Options of {@link InlineCall}. */
export interface InlineCallOptions {
  readonly ctx: DialogContext;
  readonly invite: IncomingInvite;
  readonly route: InlineRoute;
  /** callseal's Contact toward a peer. */
  readonly contact: (remote: Remote) => string;
  readonly log: Logger;
  /** The callee leg of an INVITE this one retries with credentials: same Call-ID and From tag, the next CSeq. */
  readonly retryOf?: ChallengedLeg | undefined;
}

/** The callee leg of an INVITE that was challenged (401/407), for the caller's retry (RFC 3261 section 22.2). */
export interface ChallengedLeg {
  readonly callId: string;
  readonly fromTag: string;
  readonly cseq: number;
}

const SDP = 'application/sdp';

function isSdp(msg: SipMessage): boolean {
  return msg.body.length > 0 && (bodyType(msg) ?? '').toLowerCase().startsWith(SDP);
}

/** The body of `msg` (rewritten when it is SDP) and its Content-Type header. */
async function bodyFor(msg: SipMessage, from: LegSide, media: MediaPath): Promise<{ readonly body: Buffer; readonly headers: SipHeader[] }> {
  const type = bodyType(msg);
  if (type === undefined) return { body: Buffer.alloc(0), headers: [] };
  // RFC 3264: an SDP in a response, an ACK or a PRACK answers the other side's offer.
  const kind = msg.kind === 'response' || msg.method === 'ACK' || msg.method === 'PRACK' ? 'answer' : 'offer';
  const body = isSdp(msg) ? await media.sdpFrom(from, msg.body, kind) : msg.body;
  return { body, headers: [{ name: 'content-type', value: type }] };
}

/** An in-line call between two legs. */
export class InlineCall extends TypedEmitter<InlineCallEvents> {
  /** The caller's Call-ID (leg `a`). */
  readonly callId: string;
  readonly route: InlineRoute;
  readonly invite: IncomingInvite;
  readonly #o: InlineCallOptions;
  readonly #log: Logger;
  #media: MediaPath = directPath;
  #out: OutgoingInvite | undefined;
  #a: Dialog | undefined;
  #b: Dialog | undefined;
  /** The callee's 2xx to the first INVITE, ACKed when the caller's ACK comes. */
  #bAnswer: SipResponse | undefined;
  #cancelled = false;
  #ended = false;
  #challenged: ChallengedLeg | undefined;
  /** The callee's early dialog of its last reliable provisional response, and the last CSeq of a PRACK sent in it. */
  #early: EarlyDialog | undefined;
  #earlySeq = 0;
  /** RSeq values already relayed to the caller: a callee's retransmission is not relayed again (RFC 3262 section 3). */
  readonly #relayedRseq = new Set<string>();
  /** Responses to the caller go out in the order the callee sent them, though rewriting is asynchronous. */
  #toCaller: Promise<void> = Promise.resolve();
  /** Runs before the INVITE goes on (announcement and consent IVR, `prompt-flow.ts`); throwing refuses the call with 503. */
  prelude: ((call: InlineCall) => Promise<void>) | undefined;
  /** Changes the caller's offer before it goes to the callee (limited to the codec the prelude chose). */
  offerFilter: ((sdp: Buffer) => Buffer) | undefined;

  constructor(options: InlineCallOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    this.invite = options.invite;
    this.route = options.route;
    this.callId = getHeader(options.invite.request, 'call-id') ?? '';
    this.onListenerError((err, event) => {
      this.#log.error({ callId: this.callId, err: errorMessage(err), event }, 'in-line call listener failed');
    });
  }

  /** The media path (set before {@link start}). */
  get media(): MediaPath {
    return this.#media;
  }

  set media(path: MediaPath) {
    this.#media = path;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The callee leg of a call that ended with a challenge (401/407), for the caller's retry. */
  get challenged(): ChallengedLeg | undefined {
    return this.#challenged;
  }

  /** The callee leg's Call-ID, once the INVITE went out. */
  get calleeCallId(): string | undefined {
    return this.#out ? getHeader(this.#out.request, 'call-id') : undefined;
  }

  /** Sends the INVITE to the callee; refuses the caller (and ends) when it cannot. */
  async start(): Promise<void> {
    const req = this.invite.request;
    const from = partyValue(getHeader(req, 'from'));
    const to = partyValue(getHeader(req, 'to'));
    if (from === undefined || to === undefined) {
      this.#fail(400, 'Bad Request', 'From or To does not parse');
      return;
    }
    if (this.prelude) {
      try {
        await this.prelude(this);
      } catch (err) {
        this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'in-line call refused before the callee was asked');
        this.#fail(503, 'Service Unavailable', errorMessage(err));
        return;
      }
      if (this.#cancelled || this.#ended) return;
    }
    const filter = this.offerFilter;
    let body: { readonly body: Buffer; readonly headers: SipHeader[] };
    try {
      body = await bodyFor(filter && isSdp(req) ? { ...req, body: filter(req.body) } : req, 'a', this.#media);
    } catch (err) {
      this.#log.info({ callId: this.callId, err: errorMessage(err) }, 'in-line INVITE refused: its SDP cannot be relayed');
      this.invite.reject(err);
      this.#end('failed', 488);
      return;
    }
    if (this.#cancelled) return;
    const hop = this.route.hop;
    this.#out = sendInvite(this.#o.ctx, {
      uri: req.uri, from, to, remote: hop, contact: this.#o.contact(hop), deferAck: true,
      ...(this.#o.retryOf ? { callId: this.#o.retryOf.callId, fromTag: this.#o.retryOf.fromTag, cseq: this.#o.retryOf.cseq + 1 } : {}),
      headers: [...relayedHeaders(req, INVITE_RELAYED), ...body.headers],
      body: body.body, onProvisional: (r) => { this.#provisional(r); },
    });
    this.#log.info({ callId: this.callId, calleeCallId: this.calleeCallId, from: this.route.from, to: this.route.to, hop: `${hop.address}:${hop.port}` }, 'in-line call relayed');
    try {
      const { response, dialog } = await this.#out.result;
      await this.#toCaller;
      this.#final(response, dialog);
    } catch (err) {
      this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'in-line INVITE to the callee failed');
      this.#fail(503, 'Service Unavailable', 'callee leg failed');
    }
  }

  /** Early media of callseal's own (the announcement): a 183 with callseal's SDP answer to the caller; false once answered or ended. */
  earlyMedia(sdp: Buffer): boolean {
    if (this.invite.answered || this.#ended) return false;
    this.invite.respond(183, 'Session Progress', { headers: [{ name: 'contact', value: this.#o.contact(this.invite.remote) }, { name: 'content-type', value: SDP }], body: sdp });
    return true;
  }

  /** The caller's CANCEL (200 and 487 were sent by the UAS core): cancel the callee's INVITE. */
  cancel(): void {
    if (this.#cancelled || this.#ended) return;
    this.#cancelled = true;
    this.#out?.cancel();
    this.#end('cancelled', 487);
  }

  /** Ends the call with BYE on both legs (shutdown, or a recording that must stop the call); idempotent. */
  hangUp(reason: string): void {
    if (this.#ended) return;
    const headers = [{ name: 'reason', value: `SIP;cause=480;text="${reason.replace(/["\\\r\n]/g, "'").slice(0, 100)}"` }];
    for (const d of [this.#a, this.#b]) this.#bye(d, headers);
    if (!this.invite.answered) this.invite.respond(480, 'Temporarily Unavailable', { headers: warning(reason) });
    this.#out?.cancel();
    this.#end('closed', undefined);
  }

  /**
   * The caller's PRACK for a reliable provisional response (RFC 3262): sent on in the callee's
   * early dialog with the RAck naming the callee leg's INVITE; its response goes back.
   */
  async prack(req: ServerRequest): Promise<void> {
    const early = this.#early;
    const rseq = rackResponseNum(getHeader(req.message, 'rack'));
    if (!early || rseq === undefined || this.#ended) {
      req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    try {
      const body = await bodyFor(req.message, 'a', this.#media);
      const cseq = ++this.#earlySeq;
      const r = await this.#o.ctx.stack.request(prackFor(early, rseq, cseq, [...relayedHeaders(req.message, IN_DIALOG_RELAYED), ...body.headers], body.body), this.route.hop).final;
      const rb = await bodyFor(r, 'b', this.#media);
      req.respond(r.status, r.reason, { headers: [...relayedHeaders(r, RESPONSE_RELAYED), ...rb.headers], body: rb.body });
    } catch (err) {
      this.#log.info({ callId: this.callId, err: errorMessage(err) }, 'PRACK not relayed');
      req.respond(500, 'Server Internal Error', { headers: warning(`PRACK not relayed: ${errorMessage(err)}`) });
    }
  }

  #provisional(r: SipResponse): void {
    if (r.status === 100 || this.#cancelled || this.#ended) return;
    if (isReliable(r) && this.#out) {
      const key = `${getHeader(r, 'to') ?? ''}|${getHeader(r, 'rseq') ?? ''}`;
      if (this.#relayedRseq.has(key) || this.#relayedRseq.size >= 100) return;
      this.#relayedRseq.add(key);
      this.#early = earlyDialogOf(this.#out.request, r) ?? this.#early;
      this.#earlySeq = Math.max(this.#earlySeq, this.#early?.inviteCseq ?? 0);
    }
    this.#toCaller = this.#toCaller.then(async () => {
      if (this.invite.answered) return;
      const body = await bodyFor(r, 'b', this.#media);
      this.invite.respond(r.status, r.reason, {
        headers: [{ name: 'contact', value: this.#o.contact(this.invite.remote) }, ...relayedHeaders(r, RESPONSE_RELAYED), ...body.headers],
        body: body.body,
      });
      this.safeEmit('response', r.status);
    }).catch((err: unknown) => {
      this.#log.warn({ callId: this.callId, status: r.status, err: errorMessage(err) }, 'provisional response not relayed');
    });
  }

  #final(r: SipResponse, dialog: Dialog | undefined): void {
    if (r.status >= 200 && r.status < 300 && dialog) {
      if (this.#cancelled || this.#ended || this.invite.answered) {
        // RFC 3261 section 9.1: a 2xx that crossed the CANCEL makes a dialog that is ended at once.
        dialog.ackInvite(r);
        this.#bye(dialog, []);
        return;
      }
      // PRACKs sent in the early dialog took CSeq numbers of this dialog (RFC 3262 section 7.1).
      dialog.raiseLocalSeq(this.#earlySeq);
      this.#b = dialog;
      this.#bAnswer = r;
      void this.#answer(r, dialog);
      return;
    }
    if (this.#cancelled || this.#ended) return;
    if (isLocalResponse(r)) {
      this.#fail(r.status === 408 ? 408 : 503, r.status === 408 ? 'Request Timeout' : 'Service Unavailable', `callee leg: no final response (${r.status})`);
      return;
    }
    if ((r.status === 401 || r.status === 407) && this.#out) {
      const sent = this.#out.request;
      this.#challenged = { callId: getHeader(sent, 'call-id') ?? '', fromTag: tagOf(getHeader(sent, 'from')) ?? '', cseq: cseqNumber(sent) };
    }
    // Failures, redirections and challenges (401/407 with their WWW-/Proxy-Authenticate) go back unchanged.
    const body = r.body.length > 0 && !isSdp(r) ? { body: r.body, headers: [{ name: 'content-type', value: bodyType(r) ?? '' }] } : { body: Buffer.alloc(0), headers: [] };
    this.invite.respond(r.status, r.reason, { headers: [...relayedHeaders(r, RESPONSE_RELAYED), ...(r.status < 400 ? relayedHeaders(r, ['contact']) : []), ...body.headers], body: body.body });
    this.safeEmit('response', r.status);
    this.#end('failed', r.status);
  }

  async #answer(r: SipResponse, b: Dialog): Promise<void> {
    let body: { readonly body: Buffer; readonly headers: SipHeader[] };
    try {
      body = await bodyFor(r, 'b', this.#media);
    } catch (err) {
      this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'the callee\'s answer cannot be relayed; both legs ended');
      b.ackInvite(r);
      this.#bye(b, []);
      this.#fail(502, 'Bad Gateway', 'the callee\'s answer cannot be relayed');
      return;
    }
    this.#wire(b, 'b');
    const a = this.invite.accept({ status: r.status, reason: r.reason, headers: [...relayedHeaders(r, RESPONSE_RELAYED), ...body.headers], body: body.body });
    if (!a) {
      b.ackInvite(r);
      this.#bye(b, []);
      this.#end('cancelled', 487);
      return;
    }
    this.#a = a;
    this.#wire(a, 'a');
    this.safeEmit('response', r.status);
  }

  /** Dialog events of one leg. */
  #wire(d: Dialog, side: LegSide): void {
    d.on('request', (req) => { void this.#relayRequest(req, side); });
    d.on('terminated', (reason, req) => { this.#legEnded(side, reason, req); });
    if (side === 'a') d.on('ack', (ack) => { void this.#relayAck(ack); });
  }

  /** The caller's ACK of the first 2xx goes on to the callee with its body (an answer to an offer in the 2xx). */
  async #relayAck(ack: SipMessage): Promise<void> {
    const b = this.#b;
    const answer = this.#bAnswer;
    if (!b || !answer || b.ackedCseq !== undefined) return;
    try {
      const body = await bodyFor(ack, 'a', this.#media);
      b.ackInvite(answer, { body: body.body, ...(body.headers[0] ? { contentType: body.headers[0].value } : {}) });
    } catch (err) {
      this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'the caller\'s ACK body cannot be relayed; ACK sent without it');
      b.ackInvite(answer);
    }
  }

  /** An in-dialog request of one leg, relayed on the other; its response comes back the same way. */
  async #relayRequest(req: DialogRequest, from: LegSide): Promise<void> {
    const msg = req.message;
    const to = from === 'a' ? this.#b : this.#a;
    if (!to || to.state === 'terminated') {
      req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const toSide: LegSide = from === 'a' ? 'b' : 'a';
    try {
      const body = await bodyFor(msg, from, this.#media);
      this.safeEmit('request', from, msg.method, msg);
      const r = await to.request(msg.method, {
        headers: relayedHeaders(msg, IN_DIALOG_RELAYED), body: body.body,
        ...(body.headers[0] ? { contentType: body.headers[0].value } : {}),
      });
      const rb = await bodyFor(r, toSide, this.#media);
      const refresh = r.status >= 200 && r.status < 300 && (msg.method === 'INVITE' || msg.method === 'UPDATE');
      req.respond(r.status, r.reason, {
        headers: [...(refresh ? [{ name: 'contact', value: this.#o.contact(req.remote) }] : []), ...relayedHeaders(r, RESPONSE_RELAYED), ...rb.headers],
        body: rb.body,
      });
    } catch (err) {
      this.#log.info({ callId: this.callId, method: msg.method, err: errorMessage(err) }, 'in-dialog request not relayed');
      req.respond(500, 'Server Internal Error', { headers: warning(`not relayed: ${errorMessage(err)}`) });
    }
  }

  #legEnded(side: LegSide, reason: DialogEndReason, req: SipMessage | undefined): void {
    const other = side === 'a' ? this.#b : this.#a;
    switch (reason) {
      case 'bye':
        this.#bye(other, req ? relayedHeaders(req, ['reason']) : []);
        this.#end(side === 'a' ? 'bye-caller' : 'bye-callee', undefined);
        break;
      case 'no-ack':
        if (side === 'a' && this.#b && this.#bAnswer && this.#b.ackedCseq === undefined) this.#b.ackInvite(this.#bAnswer);
        this.#bye(other, [{ name: 'reason', value: 'SIP;cause=408;text="no ACK"' }]);
        this.#end('no-ack', undefined);
        break;
      case 'gone':
        this.#bye(other, []);
        this.#end('gone', undefined);
        break;
      case 'bye-sent':
      case 'closed':
        break;
    }
  }

  #bye(d: Dialog | undefined, headers: readonly SipHeader[]): void {
    if (!d || d.state === 'terminated') return;
    d.bye({ headers }).catch((err: unknown) => {
      this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'BYE failed');
    });
  }

  #fail(status: number, reason: string, why: string): void {
    if (!this.invite.answered) this.invite.respond(status, reason, { headers: warning(why) });
    this.#end('failed', status);
  }

  #end(reason: CallEndReason, status: number | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#media.close().catch((err: unknown) => {
      this.#log.warn({ callId: this.callId, err: errorMessage(err) }, 'closing the media path failed');
    });
    this.safeEmit('ended', reason, status);
  }
}
