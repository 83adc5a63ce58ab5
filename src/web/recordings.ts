/**
 * The recording browser's API (G3, H3) for auditors: search the log, see one recording with its
 * archive status and verification, play it (G.711/G.722 decoded for the browser), download the original
 * files or a ZIP verification kit (files, certificate, verify.sh), and delete a local copy that
 * every destination already holds. Every access is written to the audit trail (H6). A recording
 * whose local copy went after archiving is fetched from a storage target into a cache, checked
 * (hashes, signature, recording log) before anything is served, and kept there for an hour.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ZipFile } from 'yazl';
import { z } from 'zod';
import { HttpError, errorMessage } from '../common/errors.ts';
import type { LegalHoldRow, RecordingRepository, RecordingRow } from '../store/index.ts';
import type { Outbox } from '../archive/index.ts';
import { verifyRecording } from '../seal/index.ts';
import { OGG_OPUS_TYPE, playable, playback } from '../media/playback.ts';
import type { AuditLog } from './audit.ts';
import { principal } from './auth.ts';
import { toSafeCsv } from './csv.ts';

/** Audio files of a recording: WAV, and Ogg Opus for Opus calls. */
const AUDIO_FILE = /\.(wav|opus)$/;

/** Options of {@link recordingRoutes}. */
export interface RecordingRoutesOptions {
  readonly repo: RecordingRepository;
  readonly outbox: Outbox;
  readonly audit: AuditLog;
  readonly recordingsRoot: string;
  /** Public keys of every chain epoch (current and earlier). */
  readonly keys: () => readonly KeyObject[];
  /** The certificate file of a chain epoch, in the recordings root. */
  readonly certificateFile: (epoch: number) => string;
  /** Folder for recordings fetched back from storage targets. */
  readonly cacheRoot: string;
  /** The legal holds that keep a recording (F6). */
  readonly holdsOf?: (r: RecordingRow) => readonly LegalHoldRow[];
}

/** How long a fetched recording stays in the cache. */
const CACHE_MS = 3_600_000;

const AUDITOR = { access: ['auditor'] as const };

const searchSchema = z.object({
  text: z.string().max(200).optional(),
  number: z.string().max(64).regex(/^[0-9+*#]*$/, 'digits, +, * or #').optional(),
  from: z.string().max(40).optional(),
  to: z.string().max(40).optional(),
  direction: z.enum(['in', 'out', 'internal', 'unknown']).optional(),
  setting: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
}).strict();

function timeParam(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new z.ZodError([{ code: 'custom', path: [field], message: 'an ISO date/time or epoch milliseconds', input: value }]);
  return ms;
}

/** A range header `bytes=a-b` of one range; undefined for none or another form. */
function byteRange(header: string | undefined): { start: number; end?: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), ...(m[2] !== '' && m[2] !== undefined ? { end: Number(m[2]) } : {}) };
}

/** Registers the recording routes. */
export function recordingRoutes(app: FastifyInstance, o: RecordingRoutesOptions): void {
  const folder = (r: RecordingRow): string => join(o.recordingsRoot, r.dir);
  const local = (r: RecordingRow): boolean => r.deletionStartedMs === undefined && !o.outbox.localDeleted(r.id) && existsSync(join(folder(r), `${r.baseName}_hash.txt`));
  const fetching = new Map<string, Promise<string>>();

  /** Drops fetched recordings older than the cache time. */
  const sweep = async (): Promise<void> => {
    const now = Date.now();
    for (const e of await readdir(o.cacheRoot, { withFileTypes: true }).catch(() => [])) {
      const path = join(o.cacheRoot, e.name);
      if (now - (await stat(path)).mtimeMs > CACHE_MS) await rm(path, { recursive: true, force: true });
    }
  };

  /**
   * The folder to read a recording from: its local copy, or a verified copy fetched from a storage
   * target. Throws with status 404/502 when neither is possible.
   */
  const readable = async (req: FastifyRequest, r: RecordingRow): Promise<string> => {
    if (local(r)) return folder(r);
    const cached = join(o.cacheRoot, r.id);
    if (existsSync(join(cached, `${r.baseName}_hash.txt`))) return cached;
    if (r.deletionStartedMs !== undefined) throw new HttpError('CS_RECORDING_DELETED', 410, `deleted by retention on ${new Date(r.deletionStartedMs).toISOString()}`);
    if (o.outbox.fileCopies(r.id).length === 0) throw new HttpError('CS_WEB_RECORDING_GONE', 404, 'the local copy is gone and no storage target holds a copy');
    let p = fetching.get(r.id);
    if (!p) {
      p = (async () => {
        await sweep();
        await mkdir(o.cacheRoot, { recursive: true, mode: 0o700 });
        const tmp = await mkdtemp(join(o.cacheRoot, `${r.id}.fetch-`));
        try {
          const actor = principal(req).name;
          const targetId = await o.outbox.fetch(r.id, tmp, async () => {
            const check = await verifyRecording(tmp, r.baseName, o.keys(), r);
            return check.ok ? undefined : `fails verification: ${[...check.files.filter((f) => !f.ok).map((f) => `${f.name} ${f.problem ?? ''}`), `signature ${check.signature}`, check.matchesLog ? '' : 'differs from the recording log'].filter(Boolean).join(', ')}`;
          }, (target, problem) => {
            o.audit.append({ actor, address: req.ip, action: 'fetch-archive', object: `recording:${r.id}`, details: { baseName: r.baseName, targetId: target, problem }, outcome: 'failed' });
          });
          o.audit.append({ actor, address: req.ip, action: 'fetch-archive', object: `recording:${r.id}`, details: { baseName: r.baseName, targetId, verified: true } });
          await rm(cached, { recursive: true, force: true });
          await rename(tmp, cached);
          return cached;
        } catch (err) {
          await rm(tmp, { recursive: true, force: true });
          throw new HttpError('CS_WEB_ARCHIVE_FETCH', 502, errorMessage(err), { cause: err });
        }
      })().finally(() => fetching.delete(r.id));
      fetching.set(r.id, p);
    }
    return p;
  };
  const audit = (req: FastifyRequest, action: string, r: RecordingRow, details: Record<string, unknown> = {}): void => {
    o.audit.append({ actor: principal(req).name, address: req.ip, action, object: `recording:${r.id}`, details: { baseName: r.baseName, ...details } });
  };
  const find = (req: FastifyRequest, reply: FastifyReply): RecordingRow | undefined => {
    const r = o.repo.row((req.params as { id: string }).id);
    if (!r) void reply.code(404).send({ error: 'no such recording' });
    return r;
  };
  const archiveState = (r: RecordingRow): { targetId: string; state: string; lastError: string | null; doneMs: number | null }[] =>
    o.outbox.jobs(r.id).map((j) => ({ targetId: j.targetId, state: j.state, lastError: j.lastError, doneMs: j.doneMs }));
  const summary = (r: RecordingRow): Record<string, unknown> => ({
    id: r.id, baseName: r.baseName, dir: r.dir, callId: r.callId, startMs: r.startMs, endMs: r.endMs, durationMs: r.endMs - r.startMs,
    caller: { number: r.callerNumber, name: r.callerName }, callee: { number: r.calleeNumber, name: r.calleeName },
    direction: r.direction, setting: r.setting, channels: r.channels, codec: r.codec, interrupted: r.interrupted,
    chain: { epoch: r.chainEpoch, sequence: r.chainSeq }, local: local(r), archive: archiveState(r),
    readable: local(r) || o.outbox.fileCopies(r.id).length > 0,
    // F6: how long it is kept, whether a legal hold keeps it longer, and when retention deleted it.
    retention: r.retention ?? 'keep', retainUntilMs: r.retainUntilMs ?? null, deletedMs: r.deletedMs ?? null,
    deletion: r.deletionStartedMs !== undefined ? { startedMs: r.deletionStartedMs, record: r.deletionRecord ?? null, complete: r.deletedMs !== undefined } : null,
    holds: (o.holdsOf?.(r) ?? []).map((h) => ({ id: h.id, reason: h.reason, createdBy: h.createdBy, createdMs: h.createdMs, releaseRequested: h.releaseRequestedBy !== undefined })),
  });
  const search = (req: FastifyRequest): { total: number; rows: RecordingRow[] } => {
    const q = searchSchema.parse(req.query);
    const fromMs = timeParam(q.from, 'from');
    const toMs = timeParam(q.to, 'to');
    return o.repo.search({
      ...(q.text !== undefined ? { text: q.text } : {}), ...(q.number !== undefined ? { number: q.number } : {}),
      ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}),
      ...(q.direction !== undefined ? { direction: q.direction } : {}), ...(q.setting !== undefined ? { setting: q.setting } : {}),
      limit: q.limit, offset: q.offset,
    });
  };

  app.get('/api/recordings', { config: AUDITOR, schema: { summary: 'Search the recording log', tags: ['recordings'] } }, (req) => {
    const { total, rows } = search(req);
    return { total, items: rows.map(summary) };
  });

  app.get('/api/recordings.csv', { config: AUDITOR, schema: { summary: 'Export the search result as CSV', tags: ['recordings'] } }, (req, reply) => {
    const { rows } = search(req);
    o.audit.append({ actor: principal(req).name, address: req.ip, action: 'export-log', object: 'recordings', details: { query: req.query, rows: rows.length } });
    const lines = rows.map((r) => [r.baseName, r.direction, new Date(r.startMs).toISOString(), new Date(r.endMs).toISOString(), r.callId, r.callerName, r.callerNumber,
      r.calleeName, r.calleeNumber, r.setting, r.interrupted ? 'yes' : 'no', r.signature]);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="recordings.csv"')
      .send(toSafeCsv([['basefilename', 'direction', 'start', 'end', 'callid', 'callername', 'caller', 'calleename', 'callee', 'setting', 'interrupted', 'signature'], ...lines]));
  });

  app.get('/api/recordings/:id', { config: AUDITOR, schema: { summary: 'One recording: files, archive status, accesses', tags: ['recordings'] } }, (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    const isLocal = local(r);
    const files = r.files.map((name) => {
      const path = join(folder(r), name);
      const size = isLocal && existsSync(path) ? statSync(path).size : null;
      // An archived file's codec is known from the log: G.711 stereo/mono, G.722 and G.729 mono, and Opus play.
      return { name, size, playable: AUDIO_FILE.test(name) && (isLocal ? size !== null && playable(path) : /G\.711|G\.722|G\.729|Opus/.test(r.codec)) };
    });
    return { ...summary(r), files, signature: r.signature, previous: r.previous, sealedAtMs: r.sealedAtMs, accesses: o.audit.query({ object: `recording:${r.id}`, limit: 100 }) };
  });

  app.get('/api/recordings/:id/audio', { config: AUDITOR, schema: { summary: 'Play: the audio decoded to 16-bit PCM WAV (byte ranges allowed)', tags: ['recordings'] } }, async (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    const dir = await readable(req, r);
    const q = z.object({ file: z.string().max(300).optional() }).parse(req.query);
    const wavs = r.files.filter((f) => AUDIO_FILE.test(f));
    const name = q.file !== undefined ? wavs.find((f) => f === q.file) : wavs[0];
    if (name === undefined) return reply.code(404).send({ error: 'no such audio file in this recording' });
    const path = join(dir, name);
    if (!playable(path)) return reply.code(415).send({ error: 'only G.711, mono G.722, mono G.729 (with ffmpeg) and Opus recordings can be played in the browser; download the original' });
    const range = byteRange(req.headers.range);
    const p = playback(path, range);
    if (p.start === 0) audit(req, 'play', r, { file: name });
    void reply.header('accept-ranges', 'bytes').header('content-length', p.end - p.start + 1).type(p.contentType).header('cache-control', 'no-store');
    if (range) void reply.code(206).header('content-range', `bytes ${p.start}-${p.end}/${p.totalBytes}`);
    return reply.send(p.stream);
  });

  app.get('/api/recordings/:id/files/:name', { config: AUDITOR, schema: { summary: 'Download one original file', tags: ['recordings'] } }, async (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    const { name } = req.params as { name: string };
    if (!r.files.includes(name)) return reply.code(404).send({ error: 'no such file in this recording' });
    const dir = await readable(req, r);
    audit(req, 'download', r, { file: name });
    const path = join(dir, name);
    return reply.header('content-length', statSync(path).size).header('content-disposition', `attachment; filename="${name}"`)
      .type(name.endsWith('.wav') ? 'audio/wav' : name.endsWith('.opus') ? OGG_OPUS_TYPE : name.endsWith('.xml') ? 'application/xml' : 'text/plain; charset=utf-8').send(createReadStream(path));
  });

  app.get('/api/recordings/:id/kit.zip', { config: AUDITOR, schema: { summary: 'Download the verification kit (files, certificate, verify.sh) as ZIP', tags: ['recordings'] } }, async (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    const dir = await readable(req, r);
    audit(req, 'export-kit', r);
    const zip = new ZipFile();
    for (const name of r.files) zip.addFile(join(dir, name), name);
    const cert = o.certificateFile(r.chainEpoch);
    if (existsSync(cert)) zip.addFile(cert, 'callseal-cert.pem');
    zip.addFile(join(o.recordingsRoot, 'verify.sh'), 'verify.sh', { mode: 0o100755 });
    zip.addBuffer(Buffer.from(kitReadme(r)), 'README.txt');
    zip.end();
    return reply.type('application/zip').header('content-disposition', `attachment; filename="${r.baseName}.zip"`).send(zip.outputStream);
  });

  app.get('/api/recordings/:id/verify', { config: AUDITOR, schema: { summary: 'Verify hashes, signature and log entry of one recording', tags: ['recordings'] } }, async (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    // An archived recording is checked as fetched from its storage target.
    const source = local(r) ? 'local' : 'archive';
    const check = await verifyRecording(await readable(req, r), r.baseName, o.keys(), r);
    audit(req, 'verify', r, { ok: check.ok, source });
    return { ...check, source };
  });

  app.delete('/api/recordings/:id/local', { config: AUDITOR, schema: { summary: 'Delete the local copy once every destination holds a verified copy', tags: ['recordings'] } }, async (req, reply) => {
    const r = find(req, reply);
    if (!r) return reply;
    const jobs = o.outbox.jobs(r.id);
    if (jobs.length === 0) return reply.code(409).send({ error: 'this recording has no archive destination: the local copy is the only one and stays' });
    const open = jobs.filter((j) => j.state !== 'done').map((j) => j.targetId);
    if (open.length > 0) return reply.code(409).send({ error: `not yet archived to ${open.join(', ')}` });
    if (local(r)) await Promise.all(r.files.map((f) => rm(join(folder(r), f), { force: true })));
    audit(req, 'delete-local', r);
    return reply.code(204).send();
  });
}

function kitReadme(r: RecordingRow): string {
  return `Verification kit of the callseal recording ${r.baseName}

Files: the recording as sealed (audio, metadata, ${r.baseName}_hash.txt, ${r.baseName}_hash.SHA256withRSA.sig),
callseal-cert.pem (the signing certificate of chain epoch ${r.chainEpoch}) and verify.sh.

Check it with standard tools (bash, sha256sum or shasum, openssl):

    bash verify.sh --cert callseal-cert.pem ${r.baseName}

Compare the certificate's SHA-256 fingerprint with the one printed from callseal's certificate page
(openssl x509 -in callseal-cert.pem -noout -fingerprint -sha256): a certificate inside the kit proves
nothing by itself.

Chain link: epoch ${r.chainEpoch}, sequence ${r.chainSeq}, previous recording ${r.previous || '(genesis)'}.
`;
}
