/**
 * SQL Server: no server can run here, so the statements kysely generates for the MSSQL dialect and
 * the parameters handed to the tedious driver are checked against the documented T-SQL forms
 * (bracket-free ANSI quoted identifiers, `@1` parameters, nvarchar types). Named so: wire format only.
 */
import { describe, expect, it } from 'vitest';
import { SqlLog } from './sqllog.ts';

describe('SQL Server recording log (documented dialect, no live server)', () => {
  const log = new SqlLog({ id: 'ms', name: 'MS', dialect: 'mssql', host: '127.0.0.1', database: 'calls', user: 'sa', password: 'x', table: 'callseal_recordings' });

  it('creates the reference columns with T-SQL types', () => {
    const q = log.createTableQuery().compile();
    // T-SQL has no CREATE TABLE IF NOT EXISTS; the existence is checked with OBJECT_ID first.
    expect(log.existsQueryMssql().compile(log.db)).toMatchObject({ sql: "select object_id(@1, 'U') as id", parameters: ['callseal_recordings'] });
    expect(q.sql).toBe('create table "callseal_recordings" ("basefilename" nvarchar(255) not null primary key, "direction" varchar(16) not null, "time" bigint not null, "callid" nvarchar(255) not null, "callername" nvarchar(255) not null, "caller" nvarchar(255) not null, "callee" nvarchar(255) not null, "setting" nvarchar(255) not null, "signature" nvarchar(max) not null, "recording_id" varchar(64) not null, "end_time" bigint not null, "callee_name" nvarchar(255) not null, "interrupted" integer not null, "chain_epoch" integer not null, "chain_seq" integer not null)');
  });

  it('inserts with parameters, never with values in the text', () => {
    const row = {
      basefilename: "x'; drop table t;--", direction: 'in', time: 1795000000000, callid: 'c', callername: 'Ann', caller: '+49', callee: '+48',
      setting: 'S', signature: 'sig', recording_id: 'r', end_time: 1795000001000, callee_name: 'B', interrupted: 0, chain_epoch: 1, chain_seq: 7,
    };
    const q = log.db.insertInto('callseal_recordings').values(row).compile();
    expect(q.sql).toBe('insert into "callseal_recordings" ("basefilename", "direction", "time", "callid", "callername", "caller", "callee", "setting", "signature", "recording_id", "end_time", "callee_name", "interrupted", "chain_epoch", "chain_seq") values (@1, @2, @3, @4, @5, @6, @7, @8, @9, @10, @11, @12, @13, @14, @15)');
    expect(q.parameters).toEqual(Object.values(row));
    const sel = log.db.selectFrom('callseal_recordings').select('basefilename').where('basefilename', '=', 'b').compile();
    expect(sel.sql).toBe('select "basefilename" from "callseal_recordings" where "basefilename" = @1');
  });
});
