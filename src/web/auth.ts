/**
 * Who is asking, and may they (H1, H6). A request is authenticated by the session cookie (browser)
 * or by the API token as a bearer token (automation; acts as an admin). Every route declares who
 * may call it in its `config.access` (roles, `any` logged-in account, or `public`); a route without
 * that declaration is refused when it is registered, so callseal does not start. The decision is
 * taken on the route fastify matched (`req.routeOptions`), never on the raw URL: a path spelled
 * differently (`/%61pi/accounts`) reaches the same route and the same check. Changing requests
 * with a session cookie must carry the session's CSRF token in `x-csrf-token`. Every changing
 * request that reached a route, every login and every denied request goes to the audit trail.
 * Logins back off per account and are limited per client address ({@link LoginThrottle}).
 * This module does not decide what a route does; it only admits or refuses the caller.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CallsealError, HttpError } from '../common/errors.ts';
import { ROLES, type AccountStore, type Role } from './accounts.ts';
import type { AuditLog } from './audit.ts';

/** The authenticated party of a request. */
export interface Principal {
  readonly name: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  readonly via: 'session' | 'token';
  readonly directoryUserId: string | null;
  readonly csrf?: string;
  readonly sessionSha256?: string;
}

/** Who may call a route: roles, any logged-in account, or everybody. */
export type Access = readonly Role[] | 'any' | 'public';

/** Route config of the admin-only routes. */
export const ADMIN_ONLY = { access: ['admin'] } as const satisfies { access: Access };
/** Route config of the routes anybody may call (login, health, the UI's files). */
export const PUBLIC = { access: 'public' } as const satisfies { access: Access };

/** Whether a route's `config.access` is a valid declaration. */
function isAccess(value: unknown): value is Access {
  if (value === 'public' || value === 'any') return true;
  return Array.isArray(value) && value.length > 0 && value.every((r) => (ROLES as readonly unknown[]).includes(r));
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const SESSION_COOKIE = 'callseal_session';
const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The principal of a request; throws 401 if there is none. */
export function principal(req: FastifyRequest): Principal {
  if (!req.principal) throw new HttpError('CS_WEB_NOT_LOGGED_IN', 401, 'not logged in');
  return req.principal;
}

/** Options of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failed password checks per client address and minute; then that address waits (`http.loginAttemptsPerMinute`). */
  readonly failuresPerAddressPerMinute: number;
  /** Failed password checks of one account before it backs off (`http.loginBackoffAfterFailures`). */
  readonly backoffAfterFailures: number;
  /** The first back-off of an account; each further failure doubles it. */
  readonly backoffBaseMs: number;
  /** The longest back-off of an account (`http.loginBackoffMaxSeconds`). */
  readonly backoffMaxMs: number;
}

/** The answer of {@link LoginThrottle.begin}: go ahead (and report the result), or wait. */
export type LoginTicket =
  | { readonly ok: true; done(success: boolean, nowMs: number): { backoffMs: number } }
  | { readonly ok: false; readonly scope: 'account' | 'address'; readonly retryAfterMs: number };

interface AccountFailures { failures: number; lastFailureMs: number; untilMs: number; inFlight: number }

const MINUTE_MS = 60_000;
/** At most this many accounts and addresses are remembered; the oldest go first. */
const MAX_TRACKED = 10_000;

/**
 * Login throttling (security issue: a limit per address also locked out the right password of every
 * user behind that address). Each account backs off on its own: after `backoffAfterFailures` failed
 * password checks, the next attempt for that account waits `backoffBaseMs`, doubling with every
 * further failure up to `backoffMaxMs`; a success resets it. Attempts that wait are answered without
 * checking the password, so hammering a locked account neither guesses nor prolongs the lock, and
 * another account's login is not affected. Failed checks from one address against any accounts are
 * limited as well (`failuresPerAddressPerMinute`), which stops guessing across many accounts.
 * Unknown user names are throttled exactly like known ones. Checks still running count as failures,
 * so parallel requests cannot overtake the back-off. Pure: the caller passes the time.
 */
export class LoginThrottle {
  readonly #o: LoginThrottleOptions;
  readonly #accounts = new Map<string, AccountFailures>();
  readonly #addresses = new Map<string, { failuresMs: number[]; inFlight: number }>();

  constructor(o: LoginThrottleOptions) {
    this.#o = o;
  }

  /** Starts a login attempt of `username` from `address`; the caller must report its result with `done`. */
  begin(username: string, address: string, nowMs: number): LoginTicket {
    // A refused attempt creates no entry: a flood of made-up names from a refused address cannot
    // push a backed-off account out of the table (security review).
    const known = this.#current(username, nowMs);
    const accountWaitMs = known && known.failures + known.inFlight >= this.#o.backoffAfterFailures
      ? Math.max(known.untilMs - nowMs, known.inFlight > 0 ? this.#o.backoffBaseMs : 0) : 0;
    if (accountWaitMs > 0) return { ok: false, scope: 'account', retryAfterMs: accountWaitMs };
    const ad = this.#address(address, nowMs);
    if (ad.failuresMs.length + ad.inFlight >= this.#o.failuresPerAddressPerMinute) {
      const oldest = ad.failuresMs[0];
      return { ok: false, scope: 'address', retryAfterMs: oldest !== undefined ? Math.max(oldest + MINUTE_MS - nowMs, 1) : this.#o.backoffBaseMs };
    }
    const a = this.#account(username, nowMs);
    a.inFlight++;
    ad.inFlight++;
    let finished = false;
    return {
      ok: true,
      done: (success, doneMs) => {
        if (finished) return { backoffMs: 0 };
        finished = true;
        a.inFlight--;
        ad.inFlight--;
        if (success) {
          a.failures = 0;
          a.untilMs = 0;
          return { backoffMs: 0 };
        }
        a.failures++;
        a.lastFailureMs = doneMs;
        ad.failuresMs.push(doneMs);
        const over = a.failures - this.#o.backoffAfterFailures;
        const backoffMs = over >= 0 ? Math.min(this.#o.backoffBaseMs * 2 ** Math.min(over, 30), this.#o.backoffMaxMs) : 0;
        a.untilMs = doneMs + backoffMs;
        return { backoffMs };
      },
    };
  }

  /** The entry of an account, unless it has had no failure for a long while (then it starts afresh). */
  #current(username: string, nowMs: number): AccountFailures | undefined {
    const a = this.#accounts.get(username);
    return a && a.inFlight === 0 && nowMs - a.lastFailureMs > Math.max(2 * this.#o.backoffMaxMs, 15 * MINUTE_MS) ? undefined : a;
  }

  #account(username: string, nowMs: number): AccountFailures {
    const a = this.#current(username, nowMs) ?? { failures: 0, lastFailureMs: nowMs, untilMs: 0, inFlight: 0 };
    this.#accounts.delete(username);
    this.#accounts.set(username, a);
    if (this.#accounts.size > MAX_TRACKED) {
      // Entries without failures enough for a back-off go first; one in back-off only when the
      // table is full of them (then the oldest), so memory stays bounded.
      forgetOldest(this.#accounts, (x) => x.failures < this.#o.backoffAfterFailures);
      forgetOldest(this.#accounts);
    }
    return a;
  }

  #address(address: string, nowMs: number): { failuresMs: number[]; inFlight: number } {
    const ad = this.#addresses.get(address) ?? { failuresMs: [], inFlight: 0 };
    while (ad.failuresMs.length > 0 && (ad.failuresMs[0] ?? 0) <= nowMs - MINUTE_MS) ad.failuresMs.shift();
    this.#addresses.delete(address);
    this.#addresses.set(address, ad);
    forgetOldest(this.#addresses);
    return ad;
  }
}

/** Drops the least recently used entries beyond {@link MAX_TRACKED} (a Map keeps insertion order). */
function forgetOldest<T extends { inFlight: number }>(map: Map<string, T>, forgettable: (value: T) => boolean = () => true): void {
  for (const [key, value] of map) {
    if (map.size <= MAX_TRACKED) return;
    if (value.inFlight === 0 && forgettable(value)) map.delete(key);
  }
}

/** Options of {@link registerAuth}. */
export interface AuthOptions {
  readonly accounts: AccountStore;
  readonly audit: AuditLog;
  readonly token: string;
  readonly secureCookies: boolean;
  readonly login: LoginThrottleOptions;
}

/** Registers cookies, the access check, CSRF, the audit of changes, login throttling, and the session routes. */
export async function registerAuth(app: FastifyInstance, o: AuthOptions): Promise<LoginThrottle> {
  await app.register(cookie);
  const throttle = new LoginThrottle(o.login);

  // Security issue, finding 1: every route says who may call it, or callseal does not start.
  app.addHook('onRoute', (route) => {
    const access: unknown = route.config?.access;
    if (!isAccess(access)) {
      throw new CallsealError('CS_WEB_ROUTE_ACCESS', `the route [${String(route.method)} ${route.url}] declares no valid config.access (roles, "any" or "public")`);
    }
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) {
      if (sameSecret(header.slice(7), o.token)) req.principal = { name: 'token', displayName: 'API token', roles: ['admin'], via: 'token', directoryUserId: null };
      else {
        o.audit.append({ actor: '-', address: req.ip, action: 'token-rejected', object: req.url.split('?')[0] ?? '', outcome: 'denied' });
        return reply.code(401).send({ error: 'wrong bearer token' });
      }
    } else {
      const sid = req.cookies[SESSION_COOKIE];
      const s = sid !== undefined && sid !== '' ? o.accounts.session(sid) : undefined;
      if (s) {
        req.principal = {
          name: s.account.username, displayName: s.account.displayName, roles: s.account.roles, via: 'session',
          directoryUserId: s.account.directoryUserId, csrf: s.csrf, sessionSha256: s.idSha256,
        };
      }
    }
    // Security issue, finding 1: the decision follows the route fastify matched, never the raw URL
    // (fastify routes the decoded path, so `/%61pi/accounts` is `/api/accounts`). No matched route
    // means the not-found handler, which serves only the UI page or a 404 (api.ts).
    const route = req.routeOptions.url;
    if (route === undefined) return undefined;
    const access: unknown = req.routeOptions.config.access;
    // Cannot happen (the onRoute hook refuses such routes); refused all the same.
    if (!isAccess(access)) return reply.code(500).send({ error: 'internal error' });
    if (access === 'public') return undefined;
    const p = req.principal;
    if (!p) return reply.code(401).send({ error: 'log in first' });
    if (access !== 'any' && !p.roles.some((r) => access.includes(r))) {
      o.audit.append({ actor: p.name, address: req.ip, action: 'denied', object: `${req.method} ${route}`, details: { url: req.url }, outcome: 'denied' });
      return reply.code(403).send({ error: `this needs the role ${access.join(' or ')}` });
    }
    if (p.via === 'session' && CHANGING.has(req.method)) {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || p.csrf === undefined || !sameSecret(given, p.csrf)) {
        o.audit.append({ actor: p.name, address: req.ip, action: 'csrf-rejected', object: `${req.method} ${route}`, details: { url: req.url }, outcome: 'denied' });
        return reply.code(403).send({ error: 'missing or wrong x-csrf-token' });
      }
    }
    return undefined;
  });

  // H6: every configuration change (any changing request that reached a route) with who, when and
  // the result, keyed on the route that ran (security issue, finding 1), whatever the URL's spelling.
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined || !CHANGING.has(req.method) || route === '/api/session') return;
    const p = req.principal;
    if (!p || reply.statusCode === 401 || reply.statusCode === 403) return;
    o.audit.append({
      actor: p.name, address: req.ip, action: req.method === 'DELETE' ? 'delete' : 'change', object: `${req.method} ${route}`,
      details: { url: req.url, status: reply.statusCode, params: req.params },
      outcome: reply.statusCode < 400 ? 'ok' : 'failed',
    });
  });

  const login = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
  app.post('/api/session', {
    config: PUBLIC,
    schema: { summary: 'Log in (sets the session cookie; returns the CSRF token; 429 with retry-after while backing off)', tags: ['session'] },
  }, async (req, reply) => {
    const body = login.parse(req.body);
    const username = body.username.toLowerCase();
    const ticket = throttle.begin(username, req.ip, Date.now());
    if (!ticket.ok) {
      const seconds = Math.ceil(ticket.retryAfterMs / 1000);
      return reply.code(429).header('retry-after', String(seconds)).send({
        error: ticket.scope === 'account' ? `too many failed logins for this account; try again in ${seconds} s` : `too many failed logins from this address; try again in ${seconds} s`,
        retryAfterSeconds: seconds,
      });
    }
    let account;
    try {
      account = await o.accounts.authenticate(username, body.password);
    } finally {
      const { backoffMs } = ticket.done(account !== undefined, Date.now());
      if (backoffMs > 0) o.audit.append({ actor: '-', address: req.ip, action: 'login-backoff', object: `account:${username}`, details: { backoffMs }, outcome: 'denied' });
    }
    if (!account) {
      o.audit.append({ actor: username, address: req.ip, action: 'login-failed', object: `account:${username}`, outcome: 'denied' });
      return reply.code(401).send({ error: 'wrong username or password' });
    }
    const s = o.accounts.openSession(account.username, req.ip);
    o.audit.append({ actor: account.username, address: req.ip, action: 'login', object: `account:${account.username}` });
    void reply.setCookie(SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'strict', secure: o.secureCookies, path: '/' });
    return { username: account.username, displayName: account.displayName, roles: account.roles, csrf: s.csrf };
  });
  app.delete('/api/session', { config: { access: 'any' }, schema: { summary: 'Log out', tags: ['session'] } }, (req, reply) => {
    const p = principal(req);
    if (p.sessionSha256 !== undefined) o.accounts.endSession(p.sessionSha256);
    o.audit.append({ actor: p.name, address: req.ip, action: 'logout', object: `account:${p.name}` });
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.code(204).send();
  });
  return throttle;
}
