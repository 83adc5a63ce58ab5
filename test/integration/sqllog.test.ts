/**
 * External SQL recording logs (G2) against real PostgreSQL and MariaDB started on loopback, and a
 * SQLite file: "create table" and "test connection" actions, one row per sealed recording with the
 * reference's columns (read back with psql and the mariadb client, not callseal), and a database
 * outage that delays the row but never loses or duplicates it, with one alert mail when the log
 * starts failing and one when it works again (captured by an SMTP server on loopback).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, until } from '../helpers/api.ts';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { startMailCatcher, startMariadb, startPostgres, type MailCatcher, type Mariadb, type Postgres } from '../helpers/servers.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc } from '../helpers/src.ts';

const TOKEN = 'sqllog-test-token';
let cs: CallsealProcess;
let mail: MailCatcher;
let pg: Postgres;
let my: Mariadb;
let litePath: string;

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return apiCall(cs.httpPort, TOKEN, method, path, body);
}

const psql = (query: string): string => execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '-At', '-F', '|', '-c', query], { encoding: 'utf8' }).trim();
const mysql = (query: string): string => execFileSync('mariadb', ['--no-defaults', `--socket=${my.socket}`, '-uroot', '-N', '-B', '-e', query], { encoding: 'utf8' }).trim();

async function oneCall(): Promise<void> {
  const src = await RawSrc.connect('UDP', cs.sipPort);
  try {
    await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    await new Promise((r) => setTimeout(r, 200));
    await src.bye();
  } finally {
    src.close();
  }
}


const pgCount = (): number => {
  try {
    return Number(psql('select count(*) from callseal_recordings'));
  } catch {
    return -1;
  }
};

beforeAll(async () => {
  [pg, my] = await Promise.all([startPostgres(), startMariadb()]);
  mysql('create database calls');
  litePath = join(mkdtempSync(join(tmpdir(), 'callseal-lite-')), 'log.db');
  mail = await startMailCatcher();
  cs = await startCallseal({
    env: { CALLSEAL_API_TOKEN: TOKEN },
    config: { archive: { retryBaseMs: 300, retryMaxMs: 1500, tickMs: 200 }, alerts: { smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'callseal@example.test', to: ['ops@example.test'] } } },
  });
}, 120_000);
afterAll(async () => {
  await cs.stop();
  await Promise.all([pg.stop(), my.stop(), mail.stop()]);
});

describe('external SQL recording logs', () => {
  it('creates the tables and tests the connections; a wrong password is reported', async () => {
    expect((await api('PUT', '/api/sql-logs/pg1', { name: 'PostgreSQL', dialect: 'postgres', port: pg.port, database: 'postgres', user: 'postgres' })).status).toBe(200);
    expect((await api('PUT', '/api/sql-logs/my1', { name: 'MariaDB', dialect: 'mysql', port: my.port, database: 'calls', user: 'root' })).status).toBe(200);
    expect((await api('PUT', '/api/sql-logs/lite1', { name: 'SQLite', dialect: 'sqlite', database: litePath })).status).toBe(200);
    expect((await api('PUT', '/api/sql-logs/bad', { name: 'bad password', dialect: 'mysql', port: my.port, database: 'calls', user: 'root', password: 'not-the-password' })).status).toBe(200);
    for (const id of ['pg1', 'my1', 'lite1']) {
      expect((await api('POST', `/api/sql-logs/${id}/create-table`)).status).toBe(200);
      expect((await api('POST', `/api/sql-logs/${id}/test`)).json).toMatchObject({ ok: true });
    }
    expect((await api('POST', '/api/sql-logs/bad/test')).json).toMatchObject({ ok: false, stage: 'auth' });
    expect(JSON.stringify((await api('GET', '/api/sql-logs')).json)).not.toContain('not-the-password');
    expect((await api('PUT', '/api/settings/record-all', { name: 'Record all calls', scope: { kind: 'all' }, targetIds: ['pg1', 'my1', 'lite1'] })).status).toBe(200);
  });

  it('writes one row per sealed recording into every log', async () => {
    await oneCall();
    await until('rows in all three logs', () => pgCount() === 1 && mysql('select count(*) from calls.callseal_recordings') === '1');
    const row = psql('select basefilename, direction, time, callername, caller, callee, setting, length(signature) > 300 from callseal_recordings').split('|');
    expect(row[0]).toMatch(/^\d{8}-\d{6}-\d{3}_\+4930123456_\+4989765432_/);
    expect(row.slice(3)).toEqual(['Alice Anders', '+4930123456', '+4989765432', 'Record all calls', 't']);
    expect(Number(row[2])).toBeGreaterThan(1_700_000_000_000);
    expect(mysql('select callid, chain_seq from calls.callseal_recordings')).toMatch(/@rawsrc\t1$/);
    const lite = new DatabaseSync(litePath);
    expect((lite.prepare('select count(*) as n from callseal_recordings').get() as { n: number }).n).toBe(1);
    lite.close();
  });

  it('delays rows during a database outage and writes each exactly once afterwards; one alert, one recovery mail', async () => {
    const mailsBefore = mail.messages.length;
    await pg.stop();
    await oneCall();
    await oneCall();
    await until('both rows in MariaDB', () => mysql('select count(*) from calls.callseal_recordings') === '3');
    await until('PostgreSQL jobs failing', () => cs.logs.some((l) => l['msg'] === 'archive copy failed; kept locally' && l['target'] === 'pg1'));
    await pg.start();
    await until('rows in PostgreSQL', () => pgCount() === 3);
    await new Promise((r) => setTimeout(r, 1500));
    expect(psql('select count(distinct basefilename) from callseal_recordings')).toBe('3');
    expect(pgCount()).toBe(3);
    await until('a recovery mail', () => mail.messages.slice(mailsBefore).some((m) => m.subject.includes('works again')));
    const mails = mail.messages.slice(mailsBefore);
    // Several failed attempts (retries every 0.3-1.5 s), yet one mail for the streak and one for the recovery.
    expect(cs.logs.filter((l) => l['msg'] === 'archive copy failed; kept locally' && l['target'] === 'pg1').length).toBeGreaterThan(1);
    expect(mails.map((m) => m.subject)).toEqual([expect.stringContaining('target pg1 is failing'), expect.stringContaining('target pg1 works again')]);
  });
});
