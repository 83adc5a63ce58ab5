/**
 * Session Recording Server (RFC 7866): the SIP side of recording sessions. Accepts recording
 * sessions from an SRC, answers each labelled stream recvonly, follows re-INVITEs and UPDATEs
 * (hold, added and removed streams, metadata snapshots and partial updates), and ends the
 * session on BYE, on CANCEL before answer, when its Recorder says media stopped or cannot go on,
 * when the SRC stops refreshing it, or at shutdown. Each dialog holds its SIP state and one
 * `Recorder` (`recording/`), which owns everything on disk and in the media workers; the policy
 * decides from `CallFacts` (`recorder-adapter.ts`). Transactions live in `sip/`.
 */
import type { Logger } from '../common/log.ts';
import { systemClock, type Clock, type Scheduler } from '../common/clock.ts';
import { TypedEmitter } from '../common/events.ts';
import { CallsealError, InvalidStateError, SipError, errorMessage } from '../common/errors.ts';
import {
  UasCore, getHeader, tagOf,
  type Dialog, type DialogEndReason, type DialogRequest, type IncomingInvite, type RespondOptions, type ServerRequest, type SipHeader, type SipRequest,
} from '../sip/index.ts';
import { Recorder, type LiveRecording } from '../recording/index.ts';
import type { SiprecServerEvents, SiprecServerOptions } from './server-options.ts';
import { IntakeGate, type IntakeBlock } from './intake-gate.ts';
import { SessionAdmitter } from './session-admission.ts';
import { ALLOW, ALLOW_METHODS, followDialog, SUPPORTED } from './dispatch.ts';
import { clearSessionTimer, isEnding, type Session } from './session.ts';
import { buildAnswer } from './sdp.ts';
import { intervalRefusal, judgeSessionTimer, RFC4028_MIN_SE_SEC, sessionExpiryByeDelayMs, sessionTimerHeaders } from './session-timer.ts';
import { ACCEPT_TYPES, contactFor, readBody, readInvite, readUpdate } from './request.ts';
import { callFactsOf, followUpdate, partiesOf, refusedAnswer, startRecording } from './recorder-adapter.ts';
/** The SIPREC recording server. */
export class SiprecServer extends TypedEmitter<SiprecServerEvents> {
  readonly #o: SiprecServerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #sessions = new Map<string, Session>();
  /** The RFC 3261 section 8.2 checks, the dialogs, CANCEL and the one mapping of errors to responses. */
  readonly #uas: UasCore;
  readonly #admission: SessionAdmitter;
  #closed = false;
  readonly #intake: IntakeGate;
  /**
   * Counters for health and tests: `rateLimited` INVITEs over a source's rate, `overCapacity`
   * INVITEs beyond `maxSessions` or `maxSessionsPerSource` (both answered 503), `quirks` SRC quirks accepted (docs/siprec.md).
   */
  readonly stats = { sessions: 0, recorded: 0, refused: 0, cancelled: 0, mediaTimeouts: 0, rateLimited: 0, overCapacity: 0, quirks: 0, refusedByStorage: 0, endedByFailure: 0 };

  constructor(options: SiprecServerOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? systemClock;
    this.#intake = new IntakeGate(options.log);
    this.#admission = new SessionAdmitter(options.admission, options.log);
    this.onListenerError((err, event) => {
      this.#log.error({ err: errorMessage(err), event }, 'listener failed');
    });
    this.#uas = new UasCore({
      stack: options.stack, log: options.log, supported: SUPPORTED, accept: ACCEPT_TYPES, allow: ALLOW_METHODS,
      contact: (remote) => contactFor(remote, options),
    });
    this.#uas.onInvite((invite) => { this.#onInvite(invite); });
    this.#uas.on('cancelled', (invite) => { this.#cancelled(invite); });
  }

  /** Dialogs held (recorded or not), and source addresses with a rate bucket: bounded tables for health. */
  get tables(): { readonly dialogs: number; readonly rateSources: number } {
    return { dialogs: this.#sessions.size, rateSources: this.#admission.rateSources };
  }

  /** Recordings in progress. */
  live(): LiveRecording[] {
    return [...this.#sessions.values()].filter((s) => s.state !== 'ended').map((s) => s.recorder.live());
  }

  /** A new INVITE that passed the UAS core's checks. */
  #onInvite(invite: IncomingInvite): void {
    if (this.#refuseInterval(invite.request, (err) => invite.reject(err))) return;
    // A second INVITE of a Call-ID with a session, not matched as a transaction nor as a pending
    // merged request: it came by another path after the first was answered (RFC 3261 section 8.2.2.2).
    if (this.#sessions.has(getHeader(invite.request, 'call-id') ?? '')) {
      invite.respond(482, 'Loop Detected');
      return;
    }
    void this.#newSession(invite).catch((err: unknown) => { this.#failRequest(invite, err); });
  }

  /** RFC 4028 section 9: 422 with Min-SE for a session interval below callseal's minimum; returns whether it refused. */
  #refuseInterval(msg: SipRequest, refuse: (err: SipError) => void): boolean {
    const err = intervalRefusal(msg, this.#minSeSec);
    if (err) this.#log.info({ callId: getHeader(msg, 'call-id'), err: err.message }, 'session interval too small; answered 422');
    if (err) refuse(err);
    return err !== undefined;
  }

  /** Invariant 3: a session that cannot be recorded is refused visibly (`sip/error-response.ts`: a failed media worker or no ports is a 503, so the SRC can use another recorder). */
  #failRequest(invite: IncomingInvite, err: unknown): void {
    this.stats.refused++;
    const callId = getHeader(invite.request, 'call-id') ?? '';
    if (err instanceof SipError) this.#log.warn({ callId, status: err.status, err: err.message }, 'recording session refused');
    else this.#log.error({ callId, err: errorMessage(err) }, 'recording session failed');
    invite.reject(err);
    this.safeEmit('failed', { callId, error: errorMessage(err) });
  }

  /** Counts and logs what an SRC sent outside the RFCs and callseal accepted anyway. */
  #noteQuirks(callId: string, quirks: readonly string[]): void {
    if (quirks.length === 0) return;
    this.stats.quirks += quirks.length;
    this.#log.info({ callId, quirks }, 'SRC quirks accepted');
  }

  async #newSession(invite: IncomingInvite): Promise<void> {
    if (this.#closed) throw new SipError('CS_STATE_CLOSED', 503, 'Service Unavailable', 'shutting down');
    const msg = invite.request;
    // The intake gate and the admission answer their refusals with the INVITE's tag.
    const req: ServerRequest = { message: msg, remote: invite.remote, respond: (status, reason, options) => invite.respond(status, reason, options) };
    const callId = getHeader(msg, 'call-id') ?? '';
    const { parts, quirks } = readBody(msg);
    this.#noteQuirks(callId, quirks);
    const { offer, layoutNote, metadata } = readInvite(msg, parts, this.#o.channels === 'stereo');
    if (layoutNote) this.#log.warn({ callId, note: layoutNote }, 'streams recorded in different codecs');
    // Invariant 3: a session that could not be kept (storage below its floor, database unwritable)
    // is refused visibly before any port or file exists, so the SRC can use another recorder.
    if (this.#intake.refuse(req, callId, this.#clock.nowMs())) {
      this.stats.refused++;
      this.stats.refusedByStorage++;
      this.safeEmit('failed', { callId, error: this.#intake.text ?? '' });
      return;
    }
    // Admission comes after the cheap checks (so junk INVITEs do not use up a source's rate) and
    // before the first await and the first port, so concurrent INVITEs cannot pass the caps together.
    if (!this.#admission.admit(req, this.#sessions, this.stats)) return;
    const parties = partiesOf(metadata, offer);
    const o = this.#o;
    const recorder = new Recorder({
      callId, mode: 'siprec', media: o.media, spool: o.spool, clock: this.#clock, scheduler: this.#scheduler, log: this.#log,
      rtpHost: o.rtpHost, reorderMs: o.reorderMs, channels: o.channels, mediaTimeoutSec: o.mediaTimeoutSec,
      parties, decision: o.decide(callFactsOf(callId, metadata, parties, this.#clock.nowMs()), 'new-session'),
      metadata: parts.metadata ? [parts.metadata] : [], layoutNote,
    });
    const session: Session = {
      callId, remoteTag: tagOf(getHeader(msg, 'from')) ?? '', localTag: invite.localTag, remote: invite.remote,
      recorder, sdpSession: recorder.id, metadata, offer, answerVersion: 1, dialog: undefined, state: 'starting', cancelled: false,
      sessionTimer: undefined, queue: Promise.resolve(),
    };
    this.#follow(session);
    this.#sessions.set(callId, session);
    this.stats.sessions++;
    try {
      // Not recorded: every stream is declined in the answer, so no audio ever reaches callseal;
      // the dialog stays, so a metadata update can still bring the call into scope.
      const answered = recorder.decision.record ? await startRecording(recorder, offer, this.#log) : offer.map(refusedAnswer);
      if (this.#o.answerDelayMs > 0) await new Promise((r) => setTimeout(r, this.#o.answerDelayMs));
      if (session.cancelled) return;
      // The UAS core's dialog retransmits the 2xx until the ACK; without one (64*T1) it sends BYE with Reason.
      const dialog = invite.accept(this.#answer(session, msg, buildAnswer(answered, this.#o.rtpAddress, session.sdpSession, session.answerVersion)));
      if (!dialog) throw new InvalidStateError('CS_STATE_CLOSED', `INVITE answered before its session was ready [callId:${callId}]`);
      recorder.confirmAnswer();
      session.dialog = dialog;
      session.state = 'answered';
      this.#followDialog(session, dialog);
      if (!recorder.recording) this.#log.info({ callId, reason: recorder.decision.reason }, 'call not recorded');
    } catch (err) {
      if (!session.cancelled) {
        clearSessionTimer(session);
        this.#sessions.delete(callId);
        session.state = 'ended';
        await recorder.discard();
      }
      throw err;
    }
  }

  /** Passes the Recorder's events on, and ends the dialog when the Recorder cannot go on. */
  #follow(session: Session): void {
    const r = session.recorder;
    r.on('started', (live) => { this.safeEmit('started', live); });
    r.on('recorded', (finished) => {
      this.stats.recorded++;
      this.safeEmit('recorded', finished);
    });
    r.on('failed', (f) => { this.safeEmit('failed', f); });
    r.on('stoppedByDtmf', (e) => { this.safeEmit('stoppedByDtmf', e); });
    r.on('ended', (e) => { this.safeEmit('ended', e); });
    r.on('timeout', () => {
      this.stats.mediaTimeouts++;
      this.#end(session, 'media-timeout', true);
    });
    r.on('unrecordable', (u) => {
      if (u.kind === 'worker-failed') this.stats.endedByFailure++;
      this.#end(session, u.reason, true, u.sipCause);
    });
  }

  #enqueue(session: Session, task: () => Promise<void>): void {
    session.queue = session.queue.then(task).catch((err: unknown) => {
      this.#log.error({ callId: session.callId, err: errorMessage(err) }, 'session update failed');
    });
  }

  /**
   * re-INVITE or UPDATE: new metadata, hold/resume, streams added or removed. Always answered,
   * through the dialog (a 2xx to a re-INVITE is retransmitted until its ACK): a request left
   * unanswered would keep the dialog's INVITE pending.
   */
  async #reinvite(session: Session, req: DialogRequest): Promise<void> {
    const msg = req.message;
    if (isEnding(session)) {
      req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (this.#refuseInterval(msg, (err) => this.#uas.respondError(req, err))) return;
    const r = session.recorder;
    let update;
    try {
      const { parts, quirks } = readBody(msg);
      this.#noteQuirks(session.callId, quirks);
      update = readUpdate(msg, parts, this.#o.channels === 'stereo', new Map(r.legs().map((l) => [l.label, l.codec])));
    } catch (err) {
      this.#uas.respondError(req, err instanceof SipError ? err : new SipError('CS_SIP_PARSE', 400, 'Bad Request', errorMessage(err)));
      return;
    }
    try {
      const streams = await followUpdate(r, session, update, this.#o.decide, this.#clock.nowMs(), this.#log);
      if (streams) session.answerVersion++;
      const sdp = streams ? buildAnswer(streams, this.#o.rtpAddress, session.sdpSession, session.answerVersion) : undefined;
      req.respond(200, 'OK', this.#answer(session, msg, sdp));
    } catch (err) {
      this.#log.error({ callId: session.callId, err: errorMessage(err) }, 'session update failed');
      this.#uas.respondError(req, err);
    }
  }

  /**
   * Ends a session: its Recorder closes the legs (padded to now) and finishes the files; optionally
   * BYE to the SRC. `cause` is the Reason header's SIP cause (RFC 3326): 200 for a normal end, 503
   * when callseal failed, so the SRC can move the call to another recorder.
   */
  #end(session: Session, reason: string, sendBye: boolean, cause = 200): void {
    if (isEnding(session)) return;
    clearSessionTimer(session);
    session.state = 'ending';
    if (sendBye) this.#sendBye(session, reason, cause);
    session.dialog?.close();
    this.#enqueue(session, async () => {
      try {
        await session.recorder.close(reason);
      } finally {
        session.state = 'ended';
        if (this.#sessions.get(session.callId) === session) this.#sessions.delete(session.callId);
      }
    });
  }

  /** BYE through the dialog, with `Reason` (RFC 3326); nothing before the INVITE is answered. */
  #sendBye(session: Session, reason: string, cause: number): void {
    const dialog = session.dialog;
    if (!dialog || dialog.state === 'terminated') return;
    const value = `SIP;cause=${cause};text="${reason.replace(/["\\\r\n]/g, "'").slice(0, 200)}"`;
    dialog.bye({ headers: [{ name: 'reason', value }] }).then((r) => {
      this.#log.info({ callId: session.callId, status: r.status }, 'BYE sent to the SRC');
    }, (err: unknown) => {
      this.#log.warn({ callId: session.callId, err: errorMessage(err) }, 'BYE to the SRC failed');
    });
  }

  /** Follows the session's dialog: its ACK confirms the session; without one (64*T1) the dialog sent BYE and the recording ends. */
  #followDialog(session: Session, dialog: Dialog): void {
    followDialog(dialog, {
      update: (req) => { this.#enqueue(session, () => this.#reinvite(session, req)); },
      activity: () => { session.recorder.noteSipActivity(); },
      acked: () => { if (session.state === 'answered') session.state = 'confirmed'; },
      ended: (reason: DialogEndReason) => {
        if (reason === 'bye' || reason === 'no-ack' || reason === 'gone') this.#end(session, reason, false);
      },
    }, this.#uas.capabilities);
  }

  /** Ends every recording (BYE to the SRCs) and waits until their files are finished. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    for (const s of sessions) this.#end(s, 'shutdown', true);
    await Promise.all(sessions.map((s) => s.queue));
    this.#uas.close();
  }

  /** The session whose running recording segment has the media engine leg `legId`. */
  #sessionOfLeg(legId: string): Session | undefined {
    for (const s of this.#sessions.values()) if (s.recorder.owns(legId)) return s;
    return undefined;
  }

  /** DTMF from a leg (RFC 4733, B6): the Recorder of its call looks for the stop code. */
  onDtmf(legId: string, digit: string, atMs: number): void {
    this.#sessionOfLeg(legId)?.recorder.dtmf(legId, digit, atMs);
  }

  /** A leg's file could not be written (a full disk): its Recorder ends the recording visibly (issue 4). */
  onLegFailed(legId: string, err: CallsealError): void {
    this.#sessionOfLeg(legId)?.recorder.legFailed(legId, err);
  }

  /**
   * A media worker failed (invariant 3): every session with a leg in it ends now, with BYE and
   * `Reason: SIP;cause=503` so the SRC can fail over; the legs' files end where the worker stopped
   * and are sealed with `end-reason` naming the failure. A session still being answered gets a
   * 503 to its INVITE instead. Returns the call ids ended.
   */
  onWorkerFailed(legIds: readonly string[], failure: string): string[] {
    const ended: string[] = [];
    for (const session of this.#sessions.values()) {
      if (isEnding(session) || !legIds.some((id) => session.recorder.owns(id))) continue;
      session.recorder.workerFailed(failure);
      if (isEnding(session)) ended.push(session.callId);
    }
    return ended;
  }

  /**
   * Refuses new sessions (503 with Retry-After and Warning) while storage or the database cannot
   * take them; `undefined` takes them again. Running recordings are not touched.
   */
  setIntake(block: IntakeBlock | undefined): void {
    this.#intake.set(block);
  }

  /** Whether new sessions are refused, and why. */
  get intakeBlock(): string | undefined {
    return this.#intake.text;
  }

  /**
   * Ends every running recording before the disk is full (`recording.stopFreeMb`): BYE with
   * `Reason: SIP;cause=503`, files finished and sealed with `reason` as end-reason. Returns the call ids ended.
   */
  endRecordings(reason: string): string[] {
    const ended: string[] = [];
    for (const session of this.#sessions.values()) {
      if (!session.recorder.recording || (session.state !== 'answered' && session.state !== 'confirmed')) continue;
      this.stats.endedByFailure++;
      this.#log.error({ callId: session.callId, recordingId: session.recorder.id, reason }, 'recording ended: storage nearly full');
      this.#end(session, reason, true, 503);
      ended.push(session.callId);
    }
    return ended;
  }

  get #minSeSec(): number {
    return this.#o.minSessionExpiresSec ?? RFC4028_MIN_SE_SEC;
  }

  /**
   * The 2xx to an INVITE, re-INVITE or UPDATE of the dialog, with the SDP answer when there is one:
   * Contact for the dialog's transport, Supported, Allow, and the session timer (RFC 4028 section 9),
   * which is (re)armed from this answer on.
   */
  #answer(session: Session, msg: SipRequest, sdp: Buffer | undefined): RespondOptions {
    const timer = judgeSessionTimer(msg, this.#minSeSec);
    const headers: SipHeader[] = [
      { name: 'contact', value: contactFor(session.remote, this.#o) },
      { name: 'supported', value: SUPPORTED.join(', ') },
      { name: 'allow', value: ALLOW },
      ...sessionTimerHeaders(timer),
      ...(sdp ? [{ name: 'content-type', value: 'application/sdp' }] : []),
    ];
    clearSessionTimer(session);
    if (timer.kind === 'uac-refreshes') {
      session.sessionTimer = setTimeout(() => { this.#sessionExpired(session, timer.intervalSec); }, sessionExpiryByeDelayMs(timer.intervalSec)).unref();
    }
    return { headers, ...(sdp ? { body: sdp } : {}) };
  }

  /** The SRC did not refresh the session in time (RFC 4028 section 10): BYE, and the recording is sealed. */
  #sessionExpired(session: Session, intervalSec: number): void {
    session.sessionTimer = undefined;
    if (isEnding(session)) return;
    this.#log.warn({ callId: session.callId, recordingId: session.recorder.id, intervalSec }, 'session not refreshed by the SRC; ending the recording');
    this.#end(session, 'session-timer-expired', true);
  }

  /** The UAS core answered a CANCEL of a pending INVITE (200, and 487 to the INVITE): nothing is recorded. */
  #cancelled(invite: IncomingInvite): void {
    const session = this.#sessions.get(getHeader(invite.request, 'call-id') ?? '');
    if (session?.localTag !== invite.localTag || session.state !== 'starting') return;
    session.cancelled = true;
    session.state = 'ended';
    this.stats.cancelled++;
    this.#sessions.delete(session.callId);
    this.#log.info({ callId: session.callId }, 'recording session cancelled before answer; nothing was recorded');
    // The Recorder discards after what the INVITE handling is still opening.
    session.recorder.discard().catch((err: unknown) => {
      this.#log.error({ callId: session.callId, err: errorMessage(err) }, 'discarding a cancelled session failed');
    });
  }
}
