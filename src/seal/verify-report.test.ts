import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { FINDING_KINDS, Findings, renderReport, type VerifyReport } from './verify-report.ts';

const sealingDoc = (): string => readFileSync(new URL('../../docs/sealing.md', import.meta.url), 'utf8');

/** The rows of the finding-kind table in docs/sealing.md. */
function documentedKinds(): string[] {
  const doc = sealingDoc();
  const table = doc.slice(doc.indexOf('### Finding kinds'));
  return [...table.slice(0, table.indexOf('\n\n', table.indexOf('| kind |'))).matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1] ?? '');
}

describe('finding kinds', () => {
  it('documents every kind in docs/sealing.md, and no kind that does not exist', () => {
    expect(documentedKinds().sort()).toEqual(Object.keys(FINDING_KINDS).sort());
  });

  it('keep the order the checks found them in', () => {
    const f = new Findings();
    f.add({ kind: 'missing-link', recording: 'b', message: 'second' });
    f.add({ kind: 'altered-file', recording: 'a', file: 'a.wav', message: 'first' });
    expect(f.list.map((x) => x.kind)).toEqual(['missing-link', 'altered-file']);
  });
});

describe('renderReport', () => {
  const report: VerifyReport = {
    folder: '/r', recordings: 2, verified: 1, epochs: [{ epoch: 1, first: 1, last: 2, count: 2 }], interrupted: [], deleted: [],
    certificates: [], trust: { pinned: false, pins: [], keys: [] }, checkpoints: { count: 0, latest: undefined },
    findings: [{ kind: 'altered-file', recording: '2026/a', file: 'a.wav', message: 'a.wav does not match its SHA-256 in the hash file' }], ok: false,
  };

  it('lists each finding with its kind, recording and file', () => {
    expect(renderReport(report)).toBe([
      'callseal verify /r',
      '  trusted key: none',
      '  pinned: no (not pinned: give --fingerprint from the printed certificate, or --cert)',
      '  recordings: 2, intact and signed: 1',
      '  chain epoch 1: #1..#2, 2 recording(s)',
      '  signed checkpoints: 0',
      '  FINDINGS: 1',
      '    [altered-file] 2026/a (a.wav): a.wav does not match its SHA-256 in the hash file',
      '',
    ].join('\n'));
  });

  it('says OK only for a tree with recordings and no finding', () => {
    expect(renderReport({ ...report, findings: [], ok: true })).toContain('  OK: every file, signature and chain link holds\n');
    expect(renderReport({ ...report, recordings: 0, epochs: [], findings: [], ok: false })).toContain('  no recordings found\n');
  });
});
