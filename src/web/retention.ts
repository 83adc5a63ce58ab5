/**
 * Routes of retention, legal holds and exports (F6, H7). Holds: admins and auditors list and set
 * them (a hold only keeps recordings); only admins release them, with the two-person rule when
 * `archive.legalHoldTwoPersonRelease` is set. Every hold and release is in the audit trail, and is
 * pushed to the copies on targets with object locks before the answer.
 * Export: auditors download every recording of a number and/or a period as one streamed ZIP with
 * its signed manifest and the verification kit; each export is audited with its request and size.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CallsealError } from '../common/errors.ts';
import type { Exporter, HoldSync, LegalHolds, ReleaseOutcome } from '../archive/index.ts';
import type { LegalHoldRow, RemovalRepository } from '../store/index.ts';
import type { AuditLog } from './audit.ts';
import { ADMIN_ONLY, principal } from './auth.ts';

/** Options of {@link retentionRoutes}. */
export interface RetentionRoutesOptions {
  readonly holds: LegalHolds;
  /** Pushes a hold set or released to the copies on targets with object locks (failures are retried by the retention job). */
  readonly holdSync?: HoldSync | undefined;
  readonly exporter: Exporter;
  readonly removals: RemovalRepository;
  readonly audit: AuditLog;
  readonly now?: () => number;
}

const STAFF = { access: ['admin', 'auditor'] as const };
const AUDITOR = { access: ['auditor'] as const };

/** An ISO date/time or epoch milliseconds. */
const time = z.string().max(40).transform((v, ctx) => {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'an ISO date/time or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});
const number = z.string().max(64).regex(/^[0-9+*#()\s./-]*$/, 'a phone number');

const holdSchema = z.object({
  recordingId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/).optional(),
  number: number.min(1).optional(),
  from: time.optional(),
  to: time.optional(),
  reason: z.string().min(1).max(500),
}).strict();

const exportSchema = z.object({ number: number.optional(), from: time.optional(), to: time.optional() }).strict();

/** A hold as the API shows it. */
export function holdView(h: LegalHoldRow): Record<string, unknown> {
  return {
    id: h.id, state: h.releasedMs !== undefined ? 'released' : h.releaseRequestedBy !== undefined ? 'release-requested' : 'active',
    recordingId: h.recordingId ?? null, number: h.number ?? null, fromMs: h.fromMs ?? null, toMs: h.toMs ?? null, reason: h.reason,
    createdBy: h.createdBy, createdMs: h.createdMs, releaseRequestedBy: h.releaseRequestedBy ?? null, releaseRequestedMs: h.releaseRequestedMs ?? null,
    releasedBy: h.releasedBy ?? null, releasedMs: h.releasedMs ?? null,
  };
}

/** Registers the routes. */
export function retentionRoutes(app: FastifyInstance, o: RetentionRoutesOptions): void {
  const now = o.now ?? Date.now;
  const audit = (req: FastifyRequest, action: string, object: string, details: Record<string, unknown>, outcome: 'ok' | 'denied' | 'failed' = 'ok'): void => {
    o.audit.append({ actor: principal(req).name, address: req.ip, action, object, details, outcome });
  };
  const refuse = (reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof CallsealError && (err.code === 'CS_HOLD_INVALID' || err.code === 'CS_EXPORT_INVALID')) return reply.code(400).send({ error: err.message, code: err.code });
    if (err instanceof CallsealError && err.code === 'CS_HOLD_RELEASE') return reply.code(409).send({ error: err.message, code: err.code });
    throw err;
  };

  app.get('/api/holds', { config: STAFF, schema: { summary: 'Legal holds, newest first (released ones included)', tags: ['retention'] } }, () =>
    ({ twoPersonRelease: o.holds.twoPersonRelease, holds: o.holds.list().map(holdView) }));

  app.post('/api/holds', { config: STAFF, schema: { summary: 'Set a legal hold on a recording, a number and/or a period: stops their deletion', tags: ['retention'] } }, async (req, reply) => {
    const b = holdSchema.parse(req.body);
    let h: LegalHoldRow;
    try {
      h = o.holds.add({ recordingId: b.recordingId, number: b.number, fromMs: b.from, toMs: b.to, reason: b.reason }, principal(req).name, now());
    } catch (err) {
      return refuse(reply, err);
    }
    audit(req, 'legal-hold', `legal-hold:${h.id}`, { recordingId: h.recordingId, number: h.number, fromMs: h.fromMs, toMs: h.toMs, reason: h.reason });
    // The hold is in force once stored; a copy that could not be held yet is reported and retried.
    await o.holdSync?.apply(h);
    return reply.code(201).send(holdView(h));
  });

  app.post('/api/holds/:id/release', { config: ADMIN_ONLY, schema: { summary: 'Release a legal hold (with the two-person rule: ask, then a second admin confirms)', tags: ['retention'] } }, async (req, reply) => {
    const { id } = z.object({ id: z.coerce.number().int().min(1) }).parse(req.params);
    let r: ReleaseOutcome;
    try {
      r = o.holds.release(id, principal(req).name, now());
    } catch (err) {
      if (err instanceof CallsealError) audit(req, 'legal-hold-release', `legal-hold:${id}`, { error: err.message }, 'denied');
      return refuse(reply, err);
    }
    audit(req, r.state === 'released' ? 'legal-hold-release' : 'legal-hold-release-requested', `legal-hold:${id}`, { reason: r.hold.reason, createdBy: r.hold.createdBy, requestedBy: r.hold.releaseRequestedBy });
    // Copies no other active hold keeps lose their object legal hold.
    if (r.state === 'released') await o.holdSync?.apply(r.hold);
    return holdView(r.hold);
  });

  app.get('/api/retention', { config: STAFF, schema: { summary: 'Deletions by retention still removing copies, per storage target', tags: ['retention'] } }, () => ({ removals: o.removals.backlog() }));

  app.get('/api/export', { config: AUDITOR, schema: { summary: 'Export every recording of a number and/or period as one ZIP with signed manifest and verification kit', tags: ['retention'] } }, async (req, reply) => {
    const q = exportSchema.parse(req.query);
    const query = { number: q.number, fromMs: q.from, toMs: q.to };
    let rows;
    try {
      rows = o.exporter.select(query);
    } catch (err) {
      return refuse(reply, err);
    }
    const actor = principal(req).name;
    const { stream, done } = o.exporter.start(rows, { query, actor, nowMs: now() });
    done.then((s) => {
      audit(req, 'export', 'recordings', { query: req.query, recordings: s.recordings, fromArchive: s.fromArchive, deletedByRetention: s.deletedByRetention, problems: s.problems.length, ids: rows.map((r) => r.id).slice(0, 1000) });
    }, (err: unknown) => {
      audit(req, 'export', 'recordings', { query: req.query, error: err instanceof Error ? err.message : String(err) }, 'failed');
    });
    const name = `callseal-export-${new Date(now()).toISOString().slice(0, 10)}.zip`;
    return reply.type('application/zip').header('content-disposition', `attachment; filename="${name}"`).header('cache-control', 'no-store').send(stream);
  });
}
