/**
 * The fake clock runs due timers in time order, each at its own time, and never one before it is due.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock.ts';

describe('FakeClock', () => {
  it('runs timers in due order at their own times, and a timer armed by a timer in the same advance', () => {
    const clock = new FakeClock(0, 1_000_000);
    const seen: [string, number][] = [];
    clock.schedule(300, () => seen.push(['b', clock.nowMs()]));
    clock.schedule(100, () => {
      seen.push(['a', clock.nowMs()]);
      clock.schedule(100, () => seen.push(['c', clock.nowMs()]));
    });
    clock.schedule(300, () => seen.push(['d', clock.nowMs()]));
    clock.advance(299);
    expect(seen).toEqual([['a', 1_000_100], ['c', 1_000_200]]);
    clock.advance(1);
    expect(seen.slice(2)).toEqual([['b', 1_000_300], ['d', 1_000_300]]);
    expect(clock.monoMs()).toBe(300);
    expect(clock.pending).toBe(0);
  });

  it('a cancelled timer never runs', () => {
    const clock = new FakeClock();
    let ran = false;
    const t = clock.schedule(10, () => { ran = true; });
    t.cancel();
    t.cancel();
    clock.advance(100);
    expect(ran).toBe(false);
  });
});
