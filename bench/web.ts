/**
 * bench/web: what an auditor waits for in the recording browser — searching the recording log of
 * a busy installation (200,000 recordings) by number, name, time range — and what a login and an
 * audit entry cost. Figures only; no target is set for them.
 *
 * Usage: npm run bench -- web [--recordings 200000]
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabase, RecordingRepository, transaction } from '../src/store/index.ts';
import { AuditLog } from '../src/web/audit.ts';
import { AccountStore } from '../src/web/accounts.ts';
import { arg } from './lib/args.ts';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

function timeMany(runs: number, fn: (i: number) => void): { p50: number; p95: number } {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: Number(percentile(ms, 0.5).toFixed(2)), p95: Number(percentile(ms, 0.95).toFixed(2)) };
}

export async function webBench(): Promise<Record<string, unknown>> {
  const count = arg('recordings', 200_000);
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'callseal-bench-web-')), 'callseal.db'));
  const repo = new RecordingRepository(db);
  repo.startEpoch(1, 'x'.repeat(64), 0);
  const start = Date.UTC(2026, 0, 1);
  const t0 = performance.now();
  transaction(db, () => {
    const insert = db.prepare(`INSERT INTO recordings (id, base_name, dir, call_id, start_ms, end_ms, caller_number, caller_name, callee_number, callee_name,
      direction, setting, channels, codec, interrupted, files, hash_file_sha256, signature, chain_epoch, chain_seq, previous, sealed_at_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '[]', ?, ?, 1, ?, ?, ?)`);
    for (let i = 0; i < count; i++) {
      const s = start + i * 60_000;
      insert.run(`r${i}`, `b${i}`, '2026/01/01', `call-${i}@pbx`, s, s + 120_000, `+4930${String(100000 + (i % 90000))}`, `Customer ${i % 5000}`,
        `+4989${String(700 + (i % 300))}`, `Trader ${i % 300}`, i % 2 === 0 ? 'in' : 'out', i % 3 === 0 ? 'Trading desk' : 'Sales', 'stereo', 'PCMA', 'h', 's', i + 1, `b${i - 1}`, s + 121_000);
    }
  });
  const loadSec = (performance.now() - t0) / 1000;
  const day = 86_400_000;
  const result = {
    recordings: count,
    loadSec: Number(loadSec.toFixed(1)),
    searchNumber: timeMany(20, (i) => { repo.search({ number: `4930${100000 + i * 37}`, limit: 50 }); }),
    searchName: timeMany(20, (i) => { repo.search({ text: `Customer ${i * 11}`, limit: 50 }); }),
    searchDay: timeMany(20, (i) => { repo.search({ fromMs: start + i * day, toMs: start + (i + 1) * day, limit: 50 }); }),
    searchDayAndSetting: timeMany(20, (i) => { repo.search({ fromMs: start + i * day, toMs: start + (i + 1) * day, setting: 'Trading desk', limit: 50 }); }),
    newest: timeMany(20, () => { repo.search({ limit: 50 }); }),
    auditAppend: timeMany(2000, (i) => { new AuditLog(db).append({ actor: 'alice', address: '127.0.0.1', action: 'play', object: `recording:r${i}` }); }),
    loginMs: 0,
  };
  const accounts = new AccountStore(db, { idleMinutes: 30, maxHours: 12 });
  await accounts.create({ username: 'alice', displayName: 'Alice', roles: ['auditor'], password: 'correct horse battery' });
  const logins: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await accounts.authenticate('alice', 'correct horse battery');
    logins.push(performance.now() - t);
  }
  logins.sort((a, b) => a - b);
  result.loginMs = Number(percentile(logins, 0.5).toFixed(1));
  console.log(`\nweb (recording log of ${count.toLocaleString('en')} recordings, loaded in ${result.loadSec} s)`);
  for (const k of ['searchNumber', 'searchName', 'searchDay', 'searchDayAndSetting', 'newest', 'auditAppend'] as const) {
    console.log(`  ${k.padEnd(22)} p50 ${result[k].p50} ms, p95 ${result[k].p95} ms`);
  }
  console.log(`  login (argon2id verify)  p50 ${result.loginMs} ms`);
  mkdirSync(resolve(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(resolve(import.meta.dirname, 'out/web.json'), JSON.stringify(result, null, 2));
  db.close();
  return result;
}
