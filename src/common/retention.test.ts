import { describe, expect, it } from 'vitest';
import { describeRetention, retainUntilMs } from './retention.ts';

describe('retention', () => {
  it('adds calendar years in UTC, then days', () => {
    const start = Date.UTC(2026, 10, 23, 18, 46, 40, 512);
    expect(retainUntilMs(start, { years: 5 })).toBe(Date.UTC(2031, 10, 23, 18, 46, 40, 512));
    expect(retainUntilMs(start, { years: 7, days: 30 })).toBe(Date.UTC(2033, 11, 23, 18, 46, 40, 512));
    expect(retainUntilMs(start, { days: 1 })).toBe(start + 86_400_000);
    // 29 February plus one year is 1 March.
    expect(retainUntilMs(Date.UTC(2028, 1, 29), { years: 1 })).toBe(Date.UTC(2029, 2, 1));
    expect(retainUntilMs(start, 'keep')).toBeUndefined();
  });

  it('describes a period', () => {
    expect(describeRetention({ years: 5 })).toBe('5 years');
    expect(describeRetention({ years: 1, days: 1 })).toBe('1 year 1 day');
    expect(describeRetention('keep')).toBe('keep');
  });
});
