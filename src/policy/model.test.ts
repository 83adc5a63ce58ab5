/**
 * The setting model's retention (F6): default 10 years, calendar years plus days, never earlier
 * than the same date.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, retentionEndMs, settingSchema } from './model.ts';

describe('setting retention', () => {
  it('defaults to 10 years and 0 days', () => {
    const s = settingSchema.parse({ id: 'x', name: 'X', scope: { kind: 'all' } });
    expect(s).toMatchObject({ retentionYears: 10, retentionDays: 0 });
    expect(DEFAULT_POLICY.settings[0]).toMatchObject({ retentionYears: 10, retentionDays: 0 });
  });

  it('adds calendar years in UTC, then days', () => {
    expect(new Date(retentionEndMs(Date.UTC(2026, 10, 23, 12, 30, 5, 7), { years: 10, days: 0 })).toISOString()).toBe('2036-11-23T12:30:05.007Z');
    expect(new Date(retentionEndMs(Date.UTC(2026, 0, 1), { years: 0, days: 31 })).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    // 29 February + 1 year is 1 March: the retention never ends before the anniversary.
    expect(new Date(retentionEndMs(Date.UTC(2028, 1, 29), { years: 1, days: 0 })).toISOString()).toBe('2029-03-01T00:00:00.000Z');
  });

  it('refuses negative and fractional retention', () => {
    expect(settingSchema.safeParse({ id: 'x', name: 'X', scope: { kind: 'all' }, retentionYears: -1 }).success).toBe(false);
    expect(settingSchema.safeParse({ id: 'x', name: 'X', scope: { kind: 'all' }, retentionDays: 1.5 }).success).toBe(false);
  });
});
