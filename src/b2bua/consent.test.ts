import { describe, expect, it } from 'vitest';
import { initialConsent, stepConsent, type ConsentAction, type ConsentInput, type ConsentOptions, type ConsentStep } from './consent.ts';

const T0 = 1_000_000;
const BASE: ConsentOptions = { mode: 'opt-out', key: '1', timeoutMs: 5000, announcementId: 'notice' };

/** Feeds `inputs` (each with its time) to a fresh IVR; returns every action in order and the last step. */
function run(options: ConsentOptions, inputs: readonly (readonly [ConsentInput, number])[]): { actions: ConsentAction[]; last: ConsentStep } {
  let state = initialConsent(options);
  const actions: ConsentAction[] = [];
  let last: ConsentStep = { state, actions: [], deadlineMs: undefined };
  for (const [input, nowMs] of inputs) {
    last = stepConsent(state, input, nowMs);
    state = last.state;
    actions.push(...last.actions);
  }
  return { actions, last };
}

const start = { kind: 'start' } as const;
const finished = { kind: 'prompt-finished' } as const;
const tick = { kind: 'tick' } as const;
const dtmf = (digit: string): ConsentInput => ({ kind: 'dtmf', digit });

describe('consent IVR (C3)', () => {
  it('plays the announcement first, then waits timeoutMs from its end', () => {
    const a = run(BASE, [[start, T0]]);
    expect(a.actions).toEqual([{ kind: 'play', announcementId: 'notice' }]);
    expect(a.last.deadlineMs).toBeUndefined();
    const b = run(BASE, [[start, T0], [finished, T0 + 3000]]);
    expect(b.actions).toEqual([{ kind: 'play', announcementId: 'notice' }]);
    expect(b.last.state.phase).toBe('waiting');
    expect(b.last.deadlineMs).toBe(T0 + 8000);
  });

  it('opt-out: no key means recorded (timeout at the deadline), the key means not recorded', () => {
    const none = run(BASE, [[start, T0], [finished, T0 + 3000], [tick, T0 + 7999], [tick, T0 + 8000]]);
    expect(none.actions.slice(1)).toEqual([{ kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 8000 }, { kind: 'done' }]);
    const key = run(BASE, [[start, T0], [finished, T0 + 3000], [dtmf('1'), T0 + 4500]]);
    expect(key.actions.slice(1)).toEqual([{ kind: 'decide', recorded: false, outcome: 'key', key: '1', atMs: T0 + 4500 }, { kind: 'done' }]);
    expect(key.last.state.decision).toEqual({ recorded: false, outcome: 'key', key: '1', atMs: T0 + 4500 });
  });

  it('opt-in: no key means not recorded, the key means recorded', () => {
    const o: ConsentOptions = { ...BASE, mode: 'opt-in', key: '#' };
    const none = run(o, [[start, T0], [finished, T0 + 1000], [tick, T0 + 6000]]);
    expect(none.actions.at(-2)).toEqual({ kind: 'decide', recorded: false, outcome: 'timeout', atMs: T0 + 6000 });
    const key = run(o, [[start, T0], [finished, T0 + 1000], [dtmf('#'), T0 + 2000]]);
    expect(key.actions.at(-2)).toEqual({ kind: 'decide', recorded: true, outcome: 'key', key: '#', atMs: T0 + 2000 });
  });

  it('no choice: recorded right after the announcement, keys change nothing', () => {
    const o: ConsentOptions = { ...BASE, mode: 'no-choice', confirmRecorded: 'is-recorded' };
    const r = run(o, [[start, T0], [dtmf('1'), T0 + 500], [finished, T0 + 3000], [dtmf('1'), T0 + 3100], [tick, T0 + 9000]]);
    expect(r.actions).toEqual([
      { kind: 'play', announcementId: 'notice' },
      { kind: 'decide', recorded: true, outcome: 'no-choice', atMs: T0 + 3000 },
      { kind: 'play', announcementId: 'is-recorded' },
    ]);
    expect(r.last.deadlineMs).toBeUndefined();
  });

  it('mode none: the announcement, then recorded by the policy without confirmation', () => {
    const o: ConsentOptions = { ...BASE, mode: 'none', confirmRecorded: 'is-recorded' };
    const r = run(o, [[start, T0], [finished, T0 + 2000]]);
    expect(r.actions.slice(1)).toEqual([{ kind: 'decide', recorded: true, outcome: 'no-choice', atMs: T0 + 2000 }, { kind: 'done' }]);
  });

  it('without an announcement the wait starts at once', () => {
    const o: ConsentOptions = { mode: 'opt-out', key: '1', timeoutMs: 5000 };
    const r = run(o, [[start, T0]]);
    expect(r.actions).toEqual([]);
    expect(r.last.deadlineMs).toBe(T0 + 5000);
    expect(run(o, [[start, T0], [tick, T0 + 5000]]).actions).toEqual([{ kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 5000 }, { kind: 'done' }]);
  });

  it('a key pressed during the announcement counts: decided when it ends, with the press time', () => {
    const r = run(BASE, [[start, T0], [dtmf('1'), T0 + 1200], [dtmf('1'), T0 + 1300], [finished, T0 + 3000]]);
    expect(r.actions).toEqual([
      { kind: 'play', announcementId: 'notice' },
      { kind: 'decide', recorded: false, outcome: 'key', key: '1', atMs: T0 + 1200 },
      { kind: 'done' },
    ]);
  });

  it('a wrong key during the announcement or the wait is ignored and does not move the deadline', () => {
    const r = run(BASE, [[start, T0], [dtmf('5'), T0 + 100], [finished, T0 + 3000], [dtmf('9'), T0 + 4000], [dtmf('*'), T0 + 4100]]);
    expect(r.actions).toEqual([{ kind: 'play', announcementId: 'notice' }]);
    expect(r.last.deadlineMs).toBe(T0 + 8000);
    expect(r.last.state.phase).toBe('waiting');
    const later = run(BASE, [[start, T0], [dtmf('5'), T0 + 100], [finished, T0 + 3000], [dtmf('9'), T0 + 4000], [tick, T0 + 8000]]);
    expect(later.actions.at(-2)).toEqual({ kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 8000 });
  });

  it('time-out edge: a key 1 ms before the deadline counts, a key at the deadline is too late', () => {
    const inTime = run(BASE, [[start, T0], [finished, T0], [dtmf('1'), T0 + 4999]]);
    expect(inTime.actions.at(-2)).toEqual({ kind: 'decide', recorded: false, outcome: 'key', key: '1', atMs: T0 + 4999 });
    const late = run(BASE, [[start, T0], [finished, T0], [dtmf('1'), T0 + 5000]]);
    expect(late.actions.at(-2)).toEqual({ kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 5000 });
    // A tick that comes late still dates the time-out at the deadline.
    const lateTick = run(BASE, [[start, T0], [finished, T0], [tick, T0 + 5750]]);
    expect(lateTick.actions.at(-2)).toEqual({ kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 5000 });
  });

  it('plays the confirmation for the outcome, and is done when it ends', () => {
    const o: ConsentOptions = { ...BASE, confirmRecorded: 'is-recorded', confirmNotRecorded: 'not-recorded' };
    const objected = run(o, [[start, T0], [finished, T0 + 3000], [dtmf('1'), T0 + 3500]]);
    expect(objected.actions.slice(1)).toEqual([{ kind: 'decide', recorded: false, outcome: 'key', key: '1', atMs: T0 + 3500 }, { kind: 'play', announcementId: 'not-recorded' }]);
    expect(objected.last.state.phase).toBe('confirming');
    const silent = run(o, [[start, T0], [finished, T0 + 3000], [tick, T0 + 8000], [dtmf('1'), T0 + 8100], [finished, T0 + 9500]]);
    expect(silent.actions.slice(1)).toEqual([
      { kind: 'decide', recorded: true, outcome: 'timeout', atMs: T0 + 8000 },
      { kind: 'play', announcementId: 'is-recorded' },
      { kind: 'done' },
    ]);
    expect(silent.last.state.phase).toBe('done');
  });

  it('ignores inputs that do not apply: before start, a second start, anything after done', () => {
    expect(run(BASE, [[tick, T0], [dtmf('1'), T0], [finished, T0]]).actions).toEqual([]);
    const twice = run(BASE, [[start, T0], [start, T0 + 1]]);
    expect(twice.actions).toEqual([{ kind: 'play', announcementId: 'notice' }]);
    const after = run(BASE, [[start, T0], [finished, T0], [dtmf('1'), T0 + 1], [dtmf('1'), T0 + 2], [tick, T0 + 99_999], [start, T0 + 100_000]]);
    expect(after.actions.filter((a) => a.kind === 'decide')).toHaveLength(1);
    expect(after.last).toMatchObject({ actions: [], deadlineMs: undefined });
  });

  it('is pure: a step does not change the state it was given', () => {
    const s0 = initialConsent(BASE);
    const s1 = stepConsent(s0, start, T0).state;
    const frozen = JSON.stringify(s1);
    stepConsent(s1, dtmf('1'), T0 + 10);
    stepConsent(s1, finished, T0 + 20);
    expect(JSON.stringify(s1)).toBe(frozen);
    expect(s0.phase).toBe('idle');
  });
});
