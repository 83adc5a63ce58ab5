/**
 * The in-line B2BUA server (spec I2): its own SIP transport and stack on `inline.port`, admitting
 * only the PBX's and the trunk's addresses (others get 403 from the stack), the UAS core for the
 * RFC 3261 section 8.2 checks, CANCEL and in-dialog matching, and one {@link InlineCall} per new
 * INVITE, routed to the other side. What is recorded is decided by the `setUp` hook, given
 * before the INVITE goes on: it can anchor the media, or refuse the call.
 */
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { InvalidStateError } from '../common/errors.ts';
import { SipStack, SipTransport, SourceAllowlist, UasCore, DEFAULT_ALLOW_METHODS, DEFAULT_TIMERS, getHeader, tagOf, type IncomingInvite, type ServerRequest, type Remote, type SipTimers } from '../sip/index.ts';
import type { InlineConfig, InlineSide } from '../config/index.ts';
import { InlineCall, type ChallengedLeg } from './call.ts';
import { InlineRouter } from './routing.ts';
import { TypedEmitter } from '../common/events.ts';

/** How long a challenged INVITE's callee leg waits for the caller's retry (64*T1 at the default T1). */
const CHALLENGE_KEPT_MS = 32_000;
/** At most this many challenged legs are kept: a flood of challenges cannot grow the table. */
const MAX_CHALLENGED = 10_000;

/** The caller's Call-ID and From tag: a retried INVITE keeps both (RFC 3261 section 22.2). */
function retryKey(invite: IncomingInvite): string {
  return `${getHeader(invite.request, 'call-id') ?? ''}|${tagOf(getHeader(invite.request, 'from')) ?? ''}`;
}

/** Options of {@link InlineServer}. */
export interface InlineServerOptions {
  readonly config: InlineConfig & { readonly pbx: InlineSide; readonly trunk: InlineSide };
  readonly log: Logger;
  /** Address written into Contact and Via. */
  readonly advertisedAddress: string;
  readonly timers?: SipTimers;
  /**
   * Called for each new call before its INVITE goes on: sets the call's media path and, for a
   * recorded call, its recording. Rejecting refuses the call with the error's response (503 for
   * a fail-closed call that cannot be recorded).
   */
  readonly setUp?: (call: InlineCall) => Promise<void>;
}

/** Events of the server. */
export interface InlineServerEvents {
  call: [InlineCall];
}

/** callseal in the SIP path between a PBX and a trunk. */
export class InlineServer extends TypedEmitter<InlineServerEvents> {
  readonly router: InlineRouter;
  readonly #o: InlineServerOptions;
  readonly #log: Logger;
  readonly #transport: SipTransport;
  readonly #stack: SipStack;
  readonly #uas: UasCore;
  readonly #calls = new Map<IncomingInvite, InlineCall>();
  /** Callee legs of challenged INVITEs by the caller's Call-ID and From tag, oldest first, for the retries. */
  readonly #challenged = new Map<string, { readonly leg: ChallengedLeg; readonly atMs: number }>();
  #ports: { readonly udp: number; readonly tcp: number | undefined } | undefined;
  #closed = false;

  constructor(options: InlineServerOptions) {
    super();
    this.#o = options;
    this.#log = options.log.child({ mode: 'inline' });
    const c = options.config;
    this.router = new InlineRouter(c);
    const allow = new SourceAllowlist(this.router.addresses);
    this.#transport = new SipTransport({ host: c.host, udpPort: c.port, tcp: c.tcp, log: this.#log, allow });
    this.#stack = new SipStack(this.#transport, this.#log, options.timers ?? DEFAULT_TIMERS, { allow, viaHost: options.advertisedAddress });
    this.#uas = new UasCore({
      stack: this.#stack, log: this.#log, supported: ['100rel', 'timer', 'replaces', 'histinfo'], accept: ['application/sdp'],
      allow: [...DEFAULT_ALLOW_METHODS, 'PRACK'], contact: (remote) => this.contact(remote),
    });
    // PRACK arrives in an early dialog, before the UAS core knows a dialog for it (RFC 3262).
    this.#stack.setUser({
      onRequest: (req) => { this.#onRequest(req); },
      onStrayResponse: (response) => { this.#uas.onStrayResponse(response); },
    });
    this.#uas.onInvite((invite) => { this.#onInvite(invite); });
    this.#uas.on('cancelled', (invite) => { this.#calls.get(invite)?.cancel(); });
    this.onListenerError((err, event) => {
      this.#log.error({ err: errorMessage(err), event }, 'in-line server listener failed');
    });
  }

  /** Binds the UDP (and TCP) listener. */
  async listen(): Promise<{ readonly udp: number; readonly tcp: number | undefined }> {
    if (this.#closed) throw new InvalidStateError('CS_STATE_CLOSED', 'in-line server closed');
    const bound = await this.#transport.listen();
    this.#ports = { udp: bound.udp, tcp: bound.tcp };
    this.#log.info({ udp: bound.udp, tcp: bound.tcp ?? 'off' }, 'in-line B2BUA listening');
    return this.#ports;
  }

  /** callseal's Contact toward a peer on `remote`. */
  contact(remote: Remote): string {
    const host = this.#o.advertisedAddress.includes(':') ? `[${this.#o.advertisedAddress}]` : this.#o.advertisedAddress;
    const tcp = remote.transport === 'TCP';
    const port = (tcp ? this.#ports?.tcp : this.#ports?.udp) ?? this.#o.config.port;
    return `<sip:callseal@${host}:${port}${tcp ? ';transport=tcp' : ''}>`;
  }

  /** Calls in progress. */
  get calls(): readonly InlineCall[] {
    return [...this.#calls.values()];
  }

  /** SIP counters for health and tests. */
  get stats(): SipStack['stats'] {
    return this.#stack.stats;
  }

  #onRequest(req: ServerRequest): void {
    if (req.message.method === 'PRACK' && !this.#uas.dialogs.forRequest(req.message)) {
      const callId = getHeader(req.message, 'call-id');
      const toTag = tagOf(getHeader(req.message, 'to'));
      const call = this.calls.find((c) => c.callId === callId && c.invite.localTag === toTag);
      if (call) {
        void call.prack(req);
        return;
      }
    }
    this.#uas.onRequest(req);
  }

  #onInvite(invite: IncomingInvite): void {
    const route = this.router.route(invite.remote.address, invite.request.uri);
    if (!route || this.#closed) {
      // The stack's allowlist lets only the two sides through; this is a closing server.
      invite.respond(this.#closed ? 503 : 403, this.#closed ? 'Service Unavailable' : 'Forbidden');
      return;
    }
    const key = retryKey(invite);
    const retryOf = this.#takeChallenged(key);
    const call = new InlineCall({ ctx: this.#uas.context, invite, route, contact: (r) => this.contact(r), log: this.#log, retryOf });
    this.#calls.set(invite, call);
    call.on('ended', () => {
      this.#calls.delete(invite);
      if (call.challenged) this.#keepChallenged(key, call.challenged);
    });
    this.safeEmit('call', call);
    void this.#run(call);
  }

  #takeChallenged(key: string): ChallengedLeg | undefined {
    const nowMs = this.#stack.scheduler.monoMs();
    for (const [k, v] of this.#challenged) {
      if (nowMs - v.atMs < CHALLENGE_KEPT_MS) break;
      this.#challenged.delete(k);
    }
    const kept = this.#challenged.get(key);
    this.#challenged.delete(key);
    return kept?.leg;
  }

  #keepChallenged(key: string, leg: ChallengedLeg): void {
    if (this.#challenged.size >= MAX_CHALLENGED) {
      const oldest = this.#challenged.keys().next();
      if (oldest.done !== true) this.#challenged.delete(oldest.value);
    }
    this.#challenged.set(key, { leg, atMs: this.#stack.scheduler.monoMs() });
  }

  async #run(call: InlineCall): Promise<void> {
    try {
      await this.#o.setUp?.(call);
    } catch (err) {
      this.#log.warn({ callId: call.callId, err: errorMessage(err) }, 'in-line call refused');
      call.invite.reject(err);
      call.hangUp('refused');
      return;
    }
    if (call.invite.cancelled) {
      call.cancel();
      return;
    }
    await call.start();
  }

  /** Ends every call with BYE and closes SIP; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.calls) call.hangUp('callseal shutting down');
    // The BYEs leave before the transport closes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.#uas.close();
    this.#stack.close();
    await this.#transport.close();
  }
}
