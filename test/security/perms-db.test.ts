/**
 * The database and its -wal and -shm files are 0600 whatever the umask (invariant 4), also when a
 * library or test opens it without the CLI's umask, and an older readable database is tightened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE_FILE_MODE, openDatabase } from '../../src/store/index.ts';

let savedUmask = 0o022;
beforeAll(() => {
  savedUmask = process.umask(0o000);
});
afterAll(() => {
  process.umask(savedUmask);
});

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('database file modes with umask 000', () => {
  it('creates callseal.db, -wal and -shm as 0600', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'callseal-db-')), 'callseal.db');
    const db = openDatabase(path);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('k', 'v');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(mode(file), file).toBe(0o600);
    expect(DATABASE_FILE_MODE).toBe(0o600);
    db.close();
  });

  it('tightens a database an older version left 0644', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'callseal-db-')), 'callseal.db');
    openDatabase(path).close();
    chmodSync(path, 0o644);
    writeFileSync(`${path}-wal`, '');
    chmodSync(`${path}-wal`, 0o644);
    const db = openDatabase(path);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    db.close();
  });
});
