/**
 * The `accounts` table: local accounts of the web UI (H1), with the argon2id hash of the password.
 * Hashing, validation and roles belong to `web/accounts.ts`; this is the SQL.
 */
import type { DatabaseSync } from 'node:sqlite';

/** An account row as stored. */
export interface AccountRow {
  readonly username: string;
  readonly display_name: string;
  /** JSON array of role names. */
  readonly roles: string;
  readonly directory_user_id: string | null;
  readonly password_hash: string;
  readonly disabled: number;
  readonly created_ms: number;
  readonly last_login_ms: number | null;
}

/** The fields of an account that an admin changes. */
export interface AccountFields {
  readonly displayName: string;
  readonly roles: readonly string[];
  readonly directoryUserId: string | null;
  readonly disabled: boolean;
}

/** Accounts. */
export class AccountRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** How many accounts exist. */
  count(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number }).n;
  }

  /** Every account, by username. */
  list(): AccountRow[] {
    return this.#db.prepare('SELECT * FROM accounts ORDER BY username').all() as unknown as AccountRow[];
  }

  /** One account, or undefined. */
  get(username: string): AccountRow | undefined {
    return this.#db.prepare('SELECT * FROM accounts WHERE username = ?').get(username) as AccountRow | undefined;
  }

  /** Inserts an account with its password hash. */
  insert(username: string, f: AccountFields, passwordHash: string, nowMs: number): void {
    this.#db.prepare('INSERT INTO accounts (username, display_name, roles, directory_user_id, password_hash, disabled, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(username, f.displayName, JSON.stringify(f.roles), f.directoryUserId, passwordHash, f.disabled ? 1 : 0, nowMs);
  }

  /** Changes an account's fields (not its password). */
  update(username: string, f: AccountFields): void {
    this.#db.prepare('UPDATE accounts SET display_name = ?, roles = ?, directory_user_id = ?, disabled = ? WHERE username = ?')
      .run(f.displayName, JSON.stringify(f.roles), f.directoryUserId, f.disabled ? 1 : 0, username);
  }

  /** Replaces the password hash. */
  setPasswordHash(username: string, passwordHash: string): void {
    this.#db.prepare('UPDATE accounts SET password_hash = ? WHERE username = ?').run(passwordHash, username);
  }

  /** Notes a successful login. */
  touchLogin(username: string, nowMs: number): void {
    this.#db.prepare('UPDATE accounts SET last_login_ms = ? WHERE username = ?').run(nowMs, username);
  }

  /** Deletes an account; whether it existed. */
  delete(username: string): boolean {
    return Number(this.#db.prepare('DELETE FROM accounts WHERE username = ?').run(username).changes) > 0;
  }
}
