/**
 * The consent IVR of an incoming in-line call (C3) as a pure state machine: `(state, input, nowMs)
 * -> { state, actions, deadlineMs }`. No I/O, no timers, no clock of its own: the b2bua feeds it the
 * call's events with the time they happened, plays what it asks for, and calls it again with `tick`
 * at `deadlineMs`. The b2bua, not this file, records, connects and logs.
 *
 * The flow: the setting's announcement (if any) is played; then the caller has `timeoutMs` to press
 * the key. Opt-in: the key means "record me", no key means not recorded. Opt-out: the key means "do
 * not record me", no key means recorded. No choice: always recorded, no wait. After the decision
 * the confirmation announcement for the outcome is played when the setting has one.
 *
 * Decided edge cases:
 * - A key pressed during the announcement counts: the caller who knows the notice can answer
 *   early. The announcement still plays to its end (the notice is the legal information), and the
 *   decision follows the moment it ends, with the time of the key press as its time.
 * - Any other key is ignored, and does not move the deadline.
 * - The window is half-open: a key at `nowMs >= deadlineMs` is too late; the time-out wins, with
 *   the deadline as its time (not the later moment the tick or key arrived).
 * - Mode `none` is no IVR at all: the announcement, if any, then "recorded" (outcome `no-choice`)
 *   without confirmation; the policy's own decision stands.
 */

/** The setting's consent mode. */
export type ConsentMode = 'none' | 'opt-in' | 'opt-out' | 'no-choice';

/** How the decision came about. */
export type ConsentOutcomeKind = 'key' | 'timeout' | 'no-choice';

/** What the IVR does for one call: the setting's consent fields and the call's announcement. */
export interface ConsentOptions {
  readonly mode: ConsentMode;
  /** The DTMF key (0-9, `*`, `#`). */
  readonly key: string;
  /** How long the caller has after the announcement. */
  readonly timeoutMs: number;
  /** The announcement for this call's direction, played first. */
  readonly announcementId?: string | undefined;
  readonly confirmRecorded?: string | undefined;
  readonly confirmNotRecorded?: string | undefined;
}

/** The decision, for the recording's metadata and the decision log. */
export interface ConsentDecision {
  readonly recorded: boolean;
  readonly outcome: ConsentOutcomeKind;
  /** The key, when the outcome is `key`. */
  readonly key?: string | undefined;
  /** When it was decided: the key press, or the end of the wait. */
  readonly atMs: number;
}

/** What the IVR asks the b2bua to do. */
export type ConsentAction =
  | { readonly kind: 'play'; readonly announcementId: string }
  | ({ readonly kind: 'decide' } & ConsentDecision)
  /** The IVR is over: connect the call. */
  | { readonly kind: 'done' };

/** What happened in the call. */
export type ConsentInput =
  | { readonly kind: 'start' }
  | { readonly kind: 'dtmf'; readonly digit: string }
  | { readonly kind: 'tick' }
  /** The last `play` ended (played out, or the relay closed). */
  | { readonly kind: 'prompt-finished' };

/** Where the IVR is. */
export type ConsentPhase = 'idle' | 'announcing' | 'waiting' | 'confirming' | 'done';

/** The IVR's state: plain readonly data. */
export interface ConsentState {
  readonly phase: ConsentPhase;
  readonly options: ConsentOptions;
  /** While waiting: the end of the window. */
  readonly deadlineMs?: number | undefined;
  /** The key pressed during the announcement, and when. */
  readonly early?: { readonly key: string; readonly atMs: number } | undefined;
  readonly decision?: ConsentDecision | undefined;
}

/** One step's result. */
export interface ConsentStep {
  readonly state: ConsentState;
  readonly actions: readonly ConsentAction[];
  /** When to call again with `tick` (undefined: no deadline pending). */
  readonly deadlineMs: number | undefined;
}

/** The state of an IVR that has not started. */
export function initialConsent(options: ConsentOptions): ConsentState {
  return { phase: 'idle', options };
}

const hasChoice = (mode: ConsentMode): boolean => mode === 'opt-in' || mode === 'opt-out';

function unchanged(state: ConsentState): ConsentStep {
  return { state, actions: [], deadlineMs: state.phase === 'waiting' ? state.deadlineMs : undefined };
}

/** Decides, then plays the confirmation for the outcome or ends. */
function decide(state: ConsentState, outcome: ConsentOutcomeKind, atMs: number, key?: string): ConsentStep {
  const { mode } = state.options;
  const recorded = outcome === 'no-choice' ? true : mode === 'opt-in' ? outcome === 'key' : outcome !== 'key';
  const decision: ConsentDecision = { recorded, outcome, atMs, ...(key !== undefined ? { key } : {}) };
  const actions: ConsentAction[] = [{ kind: 'decide', ...decision }];
  const confirmation = mode === 'none' ? undefined : recorded ? state.options.confirmRecorded : state.options.confirmNotRecorded;
  if (confirmation !== undefined) {
    actions.push({ kind: 'play', announcementId: confirmation });
    return { state: { phase: 'confirming', options: state.options, decision }, actions, deadlineMs: undefined };
  }
  actions.push({ kind: 'done' });
  return { state: { phase: 'done', options: state.options, decision }, actions, deadlineMs: undefined };
}

/** After the announcement (or at once without one): wait for the key, or decide without a choice. */
function afterAnnouncement(state: ConsentState, nowMs: number): ConsentStep {
  if (!hasChoice(state.options.mode)) return decide(state, 'no-choice', nowMs);
  if (state.early) return decide(state, 'key', state.early.atMs, state.early.key);
  const deadlineMs = nowMs + state.options.timeoutMs;
  return { state: { phase: 'waiting', options: state.options, deadlineMs }, actions: [], deadlineMs };
}

/** Advances the IVR by one input at `nowMs`. Inputs that do not apply in the current phase change nothing. */
export function stepConsent(state: ConsentState, input: ConsentInput, nowMs: number): ConsentStep {
  switch (state.phase) {
    case 'idle':
      if (input.kind !== 'start') return unchanged(state);
      if (state.options.announcementId !== undefined) {
        return { state: { phase: 'announcing', options: state.options }, actions: [{ kind: 'play', announcementId: state.options.announcementId }], deadlineMs: undefined };
      }
      return afterAnnouncement(state, nowMs);
    case 'announcing':
      if (input.kind === 'prompt-finished') return afterAnnouncement(state, nowMs);
      if (input.kind === 'dtmf' && hasChoice(state.options.mode) && input.digit === state.options.key && !state.early) {
        return { state: { ...state, early: { key: input.digit, atMs: nowMs } }, actions: [], deadlineMs: undefined };
      }
      return unchanged(state);
    case 'waiting': {
      const deadlineMs = state.deadlineMs ?? nowMs;
      if (input.kind !== 'tick' && input.kind !== 'dtmf') return unchanged(state);
      if (nowMs >= deadlineMs) return decide(state, 'timeout', deadlineMs);
      if (input.kind === 'dtmf' && input.digit === state.options.key) return decide(state, 'key', nowMs, input.digit);
      return unchanged(state);
    }
    case 'confirming':
      if (input.kind !== 'prompt-finished') return unchanged(state);
      return { state: { ...state, phase: 'done' }, actions: [{ kind: 'done' }], deadlineMs: undefined };
    case 'done':
      return unchanged(state);
  }
}
