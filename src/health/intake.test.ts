import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallsealError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { IntakeMonitor, type IntakeBlock, type IntakeMonitorOptions } from './intake.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function monitor(over: Partial<IntakeMonitorOptions>): { m: IntakeMonitor; blocks: IntakeBlock[]; alerts: string[]; ended: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'callseal-intake-'));
  dirs.push(root);
  const blocks: IntakeBlock[] = [];
  const alerts: string[] = [];
  const ended: string[] = [];
  const m = new IntakeMonitor({
    recordingsRoot: root, probeFile: join(root, '.probe'), minFreeMb: 0, stopFreeMb: 0, diskWarnPercent: 0, checkMs: 60_000,
    probeDatabase: () => undefined, endRecordings: (reason) => { ended.push(reason); return ['call-1']; },
    setIntake: (b) => { blocks.push(b); }, alert: (subject) => { alerts.push(subject); return Promise.resolve(true); },
    noteError: () => undefined, log: silentLogger(), ...over,
  });
  return { m, blocks, alerts, ended };
}

describe('IntakeMonitor', () => {
  it('keeps the gate open while storage and database can be written', async () => {
    const { m, blocks, alerts } = monitor({});
    await m.check();
    expect(blocks).toEqual([undefined]);
    expect(m.storage.writable).toBe(true);
    expect(m.database.writable).toBe(true);
    expect(alerts).toEqual([]);
  });

  it('refuses sessions below the floor, ends recordings below the stop floor, and alerts each change once', async () => {
    const huge = Number.MAX_SAFE_INTEGER;
    const { m, blocks, alerts, ended } = monitor({ minFreeMb: huge, stopFreeMb: huge });
    await m.check();
    await m.check();
    expect(blocks.map((b) => b?.code)).toEqual(['CS_STORAGE_LOW', 'CS_STORAGE_LOW']);
    expect(ended).toHaveLength(1);
    expect(alerts).toEqual(['recordings ended: disk nearly full', 'new calls refused: storage']);
  });

  it('names the database when it cannot be written, before storage, and says when it can again', async () => {
    let failing = true;
    const { m, blocks, alerts } = monitor({
      minFreeMb: Number.MAX_SAFE_INTEGER,
      probeDatabase: () => { if (failing) throw new CallsealError('CS_DATABASE_UNWRITABLE', 'disk I/O error'); },
    });
    await m.check();
    expect(blocks[0]).toMatchObject({ code: 'CS_DATABASE_UNWRITABLE' });
    expect(m.database.problem).toContain('disk I/O error');
    failing = false;
    await m.check();
    expect(blocks[1]?.code).toBe('CS_STORAGE_LOW');
    expect(alerts).toContain('new calls taken again: database');
  });
});
