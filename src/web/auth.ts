/**
 * Who is asking, and may they (H1, H6). A request is authenticated by the session cookie (browser)
 * or by the API token as a bearer token (automation; acts as an admin). Every route under `/api/`
 * names the roles it admits in its `config.roles`; a route that names none is admin-only. Changing
 * requests with a session cookie must carry the session's CSRF token in `x-csrf-token`. Every
 * changing request, every login and every denied request goes to the audit trail.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AccountStore, Role } from './accounts.ts';
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
  if (!req.principal) throw Object.assign(new Error('not logged in'), { statusCode: 401 });
  return req.principal;
}

/** Options of {@link registerAuth}. */
export interface AuthOptions {
  readonly accounts: AccountStore;
  readonly audit: AuditLog;
  readonly token: string;
  readonly secureCookies: boolean;
  readonly loginAttemptsPerMinute: number;
}

/** Registers cookies, rate limiting, the access check, CSRF, the audit of changes, and the session routes. */
export async function registerAuth(app: FastifyInstance, o: AuthOptions): Promise<void> {
  await app.register(cookie);
  await app.register(rateLimit, { global: false });

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
    if (!req.url.startsWith('/api/')) return undefined;
    const access: Access = req.routeOptions.config.access ?? ['admin'];
    if (access === 'public') return undefined;
    const p = req.principal;
    if (!p) return reply.code(401).send({ error: 'log in first' });
    if (access !== 'any' && !p.roles.some((r) => access.includes(r))) {
      o.audit.append({ actor: p.name, address: req.ip, action: 'denied', object: `${req.method} ${req.url.split('?')[0] ?? ''}`, outcome: 'denied' });
      return reply.code(403).send({ error: `this needs the role ${access.join(' or ')}` });
    }
    if (p.via === 'session' && CHANGING.has(req.method)) {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || p.csrf === undefined || !sameSecret(given, p.csrf)) {
        o.audit.append({ actor: p.name, address: req.ip, action: 'csrf-rejected', object: `${req.method} ${req.url.split('?')[0] ?? ''}`, outcome: 'denied' });
        return reply.code(403).send({ error: 'missing or wrong x-csrf-token' });
      }
    }
    return undefined;
  });

  // H6: every configuration change (any changing request) with who, when and the result.
  app.addHook('onResponse', async (req, reply) => {
    if (!req.url.startsWith('/api/') || !CHANGING.has(req.method) || req.url.startsWith('/api/session')) return;
    const p = req.principal;
    if (!p || reply.statusCode === 401 || reply.statusCode === 403) return;
    o.audit.append({
      actor: p.name, address: req.ip, action: req.method === 'DELETE' ? 'delete' : 'change', object: `${req.method} ${req.routeOptions.url ?? req.url}`,
      details: { url: req.url, status: reply.statusCode, params: req.params },
      outcome: reply.statusCode < 400 ? 'ok' : 'failed',
    });
  });

  const login = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
  app.post('/api/session', {
    config: { access: 'public', rateLimit: { max: o.loginAttemptsPerMinute, timeWindow: 60_000 } },
    schema: { summary: 'Log in (sets the session cookie; returns the CSRF token)', tags: ['session'] },
  }, async (req, reply) => {
    const body = login.parse(req.body);
    const account = await o.accounts.authenticate(body.username.toLowerCase(), body.password);
    if (!account) {
      o.audit.append({ actor: body.username.toLowerCase().slice(0, 64), address: req.ip, action: 'login-failed', object: `account:${body.username.toLowerCase().slice(0, 64)}`, outcome: 'denied' });
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
}
