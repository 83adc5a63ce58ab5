import { describe, expect, it } from 'vitest';
import { settingAnnouncementIds, settingSchema } from './model.ts';

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

describe('setting announcements and consent (C2, C3)', () => {
  const base = { id: 's', name: 'S', scope: { kind: 'all' } };

  it('has no announcement and no IVR by default', () => {
    expect(settingSchema.parse(base)).toMatchObject({ announcementIncoming: null, announcementOutgoing: null, consent: { mode: 'none', key: '1', timeoutMs: 5000 } });
  });

  it('takes each consent mode, one DTMF key, a bounded time-out and optional confirmations', () => {
    for (const mode of ['none', 'opt-in', 'opt-out', 'no-choice']) expect(settingSchema.safeParse({ ...base, consent: { mode } }).success, mode).toBe(true);
    for (const key of ['0', '9', '*', '#']) expect(settingSchema.safeParse({ ...base, consent: { mode: 'opt-in', key } }).success, key).toBe(true);
    for (const key of ['', '11', 'A', 'x', '*1']) expect(settingSchema.safeParse({ ...base, consent: { mode: 'opt-in', key } }).success, key).toBe(false);
    expect(settingSchema.safeParse({ ...base, consent: { mode: 'maybe' } }).success).toBe(false);
    expect(settingSchema.safeParse({ ...base, consent: { timeoutMs: 999 } }).success).toBe(false);
    expect(settingSchema.safeParse({ ...base, consent: { timeoutMs: 60_001 } }).success).toBe(false);
    expect(settingSchema.parse({ ...base, consent: { mode: 'opt-out', confirmRecorded: 'a1' } }).consent).toEqual({ mode: 'opt-out', key: '1', timeoutMs: 5000, confirmRecorded: 'a1' });
    expect(settingSchema.safeParse({ ...base, consent: { mode: 'opt-out', extra: 1 } }).success).toBe(false);
  });

  it('lists the announcements a setting uses once each', () => {
    const s = settingSchema.parse({ ...base, announcementIncoming: 'a', announcementOutgoing: 'b', consent: { mode: 'opt-in', confirmRecorded: 'a', confirmNotRecorded: 'c' } });
    expect(settingAnnouncementIds(s)).toEqual(['a', 'b', 'c']);
  });
});
