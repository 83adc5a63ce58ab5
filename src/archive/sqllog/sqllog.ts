/**
 * External SQL recording logs (G2): PostgreSQL (pg), MySQL/MariaDB (mysql2), SQL Server
 * (tedious) and SQLite (node:sqlite) through one query builder (kysely). The reference's columns
 * (basefilename, direction, time, callid, callername, caller, callee, setting, signature) plus
 * callseal's own. Rows are written through the outbox, so an outage delays rows but loses none;
 * inserts are idempotent by basefilename. Queries are parameterized (invariant 4).
 */
import { DatabaseSync } from 'node:sqlite';
import { Kysely, MssqlDialect, MysqlDialect, PostgresDialect, SqliteDialect, sql, type Dialect } from 'kysely';
import pg from 'pg';
import { createPool } from 'mysql2';
import * as tedious from 'tedious';
import * as tarn from 'tarn';
import { z } from 'zod';
import { runTargetTest, TargetError, type TargetStage, type TargetTestResult } from '../target.ts';

const ident = z.string().min(1).max(64).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _ only');

/** Configuration of one SQL log. */
export const sqlLogSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/),
  name: z.string().min(1).max(200),
  dialect: z.enum(['postgres', 'mysql', 'mssql', 'sqlite']),
  host: z.string().max(253).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).max(500),
  user: z.string().max(200).default(''),
  password: z.string().max(1000).default(''),
  table: ident.default('callseal_recordings'),
}).strict();

export type SqlLogDefinition = z.infer<typeof sqlLogSchema>;

/** One row of the recording log. */
export interface LogRow {
  basefilename: string;
  direction: string;
  time: number;
  callid: string;
  callername: string;
  caller: string;
  callee: string;
  setting: string;
  signature: string;
  recording_id: string;
  end_time: number;
  callee_name: string;
  interrupted: number;
  chain_epoch: number;
  chain_seq: number;
}

type Db = Record<string, LogRow>;

/** node:sqlite behind kysely's SQLite driver interface. */
function sqliteDatabase(path: string): ConstructorParameters<typeof SqliteDialect>[0]['database'] {
  const db = new DatabaseSync(path);
  return {
    close: () => { db.close(); },
    prepare: (text: string) => {
      const stmt = db.prepare(text);
      const reader = /^\s*(select|with|pragma)|\breturning\b/i.test(text);
      return {
        reader,
        all: (params: readonly unknown[]) => stmt.all(...(params as never[])),
        run: (params: readonly unknown[]) => stmt.run(...(params as never[])),
        iterate: (params: readonly unknown[]) => stmt.iterate(...(params as never[])),
      };
    },
  };
}

/** The kysely dialect for a definition (no connection is made until a query runs). */
export function dialectFor(d: SqlLogDefinition, onError: (err: Error) => void): Dialect {
  switch (d.dialect) {
    case 'postgres': {
      const pool = new pg.Pool({ host: d.host, port: d.port ?? 5432, database: d.database, user: d.user, password: d.password, max: 2, connectionTimeoutMillis: 5000 });
      // An idle connection the server drops (restart, outage) is reported here; unhandled it would end the process.
      pool.on('error', onError);
      return new PostgresDialect({ pool });
    }
    case 'mysql': {
      const pool = createPool({ host: d.host, port: d.port ?? 3306, database: d.database, user: d.user, password: d.password, connectionLimit: 2, connectTimeout: 5000 });
      pool.on('connection', (conn) => { conn.on('error', onError); });
      return new MysqlDialect({ pool });
    }
    case 'mssql':
      return new MssqlDialect({
        tarn: { ...tarn, options: { min: 0, max: 2 } },
        tedious: {
          ...tedious,
          connectionFactory: () => new tedious.Connection({
            server: d.host, authentication: { type: 'default', options: { userName: d.user, password: d.password } },
            options: { port: d.port ?? 1433, database: d.database, trustServerCertificate: true, connectTimeout: 5000 },
          }),
        },
      });
    case 'sqlite':
      return new SqliteDialect({ database: sqliteDatabase(d.database) });
  }
}

function stageOf(err: unknown): TargetStage {
  const m = err instanceof Error ? `${err.message} ${(err as NodeJS.ErrnoException).code ?? ''}` : String(err);
  if (/ENOTFOUND|EAI_AGAIN/.test(m)) return 'dns';
  if (/ECONNREFUSED|ETIMEDOUT|timeout|ECONNRESET|connect/i.test(m)) return 'connect';
  if (/password|authentication|Access denied|Login failed/i.test(m)) return 'auth';
  if (/permission|denied/i.test(m)) return 'permission';
  if (/does not exist|Unknown database|no such table|doesn't exist|Invalid object name/i.test(m)) return 'path';
  return 'write';
}

/** One external recording log. */
export class SqlLog {
  readonly def: SqlLogDefinition;
  readonly #db: Kysely<Db>;

  /** `onError` receives connection errors outside a query (a server that went away). */
  constructor(def: SqlLogDefinition, onError: (err: Error) => void = (err) => { queueMicrotask(() => { throw err; }); }) {
    this.def = def;
    this.#db = new Kysely<Db>({ dialect: dialectFor(def, onError) });
  }

  /** The query builder, for compiling statements without a connection (tests of the SQL Server dialect). */
  get db(): Kysely<Db> {
    return this.#db;
  }

  /** The CREATE TABLE statement for this dialect. */
  createTableQuery(): ReturnType<Kysely<Db>['schema']['createTable']> {
    const text = this.def.dialect === 'mssql' ? sql`nvarchar(max)` : sql`text`;
    const str = this.def.dialect === 'mssql' ? sql`nvarchar(255)` : sql`varchar(255)`;
    // T-SQL has no CREATE TABLE IF NOT EXISTS: for SQL Server, createTable() checks OBJECT_ID first.
    const base = this.#db.schema.createTable(this.def.table);
    return (this.def.dialect === 'mssql' ? base : base.ifNotExists())
      .addColumn('basefilename', str, (c) => c.notNull().primaryKey())
      .addColumn('direction', sql`varchar(16)`, (c) => c.notNull())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('callid', str, (c) => c.notNull())
      .addColumn('callername', str, (c) => c.notNull())
      .addColumn('caller', str, (c) => c.notNull())
      .addColumn('callee', str, (c) => c.notNull())
      .addColumn('setting', str, (c) => c.notNull())
      .addColumn('signature', text, (c) => c.notNull())
      .addColumn('recording_id', sql`varchar(64)`, (c) => c.notNull())
      .addColumn('end_time', 'bigint', (c) => c.notNull())
      .addColumn('callee_name', str, (c) => c.notNull())
      .addColumn('interrupted', 'integer', (c) => c.notNull())
      .addColumn('chain_epoch', 'integer', (c) => c.notNull())
      .addColumn('chain_seq', 'integer', (c) => c.notNull());
  }

  /** The existence check used before CREATE TABLE on SQL Server. */
  existsQueryMssql(): ReturnType<typeof sql<{ id: number | null }>> {
    return sql<{ id: number | null }>`select object_id(${this.def.table}, 'U') as id`;
  }

  /** "create table" action. */
  async createTable(): Promise<void> {
    try {
      if (this.def.dialect === 'mssql') {
        const r = await this.existsQueryMssql().execute(this.#db);
        if (r.rows[0]?.id !== null && r.rows[0]?.id !== undefined) return;
      }
      await this.createTableQuery().execute();
    } catch (err) {
      throw new TargetError(stageOf(err), `${this.def.dialect}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** "test connection" action: a query against the log table. */
  test(): Promise<TargetTestResult> {
    return runTargetTest(`sql:${this.def.dialect}`, async () => {
      try {
        await this.#db.selectFrom(this.def.table).select(sql<number>`count(*)`.as('n')).execute();
      } catch (err) {
        throw new TargetError(stageOf(err), `${this.def.dialect}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    });
  }

  /** Inserts a row once: an existing row with the same basefilename means it is already there. */
  async insert(row: LogRow): Promise<void> {
    try {
      const there = await this.#db.selectFrom(this.def.table).select('basefilename').where('basefilename', '=', row.basefilename).executeTakeFirst();
      if (there) return;
      await this.#db.insertInto(this.def.table).values(row).execute();
    } catch (err) {
      throw new TargetError(stageOf(err), `${this.def.dialect}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}
