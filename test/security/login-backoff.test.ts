/**
 * Security issue, minor finding: the login limit per address also locked out the right password
 * (everybody behind one address, e.g. a reverse proxy, was refused once an attacker had used up the
 * address's attempts). Logins now back off per account, and only failed password checks count
 * against the (coarse) per-address limit. Tested on {@link LoginThrottle} with plain times, and
 * in-process through POST /api/session with real argon2 checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle, type LoginThrottleOptions } from '../../src/web/auth.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

const OPTIONS: LoginThrottleOptions = { failuresPerAddressPerMinute: 30, backoffAfterFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 8000 };

/** One finished attempt; returns the ticket's answer. */
function attempt(t: LoginThrottle, user: string, address: string, nowMs: number, success: boolean): 'checked' | 'account' | 'address' {
  const ticket = t.begin(user, address, nowMs);
  if (!ticket.ok) return ticket.scope;
  ticket.done(success, nowMs);
  return 'checked';
}

describe('LoginThrottle', () => {
  it('backs off the hammered account only, doubling up to the maximum, and lets the right password in afterwards', () => {
    const t = new LoginThrottle(OPTIONS);
    expect([0, 1, 2].map((i) => attempt(t, 'x', '10.0.0.1', i, false))).toEqual(['checked', 'checked', 'checked']);
    // Waiting attempts are refused without a password check and do not prolong the wait.
    for (let ms = 3; ms < 1002; ms += 100) expect(attempt(t, 'x', '10.0.0.1', ms, false)).toBe('account');
    expect(attempt(t, 'y', '10.0.0.1', 500, true)).toBe('checked');
    const waits: number[] = [];
    let now = 2;
    for (let i = 0; i < 6; i++) {
      const refused = t.begin('x', '10.0.0.1', now);
      if (refused.ok) throw new Error('expected a wait');
      waits.push(refused.retryAfterMs);
      now += refused.retryAfterMs;
      attempt(t, 'x', '10.0.0.1', now, false);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    const last = t.begin('x', '10.0.0.1', now);
    expect(last.ok).toBe(false);
    now += last.ok ? 0 : last.retryAfterMs;
    expect(attempt(t, 'x', '10.0.0.1', now, true)).toBe('checked');
    // The success reset the account.
    expect(attempt(t, 'x', '10.0.0.1', now + 1, false)).toBe('checked');
  });

  it('limits failed checks from one address across many accounts, not other addresses', () => {
    const t = new LoginThrottle(OPTIONS);
    const answers = Array.from({ length: 40 }, (_, i) => attempt(t, `user${i}`, '10.0.0.66', i, false));
    expect(answers.filter((a) => a === 'checked')).toHaveLength(30);
    expect(answers.slice(30)).toEqual(Array.from({ length: 10 }, () => 'address'));
    expect(attempt(t, 'user0', '10.0.0.2', 50, true)).toBe('checked');
    // A minute later the address may try again.
    expect(attempt(t, 'other', '10.0.0.66', 60_001, true)).toBe('checked');
  });

  it('counts checks still running, so parallel guesses cannot overtake the back-off', () => {
    const t = new LoginThrottle(OPTIONS);
    const tickets = Array.from({ length: 10 }, () => t.begin('x', '10.0.0.1', 0));
    expect(tickets.filter((k) => k.ok)).toHaveLength(3);
    for (const k of tickets) if (k.ok) k.done(false, 1);
    expect(t.begin('x', '10.0.0.1', 2).ok).toBe(false);
  });
});

describe('POST /api/session back-off (in-process, real argon2)', () => {
  let t: TestApi;
  const PASSWORD = { x: 'x-password-1234', y: 'y-password-1234' };

  beforeAll(async () => {
    t = await buildTestApi({ login: { failuresPerAddressPerMinute: 10, backoffAfterFailures: 3, backoffBaseMs: 2000, backoffMaxMs: 4000 } });
    await t.accounts.create({ username: 'xavier', displayName: 'X', roles: ['auditor'], password: PASSWORD.x });
    await t.accounts.create({ username: 'yvonne', displayName: 'Y', roles: ['auditor'], password: PASSWORD.y });
  });

  afterAll(async () => {
    await t.close();
  });

  const login = (username: string, password: string, remoteAddress = '127.0.0.1'): Promise<{ statusCode: number; headers: Record<string, unknown> }> =>
    t.app.inject({ method: 'POST', url: '/api/session', remoteAddress, payload: { username, password } });

  it('an attacker hammering one account does not stop another account\'s login from the same address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await login('xavier', `guess-${i}`)).statusCode);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.at(-1)).toBe(429);
    expect((await login('yvonne', PASSWORD.y)).statusCode).toBe(200);
    const refused = await login('xavier', PASSWORD.x);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(t.audit.query({ action: 'login-backoff' }).some((e) => e.object === 'account:xavier')).toBe(true);
  });

  it('lets the right password in once the back-off has passed', async () => {
    let r = await login('xavier', PASSWORD.x);
    const deadline = Date.now() + 10_000;
    while (r.statusCode === 429 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, Number(r.headers['retry-after']) * 1000));
      r = await login('xavier', PASSWORD.x);
    }
    expect(r.statusCode).toBe(200);
  });

  it('still limits one address guessing across many accounts, and only that address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await login(`nobody${i}`, 'guess', '192.0.2.66')).statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429]);
    expect((await login('yvonne', PASSWORD.y, '192.0.2.66')).statusCode).toBe(429);
    expect((await login('yvonne', PASSWORD.y, '192.0.2.7')).statusCode).toBe(200);
  });
});
