/**
 * Security issue, minor finding: "`text=_` matches every recording". The recording search must treat
 * `_`, `%`, `\`, `*` and `"` as the characters they are, never as LIKE or FTS5 wildcards, on both
 * paths of the search (LIKE scan below three characters, trigram index from three). Sent through
 * GET /api/recordings in-process; a search finds exactly the recordings that literally contain the
 * text in a searched column (numbers, names, call id), or whose whole base name it is. Every base
 * name contains `_` (`<date>-<time>_<caller>_<callee>_<id>`): searching base names for parts made
 * `_` find every recording.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingRow } from '../../src/store/index.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

const NAMES = ['Carol 100%_real', 'Dave 50% off', 'under_score', 'back\\slash', 'star*gazer', 'quote "q"', 'Plain Name', 'a%b_c'];

let t: TestApi;
let cookie: string;
const rows: RecordingRow[] = [];

beforeAll(async () => {
  t = await buildTestApi();
  await t.accounts.create({ username: 'alice', displayName: 'Alice', roles: ['auditor'], password: 'auditor-password-1' });
  const r = await t.app.inject({ method: 'POST', url: '/api/session', payload: { username: 'alice', password: 'auditor-password-1' } });
  cookie = String(r.headers['set-cookie']).split(';')[0] ?? '';
  t.repo.startEpoch(1, 'k', 0);
  NAMES.forEach((callerName, i) => {
    const row: RecordingRow = {
      id: `r${i}`, baseName: `20260101-00000${i}-000_+4930${i}_+4989${i}_r${i}`, dir: '2026/01/01', callId: `call-${i}@pbx.example`,
      startMs: 1000 * i, endMs: 1000 * i + 500, callerNumber: `+4930${i}`, callerName, calleeNumber: `+4989${i}`, calleeName: 'Desk',
      direction: 'in', setting: 'All', channels: 'stereo', codec: 'PCMA', interrupted: false, files: [], hashFileSha256: 'h',
      signature: `s${i}`, chainEpoch: 1, chainSeq: i + 1, previous: '', sealedAtMs: 0,
    };
    t.repo.insertSealed(row);
    rows.push(row);
  });
});

afterAll(async () => {
  await t.close();
});

/** The ids whose searched columns contain `text` (case-insensitive), as a plain substring test finds them. */
function literal(text: string, columns: (r: RecordingRow) => string[]): string[] {
  return rows.filter((r) => columns(r).some((v) => v.toLowerCase().includes(text.toLowerCase()))).map((r) => r.id).sort();
}

async function search(text: string): Promise<string[]> {
  const r = await t.app.inject({ method: 'GET', url: `/api/recordings?limit=500&text=${encodeURIComponent(text)}`, headers: { cookie } });
  expect(r.statusCode, text).toBe(200);
  return r.json<{ items: { id: string }[] }>().items.map((x) => x.id).sort();
}

describe('recording search wildcards (security issue, minor finding)', () => {
  it('finds `%`, `_`, `\\`, `*` and `"` only where they literally occur (scan and index)', async () => {
    const names = (r: RecordingRow): string[] => [r.callerNumber, r.callerName, r.calleeNumber, r.calleeName, r.callId];
    for (const text of ['%', '%%', '%_', '_%', '%b_', '0%_', '\\', '\\s', '*', 'r*g', '"', '"q"', '100%_', '% o', 'plain', '_real', 'r_s']) {
      expect(await search(text), text).toEqual(literal(text, names));
    }
    expect(await search('%')).toEqual(['r0', 'r1', 'r7']);
    // `_` is in every base name (its separator), but only in three of the names.
    expect(await search('_')).toEqual(['r0', 'r2', 'r7']);
    expect(await search('__')).toEqual([]);
    expect(await search('%%%')).toEqual([]);
  });

  it('finds a recording by its whole base name, never by a part of it', async () => {
    const r = rows[3];
    if (!r) throw new Error('no row');
    expect(await search(r.baseName)).toEqual([r.id]);
    expect(await search(r.baseName.slice(0, 15))).toEqual([]);
  });
});
