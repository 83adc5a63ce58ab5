import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SRC = join(import.meta.dirname, '..');

/** A statement prepared on a database handle. */
const PREPARE = /\.prepare\s*\(/;

/**
 * Files outside `store/` that still prepare SQL, and why. Every other table is reached through its
 * repository in `store/` (one per table).
 */
const ALLOWED = new Map([
  ['sqllog/sqllog.ts', 'the driver of an external SQLite recording log, not the embedded database'],
  ['sqllog/registry.ts', 'the sql_logs table (definitions of the external logs), not moved to store/ yet'],
  ['archive/registry.ts', 'the targets table (storage target settings), not moved to store/ yet'],
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('one repository per table (DESIGN.md: store/ holds the SQL)', () => {
  it('finds no SQL prepared outside src/store/ but in the files listed with their reason', () => {
    const found: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file).split(sep).join('/');
      if (rel.startsWith('store/') || ALLOWED.has(rel)) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (PREPARE.test(line)) found.push(`src/${rel}:${String(i + 1)}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('lists only files that still prepare SQL', () => {
    for (const rel of ALLOWED.keys()) expect(PREPARE.test(readFileSync(join(SRC, rel), 'utf8')), rel).toBe(true);
  });
});
