/**
 * The Recorder of one call: its recording segments (a stop and a later start make a new recording
 * with a new id), legs and their RTP port blocks, leg results, metadata versions, the spool state,
 * the DTMF stop (B6), the media timeout, and the endings it must report (a full disk, a failed
 * media worker). `close(reason)` finishes the running segment exactly once; `discard()` removes
 * what a call that never recorded left behind.
 *
 * It does no SIP and reads no settings: signalling hands it the parties, the policy's `Decision`
 * and the streams, and ends the call when the Recorder asks (`timeout`, `unrecordable`). Time and
 * timers come from the injected `Clock` and `Scheduler`. Its operations run one after another, so a
 * DTMF stop, a re-INVITE and the end of the call never interleave inside the Recorder.
 */
import type { Clock, Scheduler } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { TypedEmitter } from '../common/events.ts';
import { CallsealError, InvalidStateError, errorMessage } from '../common/errors.ts';
import type { LegChange } from '../media/index.ts';
import type { Decision } from '../policy/index.ts';
import type { Spool, SpoolState } from './spool.ts';
import type { ConsentInfo } from './info.ts';
import type { CallMode, CallParties, LiveRecording, RecorderEvents, RecorderLeg, RecorderMedia, StreamSpec } from './recorder-model.ts';
import { DtmfStop, type DtmfRole } from './dtmf-stop.ts';
import { IdleWatch } from './idle-watch.ts';
import { Segment, type SegmentOptions } from './segment.ts';

/** A call that is not recorded gets no media by design: only this long without SIP ends it. */
export const NOT_RECORDED_IDLE_MS = 12 * 3600 * 1000;

/** Options of {@link Recorder}. */
export interface RecorderOptions {
  readonly callId: string;
  /** How the call reaches callseal; carried by the live view and the live events (H8). */
  readonly mode: CallMode;
  readonly media: RecorderMedia;
  readonly spool: Spool;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  /** Bind host of the legs' RTP sockets. */
  readonly rtpHost: string;
  readonly reorderMs: number;
  /** Layout when the decision names none (`recording.channels`). */
  readonly channels: 'stereo' | 'separate';
  readonly mediaTimeoutSec: number;
  /** Idle limit of a call that is not recorded; default {@link NOT_RECORDED_IDLE_MS}. */
  readonly notRecordedIdleMs?: number;
  readonly parties: CallParties;
  readonly decision: Decision;
  /** Metadata versions received before the Recorder was made, raw. */
  readonly metadata?: readonly Buffer[];
  /** Why the streams are not in one file (recorded in different codecs), for `_info.txt`. */
  readonly layoutNote?: string | undefined;
}

/** The recording side of one call. */
export class Recorder extends TypedEmitter<RecorderEvents> {
  readonly callId: string;
  readonly #o: RecorderOptions;
  readonly #log: Logger;
  readonly #segmentOptions: SegmentOptions;
  #segment: Segment;
  #parties: CallParties;
  #decision: Decision;
  #consent: ConsentInfo | undefined;
  #dtmf: DtmfStop;
  /** Setting of the running segment, as it was when the segment started. */
  #setting = '';
  #recording = false;
  /** Whether a segment was ever announced (`started`): only such calls report `ended`. */
  #announced = false;
  #stopped = false;
  readonly #metadataRaw: Buffer[];
  #lastSipMs: number;
  #answered = false;
  #workerFailure: string | undefined;
  readonly #idle: IdleWatch;
  #timedOut = false;
  /** The one `close` or `discard` of this Recorder. */
  #final: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RecorderOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    this.callId = options.callId;
    this.#segmentOptions = {
      callId: options.callId, media: options.media, spool: options.spool, log: options.log,
      workerIndex: options.media.pickWorker(), rtpHost: options.rtpHost, reorderMs: options.reorderMs,
    };
    this.#segment = new Segment(options.clock.nowMs(), this.#segmentOptions);
    this.#lastSipMs = this.#segment.startMs;
    this.#parties = options.parties;
    this.#decision = options.decision;
    this.#dtmf = dtmfStopOf(options.decision);
    this.#metadataRaw = [...(options.metadata ?? [])];
    this.#idle = new IdleWatch({ clock: options.clock, scheduler: options.scheduler, lastActivityMs: () => this.#lastActivityMs(), onIdle: (idleMs) => { this.#onIdle(idleMs); } });
    this.onListenerError((err, event) => {
      this.#log.error({ callId: this.callId, err: errorMessage(err), event }, 'recorder listener failed');
    });
  }

  /** Id of the current recording segment (a new one after a stop). */
  get id(): string { return this.#segment.id; }
  /** Whether a segment is recording. */
  get recording(): boolean { return this.#recording; }
  /** Stopped by DTMF: never restarted for this call. */
  get stopped(): boolean { return this.#stopped; }
  get decision(): Decision { return this.#decision; }
  get parties(): CallParties { return this.#parties; }
  /** Metadata versions received in the call. */
  get metadataVersions(): number { return this.#metadataRaw.length; }

  /** New parties (a metadata update, streams added or removed). */
  setParties(parties: CallParties): void { this.#parties = parties; }

  /** C3: the consent IVR's outcome, written into the metadata file of the recording. */
  setConsent(consent: ConsentInfo): void {
    this.#consent = consent;
  }

  /** A new decision of the policy (a metadata update); whether to start or stop is the caller's. */
  setDecision(decision: Decision): void {
    if (decision.stopCode !== this.#decision.stopCode || decision.internalParty !== this.#decision.internalParty) this.#dtmf = dtmfStopOf(decision);
    this.#decision = decision;
  }

  /** Whether a stream is recorded under the decision's channels (B1: caller or callee only). */
  wants(label: string): boolean {
    const ch = this.#decision.channels;
    if (ch !== 'caller' && ch !== 'callee') return true;
    return label === (ch === 'caller' ? this.#parties.callerLabel : this.#parties.calleeLabel);
  }

  /** Open legs of the running segment. */
  legs(): RecorderLeg[] {
    return this.#segment.legs();
  }

  /** Whether a media engine leg id belongs to the running segment. */
  owns(legId: string): boolean {
    return legId.startsWith(`${this.#segment.id}/`);
  }

  /**
   * Starts recording: spool folder, the latest metadata, a contiguous port block with one stream
   * per entry (P, P+2, ...), and a leg for each wanted stream (`undefined` entries are not
   * recordable). Returns the opened leg per entry.
   */
  start(streams: readonly (StreamSpec | undefined)[], fromNow = false): Promise<(RecorderLeg | undefined)[]> {
    return this.#run(async () => {
      if (this.#recording || this.#stopped) throw new InvalidStateError('CS_RECORDING_STATE', `[callId:${this.callId}] ${this.#stopped ? 'stopped by DTMF' : 'a segment is already recording'}`);
      // A call that enters the scope mid-call (or after its announcement) is recorded from now, not from its INVITE.
      if (this.#answered || fromNow) this.#segment = new Segment(this.#o.clock.nowMs(), this.#segmentOptions);
      const seg = this.#segment;
      this.#recording = true;
      this.#setting = this.#decision.settingName ?? '';
      await seg.create();
      const latest = this.#metadataRaw[this.#metadataRaw.length - 1];
      if (latest) await seg.saveMetadata(latest);
      const base = seg.allocate(streams.length);
      const opened = await Promise.all(streams.map((s, i) => (s && this.wants(s.label) ? seg.openLeg(s, base + 2 * i) : Promise.resolve(undefined))));
      await this.#saveState();
      if (this.#answered) this.#announce();
      this.#arm();
      return opened;
    });
  }

  /** Stops the running segment (policy change, DTMF stop) but keeps the call; a later start is a new recording. */
  stop(reason: string): Promise<void> {
    const endMs = this.#o.clock.nowMs();
    return this.#run(async () => {
      if (!this.#recording) return;
      await this.#finishSegment(endMs, reason);
      this.#segment = new Segment(this.#o.clock.nowMs(), this.#segmentOptions);
      this.#arm();
    });
  }

  /** Adds a leg on a port of its own (a stream added by a re-INVITE); undefined if none was opened. */
  addLeg(stream: StreamSpec): Promise<RecorderLeg | undefined> {
    return this.#run(async () => {
      if (!this.#recording) return undefined;
      try {
        const base = this.#segment.allocate(1);
        const leg = await this.#segment.openLeg(stream, base);
        this.#log.info({ callId: this.callId, label: stream.label, port: base }, 'stream added');
        return leg;
      } catch (err) {
        this.#log.error({ callId: this.callId, label: stream.label, err: errorMessage(err) }, 'added stream could not be opened');
        return undefined;
      }
    });
  }

  /** Applies a re-INVITE's change to the open leg of `label` (payload types, SRTP key, source). */
  updateLeg(label: string, change: LegChange): RecorderLeg | undefined {
    return this.#segment.updateLeg(label, change);
  }

  /** Closes the open leg of `label` (a stream removed, or going on in a new file); its file stays in the segment. */
  closeLeg(label: string): Promise<void> {
    return this.#run(async () => {
      if (await this.#segment.closeLeg(label, this.#o.clock.nowMs())) this.#log.info({ callId: this.callId, label }, 'stream removed');
    });
  }

  /** Keeps a new metadata version; a recording segment keeps its file too. */
  addMetadata(raw: Buffer): Promise<void> {
    return this.#run(async () => {
      this.#metadataRaw.push(raw);
      if (this.#recording) await this.#segment.saveMetadata(raw);
    });
  }

  /** Writes the spool state of the running segment (after a re-INVITE changed its legs). */
  saveState(): Promise<void> {
    return this.#run(() => this.#saveState());
  }

  /** SIP activity in the call (ACK, OPTIONS, INFO, re-INVITE): it postpones the media timeout. */
  noteSipActivity(): void {
    this.#lastSipMs = this.#o.clock.nowMs();
  }

  /**
   * The call is being answered: throws `CS_MEDIA_WORKER_FAILED` if its media worker failed
   * meanwhile (the SRC then gets an error instead of a dead recording); otherwise the media
   * timeout runs from now on and a recording segment is announced (`started`).
   */
  confirmAnswer(): void {
    if (this.#workerFailure !== undefined) throw new CallsealError('CS_MEDIA_WORKER_FAILED', `[callId:${this.callId}] media worker failed before the answer: ${this.#workerFailure}`);
    this.#answered = true;
    if (this.#recording) this.#announce();
    this.#arm();
  }

  /** A DTMF digit in one of the legs (RFC 4733): the internal party's stop code stops the recording (B6). */
  dtmf(legId: string, digit: string, atMs: number): void {
    if (!this.owns(legId)) return;
    const label = this.#segment.labelOf(legId);
    const p = this.#parties;
    this.dtmfFrom(label === p.callerLabel ? 'caller' : label === p.calleeLabel ? 'callee' : 'other', digit, atMs);
  }

  /** A DTMF digit of a party known by its role (in-line mode: the relay side, or SIP INFO). */
  dtmfFrom(role: DtmfRole, digit: string, atMs: number): void {
    if (!this.#recording || this.#final || this.#stopped) return;
    if (!this.#dtmf.push(role, digit, atMs)) return;
    const code = this.#decision.stopCode ?? '';
    this.#stopped = true;
    this.#log.info({ callId: this.callId, recordingId: this.id, code, role }, 'recording stopped by DTMF');
    this.safeEmit('stoppedByDtmf', { callId: this.callId, code, role, atMs });
    this.stop(`stopped by DTMF ${code} from the ${role} at ${new Date(atMs).toISOString()}`).catch((err: unknown) => {
      this.#log.error({ callId: this.callId, err: errorMessage(err) }, 'stopping the recording failed');
    });
  }

  /** A leg's file could not be written (a full disk): the recording must end with what was written (issue 4). */
  legFailed(legId: string, err: CallsealError): void {
    if (!this.#recording || this.#final || !this.owns(legId)) return;
    const reason = `${err.code === 'CS_RECORDING_DISK_FULL' ? 'disk-full' : 'disk-error'}: ${err.message}`;
    this.#log.error({ callId: this.callId, recordingId: this.id, legId, code: err.code, err: err.message }, 'recording ended by a write error');
    this.safeEmit('unrecordable', { kind: 'write-error', reason, sipCause: 200 });
  }

  /**
   * The media worker of this call failed (invariant 3). Before the answer it is kept for
   * `confirmAnswer`; after it, the call must end with cause 503 so the SRC can fail over.
   */
  workerFailed(failure: string): void {
    if (this.#final) return;
    if (!this.#answered) {
      this.#workerFailure = failure;
      return;
    }
    this.#log.error({ callId: this.callId, recordingId: this.id, failure }, 'recording ended: its media worker failed');
    this.safeEmit('unrecordable', { kind: 'worker-failed', reason: `media-worker-failed: ${failure}`, sipCause: 503 });
  }

  /**
   * Ends the call's recording: legs closed and padded to now, files finished, `recorded` emitted
   * (or `failed`, the spool kept). Exactly once: a second call returns the same promise.
   */
  close(reason: string): Promise<void> {
    if (this.#final) return this.#final;
    const endMs = this.#o.clock.nowMs();
    this.#idle.cancel();
    this.#final = this.#run(async () => {
      await this.#finishSegment(endMs, reason);
      if (this.#announced) this.safeEmit('ended', { callId: this.callId, mode: this.#o.mode, reason, endMs });
    });
    return this.#final;
  }

  /** Closes the legs and removes the spool of a call that never recorded (cancelled before answer). Idempotent. */
  discard(): Promise<void> {
    if (this.#final) return this.#final;
    this.#idle.cancel();
    this.#final = this.#run(async () => {
      this.#recording = false;
      await this.#segment.closeAll(this.#o.clock.nowMs());
      await this.#o.spool.discard(this.#segment.id);
    });
    return this.#final;
  }

  /** The live view of the call (H2). */
  live(): LiveRecording {
    const seg = this.#segment;
    const { packets, lost } = seg.activity();
    const p = this.#parties;
    return { id: seg.id, callId: this.callId, mode: this.#o.mode, startMs: seg.startMs, caller: p.caller, callee: p.callee, setting: this.#setting, streams: seg.legs().length, packets, lost };
  }

  /** Runs `task` after every earlier operation; one asked for after `close` or `discard` is refused. */
  #run<T>(task: () => Promise<T>): Promise<T> {
    const ended = this.#final !== undefined;
    const next = this.#queue.then(() => {
      if (ended) throw new InvalidStateError('CS_STATE_CLOSED', `[callId:${this.callId}] the recorder is closed`);
      return task();
    });
    // The caller gets the task's failure; the queue only waits for it to settle, so one failed
    // operation does not refuse the ones after it.
    this.#queue = next.then(() => undefined, () => undefined);
    return next;
  }

  #announce(): void {
    const p = this.#parties;
    this.#log.info({
      callId: this.callId, recordingId: this.id, callerBy: p.callerBy, channelsBy: p.channelsBy, callerLabel: p.callerLabel, calleeLabel: p.calleeLabel,
      setting: this.#setting, streams: this.#segment.legs().length, basePort: this.#segment.basePort,
    }, 'recording started');
    this.#announced = true;
    this.safeEmit('started', this.live());
  }

  /** Closes the running segment (legs padded to `endMs`), finishes its files and hands them to sealing. */
  async #finishSegment(endMs: number, reason: string): Promise<void> {
    if (!this.#recording) return;
    this.#recording = false;
    const seg = this.#segment;
    await seg.closeAll(endMs);
    try {
      // A full disk is waited out: the recording is finished and sealed as soon as space allows.
      const finished = await this.#o.spool.finishRetrying(this.#spoolState(), seg.results(), { endMs, endReason: reason, interrupted: false, lastPacketAtMs: undefined });
      this.#log.info({ callId: this.callId, recordingId: seg.id, reason, dir: finished.dir, files: finished.files }, 'recording closed');
      this.safeEmit('recorded', finished);
    } catch (err) {
      this.#log.error({ callId: this.callId, recordingId: seg.id, err: errorMessage(err) }, 'finishing the recording failed; spool kept for recovery');
      this.safeEmit('failed', { callId: this.callId, error: errorMessage(err) });
    }
  }

  async #saveState(): Promise<void> {
    if (this.#recording) await this.#o.spool.saveState(this.#spoolState());
  }

  #spoolState(): SpoolState {
    const p = this.#parties;
    const d = this.#decision;
    const seg = this.#segment;
    return {
      id: seg.id, callId: this.callId, siprecSessionId: p.siprecSessionId, startMs: seg.startMs, legs: seg.spoolLegs(), metadataFiles: seg.metadataFiles,
      caller: p.caller, callee: p.callee, callerLabel: p.callerLabel, calleeLabel: p.calleeLabel, participants: p.participants,
      direction: p.direction ?? d.direction, setting: this.#setting,
      channels: d.channels === 'stereo' || d.channels === 'separate' ? d.channels : this.#o.channels,
      targetIds: d.targetIds, retention: d.retention, callerBy: p.callerBy, channelsBy: p.channelsBy, layoutNote: this.#o.layoutNote,
      ...(this.#consent ? { consent: this.#consent } : {}),
    };
  }

  /**
   * Media timeout: neither RTP on any leg nor SIP for the limit, which is the media timeout while
   * recording and the long idle limit otherwise. Runs once the call is answered.
   */
  #arm(): void {
    if (!this.#answered || this.#final || this.#timedOut) return;
    this.#idle.arm(this.#recording ? this.#o.mediaTimeoutSec * 1000 : (this.#o.notRecordedIdleMs ?? NOT_RECORDED_IDLE_MS));
  }

  #lastActivityMs(): number {
    const last = Math.max(this.#segment.startMs, this.#lastSipMs);
    return Math.max(last, this.#segment.activity().lastPacketAtMs ?? last);
  }

  #onIdle(idleMs: number): void {
    this.#timedOut = true;
    this.#log.warn({ callId: this.callId, idleMs }, 'no media and no signalling; ending the recording');
    this.safeEmit('timeout', { idleMs });
  }
}

function dtmfStopOf(d: Decision): DtmfStop {
  return new DtmfStop({ code: d.stopCode ?? '', internalParty: d.internalParty });
}
