/**
 * Named SQL recording logs (G2), stored with their credentials sealed (F5); never returned by the API.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../common/errors.ts';
import type { SecretBox } from '../common/secretbox.ts';
import type { TargetTestResult } from '../archive/index.ts';
import type { Logger } from '../common/log.ts';
import { SqlLog, sqlLogSchema, type SqlLogDefinition } from './sqllog.ts';

/** The stored SQL logs. */
export class SqlLogRegistry {
  readonly #db: DatabaseSync;
  readonly #box: SecretBox;
  readonly #live = new Map<string, SqlLog>();
  readonly #log: Logger;

  constructor(db: DatabaseSync, box: SecretBox, log: Logger) {
    this.#db = db;
    this.#box = box;
    this.#log = log;
  }

  save(raw: unknown): SqlLogDefinition {
    const r = sqlLogSchema.safeParse(raw);
    if (!r.success) throw new ConfigError('CS_SQLLOG_INVALID', r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
    const d = r.data;
    this.#db.prepare(`INSERT INTO sql_logs (id, name, dialect, def_enc, status, updated_ms) VALUES (?, ?, ?, ?, 'untested', ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, dialect = excluded.dialect, def_enc = excluded.def_enc, status = 'untested', last_test = NULL, updated_ms = excluded.updated_ms`)
      .run(d.id, d.name, d.dialect, this.#box.seal(d), Date.now());
    void this.#live.get(d.id)?.close();
    this.#live.delete(d.id);
    return d;
  }

  list(): Record<string, unknown>[] {
    const rows = this.#db.prepare('SELECT id, def_enc, status, last_test FROM sql_logs ORDER BY id').all() as { id: string; def_enc: string; status: string; last_test: string | null }[];
    return rows.map((r) => {
      const d = sqlLogSchema.parse(this.#box.open(r.def_enc));
      return { ...d, password: d.password ? '(set)' : '', status: r.status, lastTest: r.last_test ? JSON.parse(r.last_test) as TargetTestResult : null };
    });
  }

  status(id: string): string | undefined {
    return (this.#db.prepare('SELECT status FROM sql_logs WHERE id = ?').get(id) as { status: string } | undefined)?.status;
  }

  get(id: string): SqlLog | undefined {
    const row = this.#db.prepare('SELECT def_enc FROM sql_logs WHERE id = ?').get(id) as { def_enc: string } | undefined;
    if (!row) return undefined;
    let log = this.#live.get(id);
    if (!log) {
      log = new SqlLog(sqlLogSchema.parse(this.#box.open(row.def_enc)), (err) => {
        this.#log.warn({ sqlLog: id, err: err.message }, 'SQL log connection lost; rows wait in the outbox');
      });
      this.#live.set(id, log);
    }
    return log;
  }

  delete(id: string): boolean {
    void this.#live.get(id)?.close();
    this.#live.delete(id);
    return this.#db.prepare('DELETE FROM sql_logs WHERE id = ?').run(id).changes > 0;
  }

  /** "test connection": queries the log table; a failure marks the log misconfigured. */
  async test(id: string): Promise<TargetTestResult | undefined> {
    const log = this.get(id);
    if (!log) return undefined;
    const result = await log.test();
    this.#db.prepare('UPDATE sql_logs SET status = ?, last_test = ? WHERE id = ?').run(result.ok ? 'ok' : 'misconfigured', JSON.stringify(result), id);
    return result;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#live.values()].map((l) => l.close()));
    this.#live.clear();
  }
}
