/**
 * The announcement library's routes (C1): upload (the file as the raw request body, WAV or MP3,
 * bounded), list, one announcement, its 16 kHz WAV for the browser's player, its 20 ms payloads in
 * a codec (for checks), and delete (409 while a setting uses it). Reading is for admins and
 * auditors, changing for admins. Uploads are hostile input: anything that is not a decodable WAV or
 * MP3 gets a 4xx naming the problem, never a crash. This module maps the library's errors to HTTP.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { CallsealError } from '../common/errors.ts';
import { ANNOUNCEMENT_CODECS, sniffFormat, type Announcement, type AnnouncementLibrary } from '../announce/index.ts';
import { settingAnnouncementIds, type PolicyStore } from '../policy/index.ts';
import { ADMIN_ONLY, principal } from './auth.ts';

/** Options of {@link announcementRoutes}. */
export interface AnnouncementRoutesOptions {
  readonly library: AnnouncementLibrary;
  readonly policy: PolicyStore;
}

const STAFF = { access: ['admin', 'auditor'] as const };
/** Content types an upload may be sent as; the format is told by the bytes, not by this. */
const UPLOAD_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/mpeg', 'audio/mp3', 'application/octet-stream'];
/** A name shown in lists: no control characters (invariant 4), trimmed. */
const nameSchema = z.string().trim().min(1).max(200).regex(/^[^\p{Cc}\p{Cf}]+$/u, 'no control or format characters');
const idParams = z.object({ id: z.string().min(1).max(64) });

const STATUS: Partial<Record<string, number>> = {
  CS_ANNOUNCE_INVALID: 400, CS_ANNOUNCE_TOO_LARGE: 413, CS_ANNOUNCE_UNKNOWN: 404, CS_ANNOUNCE_IN_USE: 409, CS_ANNOUNCE_DAMAGED: 500, CS_ANNOUNCE_IO: 507,
};

/** Answers a library error with its status; anything else goes to the common error handler. */
function refuse(reply: FastifyReply, err: unknown): FastifyReply {
  const status = err instanceof CallsealError ? STATUS[err.code] : undefined;
  if (status === undefined || !(err instanceof CallsealError)) throw err;
  return reply.code(status).send({ error: err.message, code: err.code });
}

/** Registers the routes. */
export function announcementRoutes(app: FastifyInstance, o: AnnouncementRoutesOptions): void {
  const usedBy = (id: string): string[] => o.policy.load().policy.settings.filter((s) => settingAnnouncementIds(s).includes(id)).map((s) => s.id);
  const view = (a: Announcement): Record<string, unknown> => ({ ...a, usedBy: usedBy(a.id) });
  app.addContentTypeParser(UPLOAD_TYPES, { parseAs: 'buffer', bodyLimit: o.library.maxUploadBytes }, (_req, body, done) => { done(null, body); });

  app.get('/api/announcements', { config: STAFF, schema: { summary: 'The announcement library, oldest first, with the settings using each', tags: ['announcements'] } }, () => o.library.list().map(view));

  app.get('/api/announcements/:id', { config: STAFF, schema: { summary: 'One announcement', tags: ['announcements'] } }, (req, reply) => {
    const { id } = idParams.parse(req.params);
    const a = o.library.get(id);
    return a ? view(a) : reply.code(404).send({ error: `no announcement "${id}"`, code: 'CS_ANNOUNCE_UNKNOWN' });
  });

  app.post('/api/announcements', {
    config: ADMIN_ONLY, bodyLimit: o.library.maxUploadBytes,
    schema: { summary: 'Upload an announcement: the WAV or MP3 file as the request body (audio/wav, audio/mpeg or application/octet-stream), its name in ?name=', tags: ['announcements'] },
  }, async (req, reply) => {
    const { name } = z.object({ name: nameSchema }).parse(req.query);
    if (!Buffer.isBuffer(req.body)) return reply.code(415).send({ error: `send the file as the body with Content-Type ${UPLOAD_TYPES.join(', ')}`, code: 'CS_ANNOUNCE_INVALID' });
    if (sniffFormat(req.body) === undefined) return reply.code(415).send({ error: 'the file is neither WAV nor MP3', code: 'CS_ANNOUNCE_INVALID' });
    try {
      const a = await o.library.upload({ name, bytes: req.body, by: principal(req).name });
      return await reply.code(201).send(view(a));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.get('/api/announcements/:id/audio', { config: STAFF, schema: { summary: 'The announcement as decoded (16 kHz mono 16-bit WAV), for the browser', tags: ['announcements'] } }, async (req, reply) => {
    const { id } = idParams.parse(req.params);
    try {
      const wav = await o.library.wav(id, 16000);
      return await reply.type('audio/wav').header('cache-control', 'no-store').send(wav);
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.get('/api/announcements/:id/payloads/:codec', { config: STAFF, schema: { summary: 'The 20 ms RTP payloads played into calls in PCMA, PCMU or G722, concatenated (x-frame-count, x-frame-bytes)', tags: ['announcements'] } }, async (req, reply) => {
    const { id, codec } = idParams.extend({ codec: z.enum(ANNOUNCEMENT_CODECS) }).parse(req.params);
    try {
      const frames = await o.library.payloads(id, codec);
      return await reply.type('application/octet-stream').header('x-frame-count', String(frames.length)).header('x-frame-bytes', String(frames[0]?.length ?? 0))
        .send(Buffer.concat(frames));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.delete('/api/announcements/:id', { config: ADMIN_ONLY, schema: { summary: 'Delete an announcement (409 while a setting uses it)', tags: ['announcements'] } }, async (req, reply) => {
    const { id } = idParams.parse(req.params);
    try {
      await o.library.delete(id);
      return await reply.code(204).send();
    } catch (err) {
      return refuse(reply, err);
    }
  });
}
