/**
 * `callseal export --number N --from T --to T -o file.zip` (H7): the export of the web UI from the
 * command line, on the database and key store of CALLSEAL_HOME (callseal may be running). Archived
 * recordings whose local copy is gone are fetched back from the storage targets that hold them.
 * Audited like the web export, with the actor `cli:<user>`.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CallsealError, errorMessage } from './common/errors.ts';
import { silentLogger } from './common/log.ts';
import { instanceId, type Config } from './config/index.ts';
import { Exporter, Outbox, TargetRegistry } from './archive/index.ts';
import { SecretBox } from './common/secretbox.ts';
import { installationKeys, openSealing } from './seal/index.ts';
import { AuditLog } from './web/audit.ts';

const USAGE = 'usage: callseal export [--number NUMBER] [--from TIME] [--to TIME] -o FILE.zip   (TIME: ISO 8601 or epoch ms; a number, a period or both)\n';

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new CallsealError('CS_EXPORT_INVALID', `--${name} takes an ISO 8601 date/time or epoch milliseconds, not "${v}"`);
  return ms;
}

/** Runs the command; returns the exit code. */
export async function exportCommand(config: Config, args: readonly string[]): Promise<number> {
  const opts = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const m = /^--?(number|from|to|o|output)(?:=(.*))?$/.exec(a);
    const value = m?.[2] ?? args[++i];
    if (!m?.[1] || value === undefined) {
      process.stderr.write(USAGE);
      return 2;
    }
    opts.set(m[1] === 'output' ? 'o' : m[1], value);
  }
  const out = opts.get('o');
  if (out === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const query = { number: opts.get('number'), fromMs: time(opts.get('from'), 'from'), toMs: time(opts.get('to'), 'to') };
  const log = silentLogger();
  const sealing = await openSealing(config, await instanceId(config.home), log);
  const targets = new TargetRegistry(sealing.db, new SecretBox(config.home));
  const recordingsRoot = join(config.home, 'recordings');
  const file = resolve(out);
  const partial = `${file}.part`;
  try {
    const outbox = new Outbox({
      db: sealing.db, log, timeZone: config.recording.timeZone, retryBaseMs: config.archive.retryBaseMs, retryMaxMs: config.archive.retryMaxMs,
      destination: (id) => { const t = targets.get(id); return t ? { kind: 'files', ...t } : undefined; },
      recording: (id) => { const r = sealing.repo.get(id); return r ? { id, dir: join(recordingsRoot, r.dir), files: r.files, startMs: r.startMs } : undefined; },
    });
    const epochKeys = await installationKeys(config.home, sealing.keys);
    const exporter = new Exporter({ repo: sealing.repo, outbox, keys: sealing.keys, verifyKeys: () => epochKeys, recordingsRoot, workRoot: join(config.home, 'cache'), numbers: config.numbers, log });
    const rows = exporter.select(query);
    const actor = `cli:${process.env['USER'] ?? 'unknown'}`;
    const audit = new AuditLog(sealing.db);
    const { stream, done } = exporter.start(rows, { query, actor, nowMs: Date.now() });
    try {
      await pipeline(stream, createWriteStream(partial, { mode: 0o600 }));
      const s = await done;
      await rename(partial, file);
      audit.append({ actor, address: 'cli', action: 'export', object: 'recordings', details: { query, file, recordings: s.recordings, fromArchive: s.fromArchive, deletedByRetention: s.deletedByRetention, problems: s.problems.length, ids: rows.map((r) => r.id).slice(0, 1000) } });
      process.stdout.write(`${file}: ${s.recordings} recording(s), ${s.fromArchive} fetched from storage targets, ${s.deletedByRetention} deleted by retention (deletion records)\n`);
      for (const p of s.problems) process.stderr.write(`WARNING: no good copy: ${p}\n`);
      return s.problems.length > 0 ? 1 : 0;
    } catch (err) {
      await rm(partial, { force: true });
      audit.append({ actor, address: 'cli', action: 'export', object: 'recordings', details: { query, file, error: errorMessage(err) }, outcome: 'failed' });
      throw err;
    }
  } finally {
    await targets.close();
    sealing.close();
  }
}
