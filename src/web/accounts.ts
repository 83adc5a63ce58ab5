/**
 * Local accounts and their sessions (H1). Passwords are hashed with argon2id (OWASP parameters,
 * @node-rs/argon2); a session id is handed out once in a cookie and stored only as its SHA-256, so a
 * copy of the database cannot log anybody in. Sessions end after an idle time and a maximum age.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { hash, verify } from '@node-rs/argon2';
import { z } from 'zod';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

/** The three roles of H1. */
export const ROLES = ['admin', 'auditor', 'member'] as const;
export type Role = (typeof ROLES)[number];

/** An account as the API shows it (never the hash). */
export interface Account {
  readonly username: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  /** For members: the directory user whose group memberships the account may toggle. */
  readonly directoryUserId: string | null;
  readonly disabled: boolean;
  readonly createdMs: number;
  readonly lastLoginMs: number | null;
}

/** A valid session. */
export interface Session {
  readonly account: Account;
  readonly csrf: string;
  readonly idSha256: string;
}

/** What an admin may send to create or change an account. */
export const accountInputSchema = z.object({
  username: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" or "-", at most 64'),
  displayName: z.string().min(1).max(200),
  roles: z.array(z.enum(ROLES)).min(1).max(3),
  directoryUserId: z.string().min(1).max(100).nullable().default(null),
  password: z.string().min(12, 'at least 12 characters').max(1024).optional(),
  disabled: z.boolean().default(false),
}).strict();

interface AccountRow {
  username: string; display_name: string; roles: string; directory_user_id: string | null; password_hash: string;
  disabled: number; created_ms: number; last_login_ms: number | null;
}

function toAccount(r: AccountRow): Account {
  return {
    username: r.username, displayName: r.display_name, roles: JSON.parse(r.roles) as Role[], directoryUserId: r.directory_user_id,
    disabled: r.disabled === 1, createdMs: r.created_ms, lastLoginMs: r.last_login_ms,
  };
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A hash that no password matches, verified when the username is unknown (same time either way). */
let dummyHash: Promise<string> | undefined;

/** Accounts and sessions in the embedded database. */
export class AccountStore {
  readonly #db: DatabaseSync;
  readonly #idleMs: number;
  readonly #maxMs: number;

  constructor(db: DatabaseSync, o: { idleMinutes: number; maxHours: number }) {
    this.#db = db;
    this.#idleMs = o.idleMinutes * 60_000;
    this.#maxMs = o.maxHours * 3_600_000;
  }

  count(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number }).n;
  }

  list(): Account[] {
    return (this.#db.prepare('SELECT * FROM accounts ORDER BY username').all() as unknown as AccountRow[]).map(toAccount);
  }

  get(username: string): Account | undefined {
    const r = this.#db.prepare('SELECT * FROM accounts WHERE username = ?').get(username) as AccountRow | undefined;
    return r ? toAccount(r) : undefined;
  }

  /** Creates an account from unchecked input (validated here); the password is required. */
  async create(input: unknown, nowMs = Date.now()): Promise<Account> {
    const a = accountInputSchema.parse(input);
    if (a.password === undefined) throw new z.ZodError([{ code: 'custom', path: ['password'], message: 'required for a new account', input: undefined }]);
    if (this.get(a.username)) throw new z.ZodError([{ code: 'custom', path: ['username'], message: `"${a.username}" exists`, input: a.username }]);
    const h = await hash(a.password);
    this.#db.prepare('INSERT INTO accounts (username, display_name, roles, directory_user_id, password_hash, disabled, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.username, a.displayName, JSON.stringify([...new Set(a.roles)]), a.directoryUserId, h, a.disabled ? 1 : 0, nowMs);
    return this.get(a.username) as Account;
  }

  /** Changes an account from unchecked input; a new password or disabling it ends its sessions. */
  async update(username: string, input: unknown): Promise<Account | undefined> {
    if (!this.get(username)) return undefined;
    const a = accountInputSchema.parse({ ...(typeof input === 'object' ? input : {}), username });
    this.#db.prepare('UPDATE accounts SET display_name = ?, roles = ?, directory_user_id = ?, disabled = ? WHERE username = ?')
      .run(a.displayName, JSON.stringify([...new Set(a.roles)]), a.directoryUserId, a.disabled ? 1 : 0, username);
    if (a.password !== undefined) await this.setPassword(username, a.password);
    if (a.disabled) this.endSessions(username);
    return this.get(username);
  }

  async setPassword(username: string, password: string): Promise<void> {
    const p = z.string().min(12, 'at least 12 characters').max(1024).parse(password);
    this.#db.prepare('UPDATE accounts SET password_hash = ? WHERE username = ?').run(await hash(p), username);
    this.endSessions(username);
  }

  delete(username: string): boolean {
    return Number(this.#db.prepare('DELETE FROM accounts WHERE username = ?').run(username).changes) > 0;
  }

  /** Checks a password; unknown users cost the same time as known ones. */
  async authenticate(username: string, password: string, nowMs = Date.now()): Promise<Account | undefined> {
    const r = this.#db.prepare('SELECT * FROM accounts WHERE username = ?').get(username) as AccountRow | undefined;
    if (!r) {
      dummyHash ??= hash(randomBytes(16).toString('hex'));
      await verify(await dummyHash, password);
      return undefined;
    }
    const ok = await verify(r.password_hash, password).catch(() => false);
    if (!ok || r.disabled === 1) return undefined;
    this.#db.prepare('UPDATE accounts SET last_login_ms = ? WHERE username = ?').run(nowMs, username);
    return toAccount({ ...r, last_login_ms: nowMs });
  }

  /** Opens a session; returns the cookie value (shown once) and the CSRF token. */
  openSession(username: string, address: string, nowMs = Date.now()): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.#db.prepare('DELETE FROM sessions WHERE seen_ms < ? OR created_ms < ?').run(nowMs - this.#idleMs, nowMs - this.#maxMs);
    this.#db.prepare('INSERT INTO sessions (id_sha256, username, csrf, created_ms, seen_ms, address) VALUES (?, ?, ?, ?, ?, ?)').run(sha256(id), username, csrf, nowMs, nowMs, address);
    return { id, csrf };
  }

  /** The session of a cookie value, if valid; touching it extends the idle time. */
  session(id: string, nowMs = Date.now()): Session | undefined {
    const key = sha256(id);
    const s = this.#db.prepare('SELECT username, csrf, created_ms, seen_ms FROM sessions WHERE id_sha256 = ?').get(key) as { username: string; csrf: string; created_ms: number; seen_ms: number } | undefined;
    if (!s) return undefined;
    const account = this.get(s.username);
    if (!account || account.disabled || nowMs - s.seen_ms > this.#idleMs || nowMs - s.created_ms > this.#maxMs) {
      this.#db.prepare('DELETE FROM sessions WHERE id_sha256 = ?').run(key);
      return undefined;
    }
    if (nowMs - s.seen_ms > 10_000) this.#db.prepare('UPDATE sessions SET seen_ms = ? WHERE id_sha256 = ?').run(nowMs, key);
    return { account, csrf: s.csrf, idSha256: key };
  }

  endSession(idSha256: string): void {
    this.#db.prepare('DELETE FROM sessions WHERE id_sha256 = ?').run(idSha256);
  }

  endSessions(username: string): void {
    this.#db.prepare('DELETE FROM sessions WHERE username = ?').run(username);
  }
}

/**
 * The first admin account, created on the first start: password from CALLSEAL_ADMIN_PASSWORD, or
 * generated and printed once in the log (it is stored only as an argon2id hash).
 */
export async function ensureFirstAdmin(accounts: AccountStore, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (accounts.count() > 0) return;
  const given = env['CALLSEAL_ADMIN_PASSWORD'];
  if (given !== undefined && given !== '' && given.length < 12) {
    throw new ConfigError('CS_CONFIG_INVALID', [{ path: 'CALLSEAL_ADMIN_PASSWORD', message: 'at least 12 characters' }]);
  }
  const password = given !== undefined && given !== '' ? given : randomBytes(15).toString('base64url');
  await accounts.create({ username: 'admin', displayName: 'Administrator', roles: ['admin'], password });
  if (given !== undefined && given !== '') log.warn({ username: 'admin' }, 'first admin account created with the password from CALLSEAL_ADMIN_PASSWORD');
  else log.warn({ username: 'admin', initialPassword: password }, 'first admin account created; this password is shown only once: log in and change it');
}
