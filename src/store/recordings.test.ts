import { describe, expect, it } from 'vitest';
import { openDatabase } from './db.ts';
import { RecordingRepository, type RecordingRow } from './recordings.ts';

const PEOPLE = [
  ['+4930123456', 'Alice Anders', '+4989765432', 'Trading Desk'],
  ['+4930999999', 'Dr. Müller & Co', '+4989700', 'Bob "the" Broker'],
  ['+44207946000', 'Carol 100%_real', '+4989765401', 'Sales'],
  ['0301234', 'x', '+4989', 'y'],
] as const;

function repoWithRows(): RecordingRepository {
  const repo = new RecordingRepository(openDatabase(':memory:'));
  repo.startEpoch(1, 'k', 0);
  PEOPLE.forEach(([callerNumber, callerName, calleeNumber, calleeName], i) => {
    const row: RecordingRow = {
      id: `r${i}`, baseName: `20260101-00000${i}-000_${callerNumber}_${calleeNumber}_r${i}`, dir: '2026/01/01', callId: `call-${i}@pbx.example`,
      startMs: 1000 * i, endMs: 1000 * i + 500, callerNumber, callerName, calleeNumber, calleeName, direction: 'in', setting: 'All',
      channels: 'stereo', codec: 'PCMA', interrupted: false, files: [], hashFileSha256: 'h', signature: `s${i}`, chainEpoch: 1, chainSeq: i + 1,
      previous: '', sealedAtMs: 0,
    };
    repo.insertSealed(row);
  });
  return repo;
}

describe('recording search', () => {
  const repo = repoWithRows();
  const ids = (r: { rows: RecordingRow[] }): string[] => r.rows.map((x) => x.id).sort();
  /** What a plain case-insensitive substring test over the same columns finds. */
  const expected = (text: string): string[] => PEOPLE.flatMap((p, i) =>
    [...p, `call-${i}@pbx.example`].some((v) => v.toLowerCase().includes(text.toLowerCase())) ? [`r${i}`] : []).sort();

  it('finds substrings of numbers, names and call ids as a plain substring test does (index and scan)', () => {
    for (const text of ['4930', 'ANDERS', 'müller', '& co', '"the"', '100%_', '%_', 'pbx.exam', '89', '9', 'zz', 'call-3']) {
      expect(ids(repo.search({ text })), text).toEqual(expected(text));
    }
  });

  it('filters by number on the number columns only', () => {
    expect(ids(repo.search({ number: '4989765' }))).toEqual(['r0', 'r2']);
    expect(ids(repo.search({ number: '30' }))).toEqual(['r0', 'r1', 'r3']);
    expect(ids(repo.search({ number: 'Alice' }))).toEqual([]);
  });

  it('combines text, time range and paging', () => {
    const r = repo.search({ text: '+49', fromMs: 1000, limit: 1 });
    expect(r.total).toBe(3);
    expect(r.rows.map((x) => x.id)).toEqual(['r3']);
  });
});
