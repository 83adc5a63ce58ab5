/**
 * The announcement and consent IVR of one in-line call (C1-C3), played to the caller as early
 * media before the callee is asked: the relay plays the announcement's frames into side `a`, the
 * consent state machine (`consent.ts`) is fed the caller's RFC 4733 digits and its deadline on a
 * {@link Scheduler}, the confirmation follows, and {@link PromptFlow.run} resolves with the
 * outcome. The call's end (CANCEL, BYE, shutdown) aborts it: the pending prompt stops with the
 * relay, the deadline is cancelled and `run` resolves as aborted.
 */
import type { Clock, Scheduler, TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { initialConsent, stepConsent, type ConsentAction, type ConsentDecision, type ConsentInput, type ConsentMode, type ConsentOptions, type ConsentState } from './consent.ts';
import type { ChosenCodec, PromptCodec } from './prompt-sdp.ts';

/** What the flow needs of the media engine and the announcement library. */
export interface PromptMedia {
  playRelay(relayId: string, toSide: 'a' | 'b', payloads: readonly Buffer[], payloadType: number, ptimeMs: number): Promise<void>;
}
export interface PromptLibrary {
  payloads(announcementId: string, codec: PromptCodec): Promise<readonly Buffer[]>;
}

/** What the call hears: the announcement of its direction and the setting's consent fields (absent: no IVR). */
export interface PromptPlan {
  readonly announcementId?: string | undefined;
  readonly consent?: { readonly mode: ConsentMode; readonly key: string; readonly timeoutMs: number; readonly confirmRecorded?: string | undefined; readonly confirmNotRecorded?: string | undefined } | undefined;
}

/** How the flow ended. */
export interface PromptResult {
  /** The call ended during the flow: nothing is offered to the callee. */
  readonly aborted: boolean;
  /** The consent decision, with `atMs` on the wall clock; undefined without an IVR or when aborted before it. */
  readonly consent?: (ConsentDecision & { readonly mode: ConsentMode }) | undefined;
  /** When the announcement ended (wall clock); the recording starts at or after it. */
  readonly announcedAtMs?: number | undefined;
}

/** Options of {@link PromptFlow}. */
export interface PromptFlowOptions {
  readonly media: PromptMedia;
  readonly library: PromptLibrary;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly log: Logger;
  readonly relayId: string;
  readonly callId: string;
  readonly codec: ChosenCodec;
  readonly plan: PromptPlan;
}

/** Whether a decision asks for anything to be played or asked before the callee. */
export function hasPrompt(plan: PromptPlan): boolean {
  return plan.announcementId !== undefined || (plan.consent !== undefined && plan.consent.mode !== 'none');
}

/** One call's announcement and IVR. */
export class PromptFlow {
  readonly #o: PromptFlowOptions;
  #state: ConsentState;
  #timer: TimerHandle | undefined;
  #aborted = false;
  #resolve: ((r: PromptResult) => void) | undefined;
  #announcedAtMs: number | undefined;
  #decision: ConsentDecision | undefined;
  /** Prompts played so far; the first is the announcement. */
  #played = 0;

  constructor(options: PromptFlowOptions) {
    this.#o = options;
    const c = options.plan.consent;
    const consent: ConsentOptions = {
      mode: c?.mode ?? 'none', key: c?.key ?? '1', timeoutMs: c?.timeoutMs ?? 5000, announcementId: options.plan.announcementId,
      confirmRecorded: c?.confirmRecorded, confirmNotRecorded: c?.confirmNotRecorded,
    };
    this.#state = initialConsent(consent);
  }

  /** Plays, asks and decides; resolves once, when the IVR is done or the call ended. */
  run(): Promise<PromptResult> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#feed({ kind: 'start' });
    });
  }

  /** A digit the caller sent (the relay's `relayDtmf` from side `a`). */
  dtmf(digit: string): void {
    this.#feed({ kind: 'dtmf', digit });
  }

  /** The call ended: stop waiting (the relay's close ends a prompt that is playing). */
  abort(): void {
    if (this.#aborted || !this.#resolve) return;
    this.#aborted = true;
    this.#timer?.cancel();
    this.#finish();
  }

  #feed(input: ConsentInput): void {
    if (this.#aborted || this.#state.phase === 'done') return;
    const step = stepConsent(this.#state, input, this.#o.scheduler.monoMs());
    this.#state = step.state;
    if (input.kind !== 'dtmf' || step.deadlineMs === undefined) {
      this.#timer?.cancel();
      this.#timer = undefined;
      if (step.deadlineMs !== undefined) {
        const at = step.deadlineMs;
        this.#timer = this.#o.scheduler.schedule(at - this.#o.scheduler.monoMs(), () => { this.#feed({ kind: 'tick' }); });
      }
    }
    if (step.state.phase === 'waiting' && input.kind !== 'dtmf' && input.kind !== 'tick') {
      this.#o.log.info({ callId: this.#o.callId, key: step.state.options.key, timeoutMs: step.state.options.timeoutMs }, 'consent IVR waiting for the key');
    }
    for (const action of step.actions) this.#act(action);
  }

  #act(action: ConsentAction): void {
    switch (action.kind) {
      case 'play':
        void this.#play(action.announcementId);
        return;
      case 'decide':
        this.#decision = { recorded: action.recorded, outcome: action.outcome, atMs: this.#wall(action.atMs), ...(action.key !== undefined ? { key: action.key } : {}) };
        this.#o.log.info({ callId: this.#o.callId, recorded: action.recorded, outcome: action.outcome, key: action.key }, 'consent IVR decided');
        return;
      case 'done':
        this.#timer?.cancel();
        this.#finish();
        return;
    }
  }

  async #play(announcementId: string): Promise<void> {
    const o = this.#o;
    const first = this.#played++ === 0;
    try {
      const frames = await o.library.payloads(announcementId, o.codec.codec);
      if (!this.#aborted) await o.media.playRelay(o.relayId, 'a', frames, o.codec.payloadType, 20);
    } catch (err) {
      // C2: a damaged or missing announcement is skipped; the call goes on without it.
      o.log.warn({ callId: o.callId, announcementId, err: errorMessage(err) }, 'announcement not played');
    }
    if (first && o.plan.announcementId !== undefined) this.#announcedAtMs = o.clock.nowMs();
    this.#feed({ kind: 'prompt-finished' });
  }

  /** A time of the state machine (monotonic) on the wall clock. */
  #wall(monoMs: number): number {
    return Math.round(this.#o.clock.nowMs() - (this.#o.scheduler.monoMs() - monoMs));
  }

  #finish(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    const mode = this.#state.options.mode;
    resolve?.({
      aborted: this.#aborted,
      ...(this.#decision && mode !== 'none' ? { consent: { ...this.#decision, mode } } : {}),
      ...(this.#announcedAtMs !== undefined ? { announcedAtMs: this.#announcedAtMs } : {}),
    });
  }
}
