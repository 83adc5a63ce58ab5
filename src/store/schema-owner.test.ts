import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SRC = join(import.meta.dirname, '..');

/** SQL that creates or changes schema, in any case (the compiled Kysely DDL is lower-case). */
const DDL = /\b(?:CREATE\s+(?:TEMP(?:ORARY)?\s+)?(?:UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER|VIEW|VIRTUAL\s+TABLE)|ALTER\s+TABLE)\b/i;
/** Kysely's schema builder. */
const BUILDER = /\.schema\s*\.\s*(?:create|alter)[A-Z]/;

/**
 * Files outside `store/` allowed to hold DDL, and why: the external SQL recording logs (G2) live in
 * the admin's own databases, and their table is created there on the admin's request.
 */
const EXTERNAL = new Map([
  ['archive/sqllog/sqllog.ts', 'creates the recording-log table in an external SQL database'],
  ['archive/sqllog/mssql.test.ts', 'checks the compiled T-SQL of that external table'],
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Lines of code that hold DDL; comment lines are skipped (they may name a statement). */
function ddlLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
    const code = line.trim();
    if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return [];
    return DDL.test(code) || BUILDER.test(code) ? [`${String(i + 1)}: ${code}`] : [];
  });
}

describe('one owner of the embedded schema (DESIGN.md: no other module creates a table)', () => {
  it('finds no CREATE TABLE, INDEX, TRIGGER, VIEW, VIRTUAL TABLE or ALTER TABLE outside src/store/', () => {
    const found: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file).split(sep).join('/');
      if (rel.startsWith('store/') || EXTERNAL.has(rel)) continue;
      for (const line of ddlLines(file)) found.push(`src/${rel}:${line}`);
    }
    expect(found).toEqual([]);
  });

  it('the external SQL log files hold only the external table (no embedded-database SQL DDL)', () => {
    for (const rel of EXTERNAL.keys()) {
      const lines = ddlLines(join(SRC, rel));
      expect(lines.length, rel).toBeGreaterThan(0);
      // The embedded database's DDL is written as upper-case SQL; the external table's only as Kysely.
      for (const line of lines) expect(line).not.toMatch(/\b(?:CREATE|ALTER)\b/);
    }
  });
});
