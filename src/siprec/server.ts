/**
 * Session Recording Server (RFC 7866). Accepts recording sessions from an SRC, answers each
 * labelled stream recvonly on a contiguous block of RTP ports, follows re-INVITEs and UPDATEs
 * (hold, added and removed streams, metadata snapshots and partial updates), and ends the
 * recording on BYE, on CANCEL before answer, when media stops, or at shutdown — files closed
 * and kept, never half-written. Dialog state lives here; transactions live in `sip/`.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../common/log.ts';
import { TypedEmitter } from '../common/events.ts';
import { CallsealError, ParseError, SipError, errorMessage } from '../common/errors.ts';
import {
  getHeader, getHeaders, parseContentType, parseMultipartBody, parseNameAddr, randomToken, RateLimiter, RefusalLog, unmapAddress,
  type Remote, type ServerRequest, type SipHeader, type SipRequest, type SipResponse, type SipStack,
} from '../sip/index.ts';
import type { LegChange, LegResult, MediaEngine } from '../media/index.ts';
import type { FinishedRecording, PartyInfo, RecordingStore, SpoolState } from '../recording/index.ts';
import { buildAnswer, codecLayoutNote, newLocalCrypto, parseOffer, type AnsweredStream, type OfferedStream } from './sdp.ts';
import { judgeAccept } from './accept.ts';
import { judgeSessionTimer, RFC4028_MIN_SE_SEC, sessionExpiryByeDelayMs, sessionTimerHeaders } from './session-timer.ts';
import { mergeMetadata, parseMetadata, resolveParties, type Participant, type RecordingMetadata } from './metadata.ts';

/**
 * Extensions callseal implements (RFC 3261 section 8.2.2.3): SIPREC and RFC 4028 session timers
 * (as UAS with the SRC refreshing, `session-timer.ts`). Nothing else is advertised.
 */
const SUPPORTED = ['siprec', 'timer'];
const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO';
const ACCEPT = 'application/sdp, application/rs-metadata+xml, application/rs-metadata, multipart/mixed';
/** A dialog whose streams are declined ends after this long without any SIP from the SRC. */
const NOT_RECORDED_IDLE_MS = 12 * 3600 * 1000;

/** The recording decision for a session (made by the policy; A9). */
export interface SessionDecision {
  readonly record: boolean;
  readonly setting: string;
  readonly reason: string;
  /** caller or callee records one party only; stereo or separate both (B1). */
  readonly channels?: 'caller' | 'callee' | 'stereo' | 'separate' | undefined;
  /** DTMF code that stops the recording (B6), pressed by `internalParty`. */
  readonly stopCode?: string | undefined;
  readonly internalParty?: 'caller' | 'callee' | 'both' | undefined;
  /** Direction as the policy determined it. */
  readonly direction?: 'in' | 'out' | 'internal' | 'external' | undefined;
  /** Storage targets of the setting (F1). */
  readonly targetIds?: readonly string[] | undefined;
  /** How long the setting keeps its recordings (F6). */
  readonly retention?: { readonly years: number; readonly days: number } | undefined;
}

/** Facts the decision is made from. */
export interface SessionFacts {
  readonly callId: string;
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly direction: 'in' | 'out' | 'unknown';
  /** Numbers the call was diverted from, as the SRC's metadata states them (B4). */
  readonly diversions: readonly string[];
  /** `new-session` or `metadata-update`. */
  readonly event: string;
}

/** Options of {@link SiprecServer}. */
export interface SiprecServerOptions {
  readonly stack: SipStack;
  readonly media: MediaEngine;
  readonly store: RecordingStore;
  readonly log: Logger;
  /** Address and UDP port for Contact headers. */
  readonly sipAddress: string;
  readonly sipPort: number;
  /** TCP and TLS ports for Contact headers of dialogs over them (TCP defaults to `sipPort`). */
  readonly sipTcpPort?: number | undefined;
  readonly sipTlsPort?: number | undefined;
  /** The smallest session interval accepted (RFC 4028 Min-SE); smaller requests get 422. Default 90 s. */
  readonly minSessionExpiresSec?: number | undefined;
  /** Bind host and advertised address of RTP. */
  readonly rtpHost: string;
  readonly rtpAddress: string;
  readonly channels: 'stereo' | 'separate';
  readonly reorderMs: number;
  readonly mediaTimeoutSec: number;
  readonly answerDelayMs: number;
  readonly decide?: (facts: SessionFacts) => SessionDecision;
  /** Who may open how many sessions (issue 3); unlimited when omitted. */
  readonly admission?: SessionAdmission | undefined;
}

/** Limits on opening recording sessions; refused INVITEs get 503 with Retry-After and leave nothing behind. */
export interface SessionAdmission {
  /** New sessions per second and source address (token bucket). */
  readonly newSessionsPerSecondPerSource: number;
  /** Bucket size: new sessions a source may open at once. */
  readonly newSessionBurstPerSource: number;
  /** Concurrent sessions per source address; 0 for no limit. */
  readonly maxSessionsPerSource: number;
  /** Concurrent sessions in total. */
  readonly maxSessions: number;
}

/** Source addresses whose token buckets are kept; the least recently seen is forgotten first. */
const MAX_RATE_SOURCES = 4096;

/** A live recording, as the live view shows it. */
export interface LiveRecording {
  readonly id: string;
  readonly callId: string;
  readonly startMs: number;
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly setting: string;
  readonly streams: number;
  /** RTP packets received and lost so far, over all open streams. */
  readonly packets: number;
  readonly lost: number;
}

/** Events of the server. */
export interface SiprecServerEvents {
  started: [LiveRecording];
  recorded: [FinishedRecording];
  failed: [{ readonly callId: string; readonly error: string }];
  stoppedByDtmf: [{ readonly callId: string; readonly code: string; readonly role: string; readonly atMs: number }];
}

interface LiveLeg {
  readonly legId: string;
  readonly label: string;
  readonly port: number;
  readonly codec: string;
  payloadType: number;
  crypto: string | undefined;
  readonly localCrypto: string | undefined;
  open: boolean;
}

interface Session {
  /** Id of the current recording segment (a new one after a stop and restart). */
  id: string;
  readonly callId: string;
  readonly remoteTag: string;
  readonly localTag: string;
  readonly remote: Remote;
  readonly remoteTarget: string;
  /** The SRC's From and To values, for requests callseal sends in the dialog. */
  readonly remoteFrom: string;
  readonly localTo: string;
  startMs: number;
  readonly workerIndex: number;
  portBlocks: [number, number][];
  legs: LiveLeg[];
  legCount: number;
  results: Map<string, LegResult>;
  metadataFiles: string[];
  /** Every metadata version received in the dialog, raw. */
  readonly metadataRaw: Buffer[];
  /** Whether a recording segment is running. */
  recording: boolean;
  /** Stopped by DTMF: never restarted for this call. */
  stopped: boolean;
  decision: SessionDecision;
  /** Recent DTMF digits per party. */
  readonly dtmf: Map<string, { digits: string; lastMs: number }>;
  metadata: RecordingMetadata | undefined;
  offer: OfferedStream[];
  answerVersion: number;
  localCSeq: number;
  state: 'starting' | 'answered' | 'confirmed' | 'ending' | 'ended';
  cancelled: boolean;
  setting: string;
  lastSipActivityMs: number;
  retransmitTimer: NodeJS.Timeout | undefined;
  /** Ends the session when the SRC stops refreshing it (RFC 4028 section 10); unset without a session timer. */
  sessionTimer: NodeJS.Timeout | undefined;
  /** Why the streams are not in one file (recorded in different codecs), for `_info.txt`. */
  layoutNote: string | undefined;
  /** Serializes re-INVITE/UPDATE handling and ending. */
  queue: Promise<void>;
}

/** Parts of a SIPREC request body. */
interface BodyParts {
  readonly sdp: Buffer | undefined;
  readonly metadata: Buffer | undefined;
  /** Deviations accepted while reading the body (`docs/siprec.md`, quirks). */
  readonly quirks: readonly string[];
}

/** The SIPREC recording server. */
export class SiprecServer extends TypedEmitter<SiprecServerEvents> {
  readonly #o: SiprecServerOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, Session>();
  readonly #timer: NodeJS.Timeout;
  readonly #rate: RateLimiter | undefined;
  readonly #refusals = new RefusalLog();
  #closed = false;
  /** Why new sessions are refused (storage below its floor, database unwritable); undefined when they are taken. */
  /** Sessions not yet answered whose media worker failed, with the failure. */
  readonly #startingFailures = new Map<string, string>();
  #intakeBlock: { readonly code: 'CS_STORAGE_LOW' | 'CS_DATABASE_UNWRITABLE'; readonly text: string } | undefined;
  /**
   * Counters for health and tests: `rateLimited` INVITEs over a source's rate, `overCapacity`
   * INVITEs beyond `maxSessions` or `maxSessionsPerSource` (both answered 503), `quirks` SRC quirks accepted (docs/siprec.md).
   */
  readonly stats = { sessions: 0, recorded: 0, refused: 0, cancelled: 0, mediaTimeouts: 0, rateLimited: 0, overCapacity: 0, quirks: 0, refusedByStorage: 0, endedByFailure: 0 };

  constructor(options: SiprecServerOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    const a = options.admission;
    this.#rate = a ? new RateLimiter({ perSecond: a.newSessionsPerSecondPerSource, burst: a.newSessionBurstPerSource, maxKeys: MAX_RATE_SOURCES }) : undefined;
    this.onListenerError((err, event) => {
      this.#log.error({ err: errorMessage(err), event }, 'listener failed');
    });
    options.stack.setUser({ onRequest: (req) => { this.#onRequest(req); } });
    this.#timer = setInterval(() => { this.#checkMedia(); }, 2000).unref();
  }

  /** Dialogs held (recorded or not), and source addresses with a rate bucket: bounded tables for health. */
  get tables(): { readonly dialogs: number; readonly rateSources: number } {
    return { dialogs: this.#sessions.size, rateSources: this.#rate?.size ?? 0 };
  }

  /** Recordings in progress. */
  live(): LiveRecording[] {
    return [...this.#sessions.values()].filter((s) => s.state !== 'ended').map((s) => this.#liveView(s));
  }

  #liveView(s: Session): LiveRecording {
    const parties = this.#parties(s);
    const open = s.legs.filter((l) => l.open);
    let packets = 0;
    let lost = 0;
    for (const l of open) {
      const a = this.#o.media.activity(`${s.id}/${l.legId}`);
      packets += a?.received ?? 0;
      lost += a?.lost ?? 0;
    }
    return { id: s.id, callId: s.callId, startMs: s.startMs, caller: parties.caller, callee: parties.callee, setting: s.setting, streams: open.length, packets, lost };
  }

  #onRequest(req: ServerRequest): void {
    const msg = req.message;
    const callId = getHeader(msg, 'call-id') ?? '';
    const toTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(getHeader(msg, 'to') ?? '')?.[1];
    const session = this.#sessions.get(callId);
    const dialog = toTag !== undefined && session?.localTag === toTag ? session : undefined;
    if (msg.method !== 'ACK' && msg.method !== 'CANCEL') {
      // RFC 3261 section 8.2.2.1: a Request-URI scheme callseal does not know gets 416.
      if (!/^(sips?|tel):/i.test(msg.uri)) {
        req.respond(416, 'Unsupported URI Scheme');
        return;
      }
      // RFC 3261 section 8.2.2.3: unknown extensions in Require get 420 with Unsupported.
      const unsupported = getHeaders(msg, 'require').filter((r) => !SUPPORTED.includes(r.toLowerCase().trim()));
      if (unsupported.length > 0) {
        req.respond(420, 'Bad Extension', { headers: errorHeaders(new BadExtensionError(unsupported)) });
        return;
      }
    }
    if (msg.method === 'INVITE' || msg.method === 'UPDATE') {
      // RFC 4028 section 9: an interval below callseal's minimum gets 422 with Min-SE, before any state.
      const timer = judgeSessionTimer(msg, this.#minSeSec);
      if (timer.kind === 'too-small') {
        this.#log.info({ callId, requestedSec: timer.requestedSec, minSeSec: timer.minSeSec }, 'session interval too small; answered 422');
        req.respond(422, 'Session Interval Too Small', { headers: errorHeaders(new SessionIntervalError(timer.requestedSec, timer.minSeSec)) });
        return;
      }
    }
    switch (msg.method) {
      case 'INVITE':
        if (toTag === undefined) {
          if (session) {
            req.respond(482, 'Loop Detected');
            return;
          }
          void this.#newSession(req).catch((err: unknown) => { this.#failRequest(req, err); });
        } else if (dialog) {
          this.#enqueue(dialog, () => this.#reinvite(dialog, req));
        } else req.respond(481, 'Call/Transaction Does Not Exist');
        return;
      case 'ACK':
        if (dialog) this.#ack(dialog);
        return;
      case 'BYE':
        if (!dialog) {
          req.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        req.respond(200, 'OK');
        this.#end(dialog, 'bye', false);
        return;
      case 'CANCEL':
        this.#cancel(req, session);
        return;
      case 'UPDATE':
        if (!dialog) {
          req.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        this.#enqueue(dialog, () => this.#reinvite(dialog, req));
        return;
      case 'OPTIONS':
        if (dialog) dialog.lastSipActivityMs = Date.now();
        req.respond(200, 'OK', { headers: [{ name: 'allow', value: ALLOW }, { name: 'accept', value: ACCEPT }, { name: 'supported', value: SUPPORTED.join(', ') }] });
        return;
      case 'INFO':
        if (!dialog) req.respond(481, 'Call/Transaction Does Not Exist');
        else {
          dialog.lastSipActivityMs = Date.now();
          req.respond(200, 'OK');
        }
        return;
      case 'REGISTER': case 'SUBSCRIBE': case 'NOTIFY': case 'PUBLISH': case 'MESSAGE': case 'REFER': case 'PRACK':
        req.respond(405, 'Method Not Allowed', { headers: [{ name: 'allow', value: ALLOW }] });
        return;
      default:
        req.respond(501, 'Not Implemented', { headers: [{ name: 'allow', value: ALLOW }] });
    }
  }

  /**
   * Admission of a new session (issue 3): a source over its rate, or beyond the session caps, gets
   * 503 with Retry-After before any port, file or dialog exists for it. Only INVITEs that would
   * open a session count. Refusals are counted and
   * logged with the source (at most every few seconds per source and reason).
   */
  #admit(req: ServerRequest): boolean {
    const a = this.#o.admission;
    if (!a || !this.#rate) return true;
    const address = unmapAddress(req.remote.address);
    let reason: 'rate' | 'source-cap' | 'total-cap' | undefined;
    let retryAfterSec = 1;
    if (this.#sessions.size >= a.maxSessions) reason = 'total-cap';
    else if (a.maxSessionsPerSource > 0 && this.#sessionsFrom(address) >= a.maxSessionsPerSource) reason = 'source-cap';
    else if (!this.#rate.take(address, performance.now())) {
      reason = 'rate';
      retryAfterSec = this.#rate.retryAfterSec(address);
    }
    if (reason === undefined) return true;
    if (reason === 'rate') this.stats.rateLimited++;
    else this.stats.overCapacity++;
    const suppressed = this.#refusals.shouldLog(`${reason}|${address}`, Date.now());
    if (suppressed !== undefined) {
      this.#log.warn({ remote: req.remote, callId: getHeader(req.message, 'call-id'), reason, suppressed, sessions: this.#sessions.size }, 'recording session refused: too many sessions from this source');
    }
    const text = reason === 'rate' ? 'too many new sessions from this source' : reason === 'source-cap' ? 'too many sessions from this source' : 'too many sessions';
    req.respond(503, 'Service Unavailable', { headers: [{ name: 'retry-after', value: String(retryAfterSec) }, ...warning(text)] });
    return false;
  }

  #sessionsFrom(address: string): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (unmapAddress(s.remote.address) === address) n++;
    return n;
  }

  #failRequest(req: ServerRequest, err: unknown): void {
    this.stats.refused++;
    const callId = getHeader(req.message, 'call-id') ?? '';
    if (err instanceof SipError) {
      this.#log.warn({ callId, status: err.status, err: err.message }, 'recording session refused');
      req.respond(err.status, err.reason, { headers: errorHeaders(err) });
    } else {
      this.#log.error({ callId, err: errorMessage(err) }, 'recording session failed');
      // Invariant 3: refuse visibly so the SRC knows the call is not being recorded.
      // A failed media worker is a temporary refusal too: the SRC can use another recorder.
      const busy = err instanceof CallsealError && (err.code === 'CS_PORTS_EXHAUSTED' || err.code === 'CS_MEDIA_WORKER_FAILED');
      req.respond(busy ? 503 : 500, busy ? 'Service Unavailable' : 'Server Internal Error', { headers: warning(errorMessage(err)) });
    }
    this.safeEmit('failed', { callId, error: errorMessage(err) });
  }

  /**
   * Checks Accept (RFC 3261 section 8.2.3) with {@link judgeAccept}: a SIPREC client that omits
   * `application/sdp` is recorded and the omission counted. Returns the quirks seen.
   */
  #checkRequest(msg: SipRequest): string[] {
    const verdict = judgeAccept({ method: msg.method, accept: getHeaders(msg, 'accept'), require: getHeaders(msg, 'require'), contact: getHeader(msg, 'contact') ?? '' });
    if (verdict === 'refuse') throw new SipError('CS_SDP_INVALID', 406, 'Not Acceptable', 'Accept does not allow application/sdp');
    return verdict === 'ok' ? [] : ['accept-without-sdp'];
  }

  /** Counts and logs what an SRC sent outside the RFCs and callseal accepted anyway. */
  #noteQuirks(callId: string, quirks: readonly string[]): void {
    if (quirks.length === 0) return;
    this.stats.quirks += quirks.length;
    this.#log.info({ callId, quirks }, 'SRC quirks accepted');
  }

  #parts(msg: SipRequest): BodyParts {
    if (msg.body.length === 0) return { sdp: undefined, metadata: undefined, quirks: [] };
    const contentType = getHeader(msg, 'content-type') ?? '';
    const { type } = parseContentType(contentType);
    if (type === 'application/sdp') return { sdp: msg.body, metadata: undefined, quirks: [] };
    if (type === 'application/rs-metadata+xml' || type === 'application/rs-metadata') return { sdp: undefined, metadata: msg.body, quirks: [] };
    if (type === 'multipart/mixed') {
      let split;
      try {
        split = parseMultipartBody(msg.body, contentType);
      } catch (err) {
        throw new SipError('CS_SIP_MULTIPART', 400, 'Bad Request', errorMessage(err), { cause: err });
      }
      const { parts } = split;
      // Part order varies between SRCs; unknown parts (Cisco application/gtd) are ignored.
      const sdp = parts.find((p) => p.contentType === 'application/sdp')?.body;
      const metadata = parts.find((p) => p.contentType === 'application/rs-metadata+xml' || p.contentType === 'application/rs-metadata')?.body;
      return { sdp, metadata, quirks: split.quirks.map((q) => `multipart-${q}`) };
    }
    throw new SipError('CS_SDP_INVALID', 415, 'Unsupported Media Type', `body of type ${type || '(none)'} is not recordable`);
  }

  #metadata(body: Buffer | undefined): RecordingMetadata | undefined {
    if (!body) return undefined;
    try {
      return parseMetadata(body);
    } catch (err) {
      if (err instanceof ParseError && /exceeds/.test(err.message)) throw new SipError('CS_SIPREC_METADATA', 413, 'Request Entity Too Large', err.message);
      throw new SipError('CS_SIPREC_METADATA', 400, 'Bad Request', `recording metadata: ${errorMessage(err)}`, { cause: err });
    }
  }

  async #newSession(req: ServerRequest): Promise<void> {
    if (this.#closed) throw new SipError('CS_STATE_CLOSED', 503, 'Service Unavailable', 'shutting down');
    const msg = req.message;
    const callId = getHeader(msg, 'call-id') ?? '';
    const acceptQuirks = this.#checkRequest(msg);
    const parts = this.#parts(msg);
    this.#noteQuirks(callId, [...acceptQuirks, ...parts.quirks]);
    const contact = getHeader(msg, 'contact') ?? '';
    const isSiprec = getHeaders(msg, 'require').some((r) => /^siprec$/i.test(r.trim())) || /[;\s]\+?sip\.src\b|;\s*src\b/i.test(contact) || parts.metadata !== undefined;
    if (!isSiprec) throw new SipError('CS_SIPREC_NOT_SIPREC', 488, 'Not Acceptable Here', 'not a SIPREC recording session (no Require: siprec, +sip.src or metadata)');
    if (!parts.sdp) throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', 'INVITE without an SDP offer is not supported');
    const offer = parseOffer(parts.sdp, { stereo: this.#o.channels === 'stereo' });
    const layoutNote = codecLayoutNote(offer);
    if (layoutNote) this.#log.warn({ callId, note: layoutNote }, 'streams recorded in different codecs');
    if (offer.every((s) => s.refused !== undefined)) {
      throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', `no recordable stream: ${offer.map((s) => s.refused).join('; ')}`);
    }
    const metadata = this.#metadata(parts.metadata);
    // Invariant 3: a session that could not be kept (storage below its floor, database unwritable)
    // is refused visibly before any port or file exists, so the SRC can use another recorder.
    const block = this.#intakeBlock;
    if (block) {
      this.stats.refused++;
      this.stats.refusedByStorage++;
      if (this.#refusals.shouldLog(block.code, Date.now()) !== undefined) this.#log.warn({ callId, code: block.code, reason: block.text }, 'recording session refused: storage not usable');
      req.respond(503, 'Service Unavailable', { headers: [{ name: 'retry-after', value: '30' }, ...warning(block.text)] });
      this.safeEmit('failed', { callId, error: block.text });
      return;
    }
    // Admission comes after the cheap checks (so junk INVITEs do not use up a source's rate) and
    // before the first await and the first port, so concurrent INVITEs cannot pass the caps together.
    if (!this.#admit(req)) return;
    const from = parseNameAddr(getHeader(msg, 'from') ?? '');
    const remoteTarget = contact ? parseNameAddr(contact).uri : from.uri;
    const startMs = Date.now();
    const id = randomToken(6);
    const session: Session = {
      id, callId, remoteTag: from.tag ?? '', localTag: randomToken(6), remote: req.remote, remoteTarget,
      remoteFrom: getHeader(msg, 'from') ?? '', localTo: getHeader(msg, 'to') ?? '', startMs,
      workerIndex: this.#o.media.pickWorker(), portBlocks: [], legs: [], legCount: 0, results: new Map(), metadataFiles: [],
      metadataRaw: parts.metadata ? [parts.metadata] : [], recording: false, stopped: false,
      decision: { record: false, setting: '', reason: '' }, dtmf: new Map(),
      metadata, offer, answerVersion: 1, localCSeq: 1, state: 'starting', cancelled: false,
      setting: '', lastSipActivityMs: startMs, retransmitTimer: undefined, sessionTimer: undefined, layoutNote, queue: Promise.resolve(),
    };
    session.decision = this.#decide(session, 'new-session');
    this.#sessions.set(callId, session);
    this.stats.sessions++;
    try {
      let answered: AnsweredStream[];
      if (session.decision.record) answered = await this.#startSegment(session, offer);
      else {
        // Not recorded: every stream is declined in the answer, so no audio ever reaches callseal;
        // the dialog stays, so a metadata update can still bring the call into scope.
        answered = offer.map((o) => ({ offer: o, localPort: 0, localCrypto: undefined }));
      }
      if (this.#o.answerDelayMs > 0) await new Promise((r) => setTimeout(r, this.#o.answerDelayMs));
      if (session.cancelled) return;
      const workerFailure = this.#startingFailures.get(session.id);
      if (workerFailure !== undefined) throw new CallsealError('CS_MEDIA_WORKER_FAILED', `media worker failed before the answer: ${workerFailure}`);
      const answer = buildAnswer(answered, this.#o.rtpAddress, session.id, session.answerVersion);
      const response = this.#answer(session, req, answer);
      session.state = 'answered';
      if (session.recording) {
        const parties = this.#parties(session);
        this.#log.info({ callId, recordingId: session.id, callerBy: parties.source, channelsBy: parties.labelSource, callerLabel: parties.callerLabel, calleeLabel: parties.calleeLabel, setting: session.setting, streams: answered.filter((a) => a.localPort > 0).length, basePort: session.portBlocks[0]?.[0], remote: req.remote }, 'recording started');
        this.safeEmit('started', this.#liveView(session));
      } else this.#log.info({ callId, reason: session.decision.reason }, 'call not recorded');
      this.#retransmit2xx(session, req, response.status);
    } catch (err) {
      if (!session.cancelled) {
        this.#sessions.delete(callId);
        await this.#discard(session);
      }
      throw err;
    } finally {
      this.#startingFailures.delete(session.id);
    }
  }

  /** Asks the policy; without one, every call is recorded by the default setting. */
  #decide(session: Session, event: string): SessionDecision {
    const parties = this.#parties(session);
    return this.#o.decide?.({ callId: session.callId, caller: parties.caller, callee: parties.callee, direction: session.metadata?.direction ?? 'unknown', diversions: session.metadata?.diversions ?? [], event })
      ?? { record: true, setting: 'Record all calls', reason: 'default setting' };
  }

  /** Labels to record under the decision's channel choice (B1: caller or callee only). */
  #wanted(session: Session, o: OfferedStream): boolean {
    const ch = session.decision.channels;
    if (ch !== 'caller' && ch !== 'callee') return true;
    const p = this.#parties(session);
    return o.label === (ch === 'caller' ? p.callerLabel : p.calleeLabel);
  }

  /** Starts a recording segment: spool, metadata, contiguous ports, legs. */
  async #startSegment(session: Session, offer: readonly OfferedStream[]): Promise<AnsweredStream[]> {
    // A call that enters the scope mid-call is recorded from now, not from its INVITE.
    if (session.state !== 'starting') session.startMs = Date.now();
    session.recording = true;
    session.setting = session.decision.setting;
    await this.#o.store.create(session.id);
    const latest = session.metadataRaw[session.metadataRaw.length - 1];
    if (latest) session.metadataFiles.push(await this.#o.store.saveMetadata(session.id, 1, latest));
    const base = this.#o.media.ports.allocate(offer.length);
    session.portBlocks.push([base, offer.length]);
    const answered = await Promise.all(offer.map((o, i) => (this.#wanted(session, o)
      ? this.#openStream(session, o, base + 2 * i)
      : Promise.resolve({ offer: o, localPort: 0, localCrypto: undefined }))));
    await this.#saveState(session);
    return answered;
  }

  /** Closes the running segment (legs padded to `endMs`, files finished and handed to sealing). */
  async #closeSegment(session: Session, endMs: number, reason: string): Promise<void> {
    if (!session.recording) return;
    session.recording = false;
    await Promise.all(session.legs.filter((l) => l.open).map(async (leg) => {
      leg.open = false;
      try {
        session.results.set(leg.legId, await this.#o.media.closeLeg(`${session.id}/${leg.legId}`, endMs));
      } catch (err) {
        this.#log.error({ callId: session.callId, label: leg.label, err: errorMessage(err) }, 'closing a leg failed');
      }
    }));
    for (const [b, n] of session.portBlocks) this.#o.media.ports.release(b, n);
    const state = this.#spoolState(session);
    const results = new Map([...session.results].map(([k, v]) => [`${session.id}/${k}`, v]));
    try {
      // A full disk is waited out: the recording is finished and sealed as soon as space allows.
      const finished = await this.#o.store.finishRetrying(state, results, { endMs, endReason: reason, interrupted: false, lastPacketAtMs: undefined });
      this.stats.recorded++;
      this.#log.info({ callId: session.callId, recordingId: session.id, reason, dir: finished.dir, files: finished.files }, 'recording closed');
      this.safeEmit('recorded', finished);
    } catch (err) {
      this.#log.error({ callId: session.callId, recordingId: session.id, err: errorMessage(err) }, 'finishing the recording failed; spool kept for recovery');
      this.safeEmit('failed', { callId: session.callId, error: errorMessage(err) });
    }
  }

  /** Stops recording but keeps the dialog (policy change or DTMF stop); a later start is a new recording. */
  #stopSegment(session: Session, reason: string): Promise<void> {
    const endMs = Date.now();
    return this.#closeSegment(session, endMs, reason).then(() => {
      session.id = randomToken(6);
      session.legs = [];
      session.legCount = 0;
      session.results = new Map();
      session.portBlocks = [];
      session.metadataFiles = [];
      session.startMs = Date.now();
    });
  }

  /** DTMF from a leg (RFC 4733, B6): the internal party's stop code ends the recording of this call. */
  onDtmf(legId: string, digit: string, atMs: number): void {
    const segment = legId.slice(0, legId.indexOf('/'));
    const session = [...this.#sessions.values()].find((s) => s.id === segment);
    if (!session?.recording) return;
    const code = session.decision.stopCode;
    if (!code) return;
    const leg = session.legs.find((l) => `${session.id}/${l.legId}` === legId);
    const p = this.#parties(session);
    const role = leg?.label === p.callerLabel ? 'caller' : leg?.label === p.calleeLabel ? 'callee' : 'other';
    const who = session.decision.internalParty;
    if (who !== 'both' && who !== role) return;
    const entry = session.dtmf.get(role) ?? { digits: '', lastMs: 0 };
    // Digits belong together when they come within 3 s of each other.
    entry.digits = (atMs - entry.lastMs > 3000 ? '' : entry.digits) + digit;
    entry.lastMs = atMs;
    session.dtmf.set(role, entry);
    if (!entry.digits.endsWith(code)) return;
    session.stopped = true;
    const when = new Date(atMs).toISOString();
    this.#log.info({ callId: session.callId, recordingId: session.id, code, role }, 'recording stopped by DTMF');
    this.safeEmit('stoppedByDtmf', { callId: session.callId, code, role, atMs });
    this.#enqueue(session, () => this.#stopSegment(session, `stopped by DTMF ${code} from the ${role} at ${when}`));
  }

  /** A leg's file could not be written (a full disk): the recording ends visibly, with what was written (issue 4). */
  onLegFailed(legId: string, err: CallsealError): void {
    const segment = legId.slice(0, legId.indexOf('/'));
    const session = [...this.#sessions.values()].find((s) => s.id === segment);
    if (!session?.recording) return;
    const reason = `${err.code === 'CS_RECORDING_DISK_FULL' ? 'disk-full' : 'disk-error'}: ${err.message}`;
    this.#log.error({ callId: session.callId, recordingId: session.id, legId, code: err.code, err: err.message }, 'recording ended by a write error');
    this.#end(session, reason, true);
  }

  /**
   * A media worker failed (invariant 3): every session with a leg in it ends now, with BYE and
   * `Reason: SIP;cause=503` so the SRC can fail over; the legs' files end where the worker stopped
   * and are sealed with `end-reason` naming the failure. Returns the call ids ended.
   */
  onWorkerFailed(legIds: readonly string[], failure: string): string[] {
    const segments = new Set(legIds.map((id) => id.slice(0, id.indexOf('/'))));
    const ended: string[] = [];
    for (const session of this.#sessions.values()) {
      if (!segments.has(session.id) || session.state === 'ending' || session.state === 'ended') continue;
      // A session still being answered gets a 503 to its INVITE instead (see #newSession).
      if (session.state === 'starting') {
        this.#startingFailures.set(session.id, failure);
        continue;
      }
      this.stats.endedByFailure++;
      this.#log.error({ callId: session.callId, recordingId: session.id, failure }, 'recording ended: its media worker failed');
      this.#end(session, `media-worker-failed: ${failure}`, true, 503);
      ended.push(session.callId);
    }
    return ended;
  }

  /**
   * Refuses new sessions (503 with Retry-After and Warning) while storage or the database cannot
   * take them; `undefined` takes them again. Running recordings are not touched.
   */
  setIntake(block: { readonly code: 'CS_STORAGE_LOW' | 'CS_DATABASE_UNWRITABLE'; readonly text: string } | undefined): void {
    if (block?.text === this.#intakeBlock?.text) return;
    if (block) this.#log.error({ code: block.code, reason: block.text }, 'new recording sessions are refused');
    else if (this.#intakeBlock) this.#log.info({ was: this.#intakeBlock.text }, 'new recording sessions are taken again');
    this.#intakeBlock = block;
  }

  /** Whether new sessions are refused, and why. */
  get intakeBlock(): string | undefined {
    return this.#intakeBlock?.text;
  }

  /**
   * Ends every running recording before the disk is full (`recording.stopFreeMb`): BYE with
   * `Reason: SIP;cause=503`, files finished and sealed with `reason` as end-reason. Returns the call ids ended.
   */
  endRecordings(reason: string): string[] {
    const ended: string[] = [];
    for (const session of this.#sessions.values()) {
      if (!session.recording || (session.state !== 'answered' && session.state !== 'confirmed')) continue;
      this.stats.endedByFailure++;
      this.#log.error({ callId: session.callId, recordingId: session.id, reason }, 'recording ended: storage nearly full');
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
  #answer(session: Session, req: ServerRequest, sdp: Buffer | undefined): SipResponse {
    const timer = judgeSessionTimer(req.message, this.#minSeSec);
    const headers: SipHeader[] = [
      { name: 'contact', value: this.#contact(session.remote) },
      { name: 'supported', value: SUPPORTED.join(', ') },
      { name: 'allow', value: ALLOW },
      ...sessionTimerHeaders(timer),
      ...(sdp ? [{ name: 'content-type', value: 'application/sdp' }] : []),
    ];
    const response = req.respond(200, 'OK', { toTag: session.localTag, headers, ...(sdp ? { body: sdp } : {}) });
    if (session.sessionTimer) clearTimeout(session.sessionTimer);
    session.sessionTimer = undefined;
    if (timer.kind === 'uac-refreshes') {
      session.sessionTimer = setTimeout(() => { this.#sessionExpired(session, timer.intervalSec); }, sessionExpiryByeDelayMs(timer.intervalSec)).unref();
    }
    return response;
  }

  /** The SRC did not refresh the session in time (RFC 4028 section 10): BYE, and the recording is sealed. */
  #sessionExpired(session: Session, intervalSec: number): void {
    session.sessionTimer = undefined;
    if (session.state === 'ending' || session.state === 'ended') return;
    this.#log.warn({ callId: session.callId, recordingId: session.id, intervalSec }, 'session not refreshed by the SRC; ending the recording');
    this.#end(session, 'session-timer-expired', true);
  }

  /**
   * callseal's Contact for a dialog: the transport the SRC used, so its in-dialog requests (BYE)
   * come the same way (RFC 3263; `sips:` over TLS, RFC 5630 section 3.1.3).
   */
  #contact(remote: Remote): string {
    const host = hostForUri(this.#o.sipAddress);
    switch (remote.transport) {
      case 'TLS': return `<sips:callseal@${host}:${this.#o.sipTlsPort ?? this.#o.sipPort}>;+sip.srs`;
      case 'TCP': return `<sip:callseal@${host}:${this.#o.sipTcpPort ?? this.#o.sipPort};transport=tcp>;+sip.srs`;
      case 'UDP': return `<sip:callseal@${host}:${this.#o.sipPort}>;+sip.srs`;
    }
  }

  /** Opens the leg of one offered stream (or answers it refused). */
  async #openStream(session: Session, offer: OfferedStream, port: number): Promise<AnsweredStream> {
    if (offer.refused !== undefined || !offer.codec || offer.payloadType === undefined) {
      if (offer.port !== 0) this.#log.info({ callId: session.callId, label: offer.label, reason: offer.refused }, 'stream refused');
      return { offer, localPort: 0, localCrypto: undefined };
    }
    session.legCount++;
    const legId = `leg-${session.legCount}`;
    const localCrypto = offer.crypto ? newLocalCrypto(offer.crypto.tag, offer.crypto.suite) : undefined;
    await this.#o.media.openLeg(session.workerIndex, {
      legId: `${session.id}/${legId}`, host: this.#o.rtpHost, port, codec: offer.codec.name, audioPayloadType: offer.payloadType,
      ...(offer.dtmfPayloadType !== undefined ? { dtmfPayloadType: offer.dtmfPayloadType } : {}),
      ...(offer.crypto ? { srtpCrypto: offer.crypto.value } : {}),
      path: this.#o.store.legPath(session.id, legId), startMs: session.startMs, reorderMs: this.#o.reorderMs,
      // Invariant 4: the worker records media only from the address the SRC's SDP names.
      ...(offer.address ? { remoteAddress: offer.address, remotePort: offer.port } : {}),
    });
    session.legs.push({ legId, label: offer.label, port, codec: offer.codec.name, payloadType: offer.payloadType, crypto: offer.crypto?.value, localCrypto, open: true });
    return { offer, localPort: port, localCrypto };
  }

  /** Retransmits the 2xx until the ACK arrives (RFC 3261 section 13.3.1.4); without an ACK the session ends. */
  #retransmit2xx(session: Session, req: ServerRequest, status: number): void {
    const { t1, t2 } = this.#o.stack.timers;
    if (req.remote.transport !== 'UDP') {
      // Reliable transports carry no retransmissions, but a dialog without an ACK still ends
      // after 64*T1, so unconfirmed dialogs cannot pile up (issue 3).
      session.retransmitTimer = setTimeout(() => {
        if (session.state !== 'answered') return;
        this.#log.warn({ callId: session.callId }, 'no ACK for the 2xx; ending the recording session');
        this.#end(session, 'no-ack', true);
      }, 64 * t1).unref();
      return;
    }
    let interval = t1;
    let elapsed = 0;
    const resend = (): void => {
      if (session.state !== 'answered') return;
      elapsed += interval;
      if (elapsed >= 64 * t1) {
        this.#log.warn({ callId: session.callId }, 'no ACK for the 2xx; ending the recording session');
        this.#end(session, 'no-ack', true);
        return;
      }
      req.respond(status, 'OK');
      interval = Math.min(interval * 2, t2);
      session.retransmitTimer = setTimeout(resend, interval).unref();
    };
    session.retransmitTimer = setTimeout(resend, interval).unref();
  }

  #ack(session: Session): void {
    if (session.state === 'answered') session.state = 'confirmed';
    session.lastSipActivityMs = Date.now();
    if (session.retransmitTimer) clearTimeout(session.retransmitTimer);
    session.retransmitTimer = undefined;
  }

  #cancel(req: ServerRequest, session: Session | undefined): void {
    const pending = this.#o.stack.pendingInviteFor(req.message);
    if (!pending) {
      // RFC 3261 section 9.2: no matching transaction, or already answered.
      req.respond(session ? 200 : 481, session ? 'OK' : 'Call/Transaction Does Not Exist');
      return;
    }
    req.respond(200, 'OK');
    pending.respond(487, 'Request Terminated');
    if (session && session.state === 'starting') {
      session.cancelled = true;
      this.stats.cancelled++;
      this.#sessions.delete(session.callId);
      this.#log.info({ callId: session.callId }, 'recording session cancelled before answer; nothing was recorded');
      void this.#enqueueDiscard(session);
    }
  }

  async #enqueueDiscard(session: Session): Promise<void> {
    // Wait until the INVITE handling has opened what it opens, then close it all.
    await new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 100 && session.legs.length === 0 && session.portBlocks.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await this.#discard(session);
  }

  /** Closes legs and removes the spool of a session that never started recording. */
  async #discard(session: Session): Promise<void> {
    session.state = 'ended';
    if (session.sessionTimer) clearTimeout(session.sessionTimer);
    await Promise.allSettled(session.legs.filter((l) => l.open).map((l) => this.#o.media.closeLeg(`${session.id}/${l.legId}`, Date.now())));
    for (const [base, n] of session.portBlocks) this.#o.media.ports.release(base, n);
    await rm(this.#o.store.spoolDir(session.id), { recursive: true, force: true });
  }

  #enqueue(session: Session, task: () => Promise<void>): void {
    session.queue = session.queue.then(task).catch((err: unknown) => {
      this.#log.error({ callId: session.callId, err: errorMessage(err) }, 'session update failed');
    });
  }

  /** re-INVITE or UPDATE: new metadata, hold/resume, streams added or removed. */
  async #reinvite(session: Session, req: ServerRequest): Promise<void> {
    const msg = req.message;
    if (session.state === 'ending' || session.state === 'ended') {
      req.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    session.lastSipActivityMs = Date.now();
    let parts: BodyParts;
    let update: RecordingMetadata | undefined;
    let offer: OfferedStream[] | undefined;
    try {
      const acceptQuirks = this.#checkRequest(msg);
      parts = this.#parts(msg);
      this.#noteQuirks(session.callId, [...acceptQuirks, ...parts.quirks]);
      update = this.#metadata(parts.metadata);
      // A stream keeps the codec its file is written in while the SRC still offers it.
      const keep = new Map(session.legs.filter((l) => l.open).map((l) => [l.label, l.codec]));
      offer = parts.sdp ? parseOffer(parts.sdp, { stereo: this.#o.channels === 'stereo', keep }) : undefined;
    } catch (err) {
      const e = err instanceof SipError ? err : new SipError('CS_SIP_PARSE', 400, 'Bad Request', errorMessage(err));
      req.respond(e.status, e.reason, { headers: errorHeaders(e) });
      return;
    }
    if (update && parts.metadata) {
      session.metadata = mergeMetadata(session.metadata, update);
      session.metadataRaw.push(parts.metadata);
      if (session.recording) session.metadataFiles.push(await this.#o.store.saveMetadata(session.id, session.metadataFiles.length + 1, parts.metadata));
      this.#log.info({ callId: session.callId, version: session.metadataRaw.length, mode: update.dataMode }, 'recording metadata updated');
      // A transfer can bring a call into or out of scope: ask the policy again.
      const before = session.decision;
      session.decision = this.#decide(session, 'metadata-update');
      if (before.record && !session.decision.record && session.recording) {
        await this.#stopSegment(session, `no longer in scope after a metadata update: ${session.decision.reason}`);
      } else if (!session.recording && session.decision.record && !session.stopped) {
        const streams = offer ?? session.offer;
        const answered = await this.#startSegment(session, streams);
        session.offer = streams;
        session.answerVersion++;
        this.#log.info({ callId: session.callId, recordingId: session.id, setting: session.setting, basePort: session.portBlocks[0]?.[0] }, 'recording started');
        this.safeEmit('started', this.#liveView(session));
        this.#answer(session, req, buildAnswer(answered, this.#o.rtpAddress, session.id, session.answerVersion));
        return;
      }
    }
    if (!session.recording) {
      // Not recording: every stream stays declined.
      const streams = offer ?? session.offer;
      session.offer = streams;
      session.answerVersion++;
      this.#answer(session, req, buildAnswer(streams.map((o) => ({ offer: o, localPort: 0, localCrypto: undefined })), this.#o.rtpAddress, session.id, session.answerVersion));
      return;
    }
    if (!offer) {
      if (msg.method === 'INVITE' && !parts.sdp) {
        // An offerless re-INVITE: offer the current streams again (RFC 3261 section 14.2).
        const again = session.offer.map((o) => this.#answerFor(session, o));
        session.answerVersion++;
        this.#answer(session, req, buildAnswer(again, this.#o.rtpAddress, session.id, session.answerVersion));
      } else this.#answer(session, req, undefined);
      await this.#saveState(session);
      return;
    }
    const answered: AnsweredStream[] = [];
    const seen = new Set<string>();
    for (const o of offer) {
      seen.add(o.label);
      let leg = session.legs.find((l) => l.open && l.label === o.label);
      // A hold that offers other codecs (Metaswitch holds with `c=0.0.0.0` offering `0 8` after
      // G.729) sends no media: the file stays open in its codec, which the resume offers again.
      const heldInOtherCodec = leg !== undefined && o.paused && o.codec !== undefined && o.codec.name !== leg.codec;
      if (leg && !heldInOtherCodec && o.refused === undefined && o.codec && o.codec.name !== leg.codec) {
        // The SRC no longer offers the codec this file is written in (B2: never transcode, never
        // write one codec's bytes as another's): the stream goes on in a new file.
        this.#log.info({ callId: session.callId, label: o.label, from: leg.codec, to: o.codec.name }, 'codec changed; the stream continues in a new file');
        await this.#closeLeg(session, leg);
        leg = undefined;
      }
      if (leg && (o.refused !== undefined || !o.codec)) {
        await this.#closeLeg(session, leg);
        answered.push({ offer: o, localPort: 0, localCrypto: undefined });
      } else if (leg) {
        const change: LegChange = {};
        if (!heldInOtherCodec) {
          if (o.payloadType !== undefined && o.payloadType !== leg.payloadType) leg.payloadType = o.payloadType;
          if (o.payloadType !== undefined) change.audioPayloadType = o.payloadType;
        }
        if (o.address) {
          change.remoteAddress = o.address;
          change.remotePort = o.port;
        }
        if (o.dtmfPayloadType !== undefined) change.dtmfPayloadType = o.dtmfPayloadType;
        if (o.crypto && o.crypto.value !== leg.crypto) {
          change.srtpCrypto = o.crypto.value;
          leg.crypto = o.crypto.value;
        }
        this.#o.media.updateLeg(`${session.id}/${leg.legId}`, change);
        answered.push({ offer: o, localPort: leg.port, localCrypto: leg.localCrypto });
      } else if (o.refused === undefined && this.#wanted(session, o)) {
        try {
          const base = this.#o.media.ports.allocate(1);
          session.portBlocks.push([base, 1]);
          answered.push(await this.#openStream(session, o, base));
          this.#log.info({ callId: session.callId, label: o.label, port: base }, 'stream added');
        } catch (err) {
          this.#log.error({ callId: session.callId, label: o.label, err: errorMessage(err) }, 'added stream could not be opened');
          answered.push({ offer: o, localPort: 0, localCrypto: undefined });
        }
      } else answered.push({ offer: o, localPort: 0, localCrypto: undefined });
    }
    for (const leg of session.legs.filter((l) => l.open && !seen.has(l.label))) await this.#closeLeg(session, leg);
    session.offer = offer;
    session.answerVersion++;
    this.#answer(session, req, buildAnswer(answered, this.#o.rtpAddress, session.id, session.answerVersion));
    await this.#saveState(session);
  }

  #answerFor(session: Session, o: OfferedStream): AnsweredStream {
    const leg = session.legs.find((l) => l.open && l.label === o.label);
    return leg ? { offer: o, localPort: leg.port, localCrypto: leg.localCrypto } : { offer: o, localPort: 0, localCrypto: undefined };
  }

  async #closeLeg(session: Session, leg: LiveLeg): Promise<void> {
    if (!leg.open) return;
    leg.open = false;
    try {
      session.results.set(leg.legId, await this.#o.media.closeLeg(`${session.id}/${leg.legId}`, Date.now()));
      this.#log.info({ callId: session.callId, label: leg.label }, 'stream removed');
    } catch (err) {
      this.#log.error({ callId: session.callId, label: leg.label, err: errorMessage(err) }, 'closing a stream failed');
    }
  }

  #parties(session: Session): { caller: PartyInfo; callee: PartyInfo; callerLabel: string | undefined; calleeLabel: string | undefined; all: PartyInfo[]; source: string; labelSource: string } {
    const labels = session.offer.filter((o) => o.mediaType === 'audio').map((o) => o.label);
    const p = resolveParties(session.metadata, labels);
    const info = (x: Participant | undefined): PartyInfo => ({ number: x?.number ?? '', name: x?.name ?? '', aor: x?.aor ?? '' });
    return {
      caller: info(p.caller), callee: info(p.callee), callerLabel: p.callerLabel, calleeLabel: p.calleeLabel,
      all: (session.metadata?.participants ?? []).map(info), source: p.source, labelSource: p.labelSource,
    };
  }

  #spoolState(session: Session): SpoolState {
    const p = this.#parties(session);
    return {
      id: session.id, callId: session.callId, siprecSessionId: session.metadata?.sessionId, startMs: session.startMs,
      legs: session.legs.map((l) => ({ legId: `${session.id}/${l.legId}`, label: l.label, codec: l.codec, path: this.#o.store.legPath(session.id, l.legId) })),
      metadataFiles: session.metadataFiles, caller: p.caller, callee: p.callee, callerLabel: p.callerLabel, calleeLabel: p.calleeLabel,
      participants: p.all, direction: session.metadata?.direction ?? session.decision.direction ?? 'unknown', setting: session.setting,
      channels: session.decision.channels === 'stereo' || session.decision.channels === 'separate' ? session.decision.channels : this.#o.channels,
      targetIds: session.decision.targetIds ?? [],
      ...(session.decision.retention ? { retention: session.decision.retention } : {}),
      callerBy: p.source, channelsBy: p.labelSource, layoutNote: session.layoutNote,
    };
  }

  async #saveState(session: Session): Promise<void> {
    await this.#o.store.saveState(this.#spoolState(session));
  }

  /**
   * Ends a recording: legs closed and padded to now, files finished; optionally BYE to the SRC.
   * `cause` is the Reason header's SIP cause (RFC 3326): 200 for a normal end, 503 when callseal
   * failed, so the SRC can move the call to another recorder.
   */
  #end(session: Session, reason: string, sendBye: boolean, cause = 200): void {
    if (session.state === 'ending' || session.state === 'ended') return;
    const endMs = Date.now();
    if (session.retransmitTimer) clearTimeout(session.retransmitTimer);
    if (session.sessionTimer) clearTimeout(session.sessionTimer);
    session.state = 'ending';
    if (sendBye) this.#sendBye(session, reason, cause);
    this.#enqueue(session, async () => {
      try {
        await this.#closeSegment(session, endMs, reason);
      } finally {
        session.state = 'ended';
        if (this.#sessions.get(session.callId) === session) this.#sessions.delete(session.callId);
      }
    });
  }

  #sendBye(session: Session, reason: string, cause: number): void {
    const branch = `z9hG4bK${randomToken(8)}`;
    const localFrom = /;\s*tag\s*=/i.test(session.localTo) ? session.localTo : `${session.localTo};tag=${session.localTag}`;
    const transport = session.remote.transport;
    const bye: SipRequest = {
      kind: 'request', method: 'BYE', uri: session.remoteTarget, version: 'SIP/2.0', body: Buffer.alloc(0),
      headers: [
        { name: 'via', value: `SIP/2.0/${transport} ${hostForUri(this.#o.sipAddress)}:${this.#o.sipPort};branch=${branch};rport` },
        { name: 'max-forwards', value: '70' },
        { name: 'from', value: localFrom },
        { name: 'to', value: session.remoteFrom },
        { name: 'call-id', value: session.callId },
        { name: 'cseq', value: `${session.localCSeq++} BYE` },
        { name: 'reason', value: `SIP;cause=${cause};text="${reason.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` },
      ],
    };
    void this.#o.stack.sendRequest(bye, session.remote).then((r) => {
      this.#log.info({ callId: session.callId, status: r?.status }, 'BYE sent to the SRC');
    });
  }

  /** Media timeout (and SRC gone): no RTP on any stream and no SIP activity for the configured time. */
  #checkMedia(): void {
    const now = Date.now();
    for (const session of this.#sessions.values()) {
      if (session.state !== 'confirmed' && session.state !== 'answered') continue;
      let last = Math.max(session.startMs, session.lastSipActivityMs);
      for (const leg of session.legs) {
        const a = this.#o.media.activity(`${session.id}/${leg.legId}`);
        if (a && a.lastPacketAtMs > last) last = a.lastPacketAtMs;
      }
      // A session that is not recorded gets no media by design: only a long SIP silence ends it.
      const limitMs = session.recording ? this.#o.mediaTimeoutSec * 1000 : NOT_RECORDED_IDLE_MS;
      if (now - last > limitMs) {
        this.stats.mediaTimeouts++;
        this.#log.warn({ callId: session.callId, idleMs: now - last }, 'no media and no signalling; ending the recording');
        this.#end(session, 'media-timeout', true);
      }
    }
  }

  /** Ends every recording (BYE to the SRCs) and waits until their files are finished. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const sessions = [...this.#sessions.values()];
    for (const s of sessions) this.#end(s, 'shutdown', true);
    await Promise.all(sessions.map((s) => s.queue));
  }
}

/** 420 Bad Extension, listing the extensions in Unsupported (RFC 3261 section 8.2.2.3). */
class BadExtensionError extends SipError {
  readonly unsupported: readonly string[];
  constructor(unsupported: readonly string[]) {
    super('CS_SIPREC_NOT_SIPREC', 420, 'Bad Extension', `unsupported extension ${unsupported.join(', ')}`);
    this.unsupported = unsupported;
  }
}

/** 422 Session Interval Too Small, carrying callseal's Min-SE (RFC 4028 section 9). */
class SessionIntervalError extends SipError {
  readonly minSeSec: number;
  constructor(requestedSec: number, minSeSec: number) {
    super('CS_SIP_SESSION_INTERVAL', 422, 'Session Interval Too Small', `session interval ${requestedSec} s is below the minimum ${minSeSec} s`);
    this.minSeSec = minSeSec;
  }
}

function errorHeaders(err: SipError): SipHeader[] {
  const extra: SipHeader[] = [];
  if (err instanceof BadExtensionError) extra.push({ name: 'unsupported', value: err.unsupported.join(', ') });
  if (err instanceof SessionIntervalError) extra.push({ name: 'min-se', value: String(err.minSeSec) });
  // RFC 3261 section 21.4.13: a 415 lists what is accepted.
  if (err.status === 415) extra.push({ name: 'accept', value: ACCEPT });
  return warning(err.message, extra);
}

function warning(text: string, extra: SipHeader[] = []): SipHeader[] {
  return [{ name: 'warning', value: `399 callseal "${text.replace(/["\\\r\n]/g, "'").slice(0, 200)}"` }, ...extra];
}

function hostForUri(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
