import { describe, expect, it } from 'vitest';
import { settingSchema } from './model.ts';

describe('setting retention (F6)', () => {
  it('is part of a setting: keep by default, years or days, nothing else', () => {
    const base = { id: 's', name: 'S', scope: { kind: 'all' } };
    expect(settingSchema.parse(base).retention).toBe('keep');
    expect(settingSchema.parse({ ...base, retention: { years: 5 } }).retention).toEqual({ years: 5 });
    expect(settingSchema.safeParse({ ...base, retention: {} }).success).toBe(false);
    expect(settingSchema.safeParse({ ...base, retention: { years: 0 } }).success).toBe(false);
    expect(settingSchema.safeParse({ ...base, retention: { months: 3 } }).success).toBe(false);
    expect(settingSchema.safeParse({ ...base, retention: 'forever' }).success).toBe(false);
  });
});
