/**
 * Login back-off per account must survive a flood of other user names. The throttle remembers at
 * most 10,000 accounts and forgets the least recently used; an attempt creates the entry of its user
 * name before the per-address limit is checked, so one address that is already refused (429, no
 * password check) can still push a backed-off account out of the table with 10,000 made-up names.
 * The account then starts afresh and another address gets new password checks at once.
 * Also: PUT /api/me/password checks the current password without any back-off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/web/auth.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

describe('per-account login back-off against a flood of user names', () => {
  it('a backed-off account stays backed off after 10,001 attempts for other names from a refused address', () => {
    const t = new LoginThrottle({ failuresPerAddressPerMinute: 30, backoffAfterFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 300_000 });
    for (let i = 0; i < 3; i++) {
      const k = t.begin('admin', '10.0.0.1', i);
      if (k.ok) k.done(false, i);
    }
    expect(t.begin('admin', '10.0.0.9', 10).ok).toBe(false);
    let checked = 0;
    for (let i = 0; i < 10_001; i++) {
      const k = t.begin(`junk${i}`, '10.0.0.2', 20);
      if (k.ok) {
        checked++;
        k.done(false, 20);
      }
    }
    // The flooding address got its 30 password checks and nothing more...
    expect(checked).toBe(30);
    // ...and the account it did not guess at must still be waiting.
    expect(t.begin('admin', '10.0.0.3', 30).ok).toBe(false);
  });
});

describe('PUT /api/me/password (in-process, real argon2)', () => {
  let t: TestApi;

  beforeAll(async () => {
    t = await buildTestApi({ login: { failuresPerAddressPerMinute: 30, backoffAfterFailures: 3, backoffBaseMs: 60_000, backoffMaxMs: 60_000 } });
    await t.accounts.create({ username: 'mallory', displayName: 'M', roles: ['member'], password: 'mallory-password-1' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('backs off wrong current passwords like logins do', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/api/session', payload: { username: 'mallory', password: 'mallory-password-1' } });
    expect(r.statusCode).toBe(200);
    const cookie = String(r.headers['set-cookie']).split(';')[0] ?? '';
    const csrf = r.json<{ csrf: string }>().csrf;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await t.app.inject({
        method: 'PUT', url: '/api/me/password', headers: { cookie, 'x-csrf-token': csrf },
        payload: { current: `guess-${i}`, password: 'a-new-password-123' },
      })).statusCode);
    }
    // After three wrong guesses the password must no longer be checked.
    expect(statuses.slice(3).every((s) => s === 429)).toBe(true);
  });
});
