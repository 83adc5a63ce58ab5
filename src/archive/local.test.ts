/**
 * Local/mounted folder target: stores, stats, hashes and lists; refuses paths that leave its folder;
 * its test names the failing stage.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LocalTarget } from './local.ts';
import { TargetError } from './target.ts';
import { expandTemplate, timeParts } from '../recording/index.ts';

describe('LocalTarget', () => {
  it('stores a file under a template folder and reads it back', async () => {
    const root = mkdtempSync(join(tmpdir(), 'callseal-local-'));
    const src = join(mkdtempSync(join(tmpdir(), 'callseal-src-')), 'a.wav');
    writeFileSync(src, 'audio bytes');
    const t = new LocalTarget({ kind: 'local', path: root });
    const folder = expandTemplate('archive/$Y/$M', timeParts(Date.UTC(2026, 10, 23), 'UTC'));
    await t.put(src, `${folder}/a.wav`);
    await t.put(src, `${folder}/a.wav`);
    expect(readFileSync(join(root, 'archive/2026/11/a.wav'), 'utf8')).toBe('audio bytes');
    expect(await t.stat(`${folder}/a.wav`)).toEqual({ size: 11 });
    expect(await t.stat(`${folder}/missing.wav`)).toBeUndefined();
    expect(await t.sha256(`${folder}/a.wav`)).toBe(createHash('sha256').update('audio bytes').digest('hex'));
    expect(await t.list(folder)).toEqual(['a.wav']);
  });

  it('refuses paths that leave the target folder', async () => {
    const t = new LocalTarget({ kind: 'local', path: mkdtempSync(join(tmpdir(), 'callseal-local-')) });
    await expect(t.put('/etc/hostname', '../../escape.txt')).rejects.toThrow(TargetError);
  });

  it('test() passes on a writable folder and names the stage otherwise', async () => {
    expect(await new LocalTarget({ kind: 'local', path: mkdtempSync(join(tmpdir(), 'callseal-local-')) }).test()).toMatchObject({ ok: true });
    expect(await new LocalTarget({ kind: 'local', path: '/nonexistent/callseal' }).test()).toMatchObject({ ok: false, stage: 'path' });
  });
});
