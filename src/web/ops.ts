/**
 * Operation routes: the logged-in account and its own group memberships (members), accounts
 * (admins), the audit trail (auditors), the dashboard and the live view of running recordings
 * (server-sent events), and the signing certificate with its QR code and CSR (E4).
 */
import type { FastifyInstance } from 'fastify';
import { statfs } from 'node:fs/promises';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { LiveRecording } from '../recording/index.ts';
import type { PolicyStore } from '../policy/index.ts';
import type { Outbox, TargetRegistry } from '../archive/index.ts';
import type { SqlLogRegistry } from '../archive/index.ts';
import type { AccountStore } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import { ADMIN_ONLY, principal, type LoginThrottle } from './auth.ts';

/** What the dashboard shows of the SIP side. */
export interface SipHealth {
  readonly listening: { readonly udp: number; readonly tcp: number | undefined; readonly tls: number | undefined };
  readonly stats: Record<string, number>;
}

/** Options of {@link opsRoutes}. */
export interface OpsOptions {
  readonly accounts: AccountStore;
  /** The login back-off: a wrong current password counts against the account like a failed login. */
  readonly throttle: LoginThrottle;
  readonly audit: AuditLog;
  readonly policy: PolicyStore;
  readonly outbox: Outbox;
  readonly targets: TargetRegistry;
  readonly sqlLogs: SqlLogRegistry;
  readonly recordingsRoot: string;
  readonly diskWarnPercent: number;
  readonly live: () => readonly LiveRecording[];
  readonly onLiveChange: (listener: () => void) => () => void;
  readonly sip: () => SipHealth;
  readonly sealedSince: (sinceMs: number) => number;
  readonly sealedTotal: () => number;
  readonly lastErrors: () => readonly { atMs: number; message: string }[];
  readonly certificate: () => { pem: string; subject: string; fingerprint: string; notBefore: string; notAfter: string; epoch: number; modulusBits: number; spkiSha256: string };
  readonly csr: () => Promise<string>;
  readonly startedMs: number;
  readonly version: string;
}

const STAFF = ['admin', 'auditor'] as const;

function liveItem(l: LiveRecording, nowMs: number): Record<string, unknown> {
  return {
    id: l.id, callId: l.callId, mode: l.mode, startMs: l.startMs, durationMs: nowMs - l.startMs, caller: { number: l.caller.number, name: l.caller.name },
    callee: { number: l.callee.number, name: l.callee.name }, setting: l.setting, streams: l.streams, packets: l.packets, lost: l.lost,
    lossPercent: l.packets + l.lost > 0 ? Math.round((l.lost / (l.packets + l.lost)) * 10_000) / 100 : 0,
  };
}

/** Registers the operation routes. */
export function opsRoutes(app: FastifyInstance, o: OpsOptions): void {
  const recordingNow = (): Record<string, unknown>[] => {
    const now = Date.now();
    return o.live().filter((l) => l.streams > 0).map((l) => liveItem(l, now));
  };

  // The logged-in account; members also see their groups (the reference's function key).
  const myGroups = (userId: string | null): { groupId: string; name: string; active: boolean }[] => {
    if (userId === null) return [];
    return o.policy.load().policy.groups.flatMap((g) => g.members.filter((m) => m.userId === userId).map((m) => ({ groupId: g.id, name: g.name, active: m.active })));
  };
  app.get('/api/me', { config: { access: 'any' }, schema: { summary: 'The logged-in account, its CSRF token and its groups', tags: ['session'] } }, (req) => {
    const p = principal(req);
    return { username: p.name, displayName: p.displayName, roles: p.roles, csrf: p.csrf ?? null, groups: myGroups(p.directoryUserId) };
  });
  app.put('/api/me/groups/:groupId', { config: { access: ['member'] }, schema: { summary: 'Log the own account in or out of a recording group', tags: ['session'] } }, (req, reply) => {
    const p = principal(req);
    const { groupId } = req.params as { groupId: string };
    const { active } = z.object({ active: z.boolean() }).strict().parse(req.body);
    if (p.directoryUserId === null || !myGroups(p.directoryUserId).some((g) => g.groupId === groupId)) {
      return reply.code(403).send({ error: 'you are not a member of this group' });
    }
    o.policy.setMembership(groupId, p.directoryUserId, active, `account:${p.name}`);
    return { groupId, active };
  });

  // Accounts (admins).
  app.get('/api/accounts', { config: ADMIN_ONLY, schema: { summary: 'List accounts', tags: ['accounts'] } }, () => o.accounts.list());
  app.post('/api/accounts', { config: ADMIN_ONLY, schema: { summary: 'Create an account', tags: ['accounts'] } }, async (req, reply) => reply.code(201).send(await o.accounts.create(req.body)));
  app.put('/api/accounts/:username', { config: ADMIN_ONLY, schema: { summary: 'Change an account (roles, password, disabled)', tags: ['accounts'] } }, async (req, reply) => {
    const { username } = req.params as { username: string };
    const p = principal(req);
    const body = z.looseObject({}).parse(req.body);
    if (username === p.name && (body['disabled'] === true || (Array.isArray(body['roles']) && !body['roles'].includes('admin')))) {
      return reply.code(409).send({ error: 'you cannot disable yourself or take away your own admin role' });
    }
    const a = await o.accounts.update(username, body);
    return a ?? reply.code(404).send({ error: `no account "${username}"` });
  });
  app.delete('/api/accounts/:username', { config: ADMIN_ONLY, schema: { summary: 'Delete an account', tags: ['accounts'] } }, (req, reply) => {
    const { username } = req.params as { username: string };
    if (username === principal(req).name) return reply.code(409).send({ error: 'you cannot delete yourself' });
    return o.accounts.delete(username) ? reply.code(204).send() : reply.code(404).send({ error: `no account "${username}"` });
  });
  app.put('/api/me/password', { config: { access: 'any' }, schema: { summary: 'Change the own password', tags: ['session'] } }, async (req, reply) => {
    const p = principal(req);
    if (p.via !== 'session') return reply.code(400).send({ error: 'the API token has no password' });
    const b = z.object({ current: z.string().max(1024), password: z.string().min(12, 'at least 12 characters').max(1024) }).strict().parse(req.body);
    const ticket = o.throttle.begin(p.name, req.ip, Date.now());
    if (!ticket.ok) {
      const seconds = Math.ceil(ticket.retryAfterMs / 1000);
      return reply.code(429).header('retry-after', String(seconds)).send({ error: `too many wrong passwords; try again in ${seconds} s`, retryAfterSeconds: seconds });
    }
    let ok = false;
    try {
      ok = await o.accounts.authenticate(p.name, b.current) !== undefined;
    } finally {
      ticket.done(ok, Date.now());
    }
    if (!ok) {
      o.audit.append({ actor: p.name, address: req.ip, action: 'password-change-failed', object: `account:${p.name}`, outcome: 'denied' });
      return reply.code(403).send({ error: 'the current password is wrong' });
    }
    await o.accounts.setPassword(p.name, b.password);
    return reply.code(204).send();
  });

  // Audit trail (H6).
  app.get('/api/audit', { config: { access: ['auditor'] }, schema: { summary: 'The audit trail, newest first', tags: ['audit'] } }, (req) => {
    const q = z.object({
      actor: z.string().max(64).optional(), action: z.string().max(64).optional(), object: z.string().max(200).optional(),
      sinceMs: z.coerce.number().optional(), untilMs: z.coerce.number().optional(), beforeSeq: z.coerce.number().int().optional(),
      limit: z.coerce.number().int().min(1).max(5000).optional(),
    }).strict().parse(req.query);
    return { entries: o.audit.query(Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined))), chain: o.audit.verify() };
  });

  // Dashboard.
  app.get('/api/dashboard', { config: { access: STAFF }, schema: { summary: 'Health, today\'s recordings, disk, outbox, failing targets, last errors', tags: ['operation'] } }, async () => {
    const fs = await statfs(o.recordingsRoot);
    const freeBytes = fs.bavail * fs.bsize;
    const totalBytes = fs.blocks * fs.bsize;
    const freePercent = totalBytes > 0 ? Math.round((freeBytes / totalBytes) * 1000) / 10 : 0;
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const backlog = o.outbox.backlog();
    const failingTargets = [
      ...backlog.filter((b) => b.failing > 0).map((b) => ({ id: b.targetId, since: b.failingSinceMs, error: b.lastError })),
      ...o.targets.list().filter((t) => t.status === 'failed').map((t) => ({ id: t.id, since: null, error: `test failed: ${t.lastTest?.message ?? ''}` })),
    ];
    return {
      version: o.version, startedMs: o.startedMs, sip: o.sip(), live: recordingNow().length,
      recordings: { today: o.sealedSince(midnight.getTime()), total: o.sealedTotal() },
      disk: { freeBytes, totalBytes, freePercent, warn: freePercent < o.diskWarnPercent },
      outbox: { pending: backlog.reduce((n, b) => n + b.pending + b.failing, 0), byTarget: backlog },
      failingTargets, lastErrors: o.lastErrors(),
    };
  });

  // Live view (H2): a snapshot, and server-sent events with a new snapshot on every change and each second.
  app.get('/api/live', { config: { access: STAFF }, schema: { summary: 'Running recordings', tags: ['operation'] } }, () => recordingNow());
  app.get('/api/live/events', { config: { access: STAFF }, schema: { summary: 'Running recordings as server-sent events (event "live")', tags: ['operation'] } }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (): void => { res.write(`event: live\ndata: ${JSON.stringify(recordingNow())}\n\n`); };
    send();
    const timer = setInterval(send, 1000);
    const off = o.onLiveChange(send);
    req.raw.on('close', () => { clearInterval(timer); off(); });
  });

  // The signing certificate (E4): PEM, fingerprint, QR code, CSR.
  app.get('/api/certificate', { config: { access: 'any' }, schema: { summary: 'The signing certificate with fingerprint and QR code (SVG)', tags: ['certificate'] } }, async () => {
    const c = o.certificate();
    return { ...c, qrSvg: await QRCode.toString(c.pem, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 }) };
  });
  app.get('/api/certificate.pem', { config: { access: 'any' }, schema: { summary: 'The signing certificate (PEM)', tags: ['certificate'] } }, (_req, reply) =>
    reply.type('application/x-pem-file').header('content-disposition', 'attachment; filename="callseal-cert.pem"').send(o.certificate().pem));
  app.get('/api/certificate/csr', { config: ADMIN_ONLY, schema: { summary: 'A certificate signing request for the signing key (PEM)', tags: ['certificate'] } }, async (_req, reply) =>
    reply.type('application/pkcs10').header('content-disposition', 'attachment; filename="callseal.csr"').send(await o.csr()));
}
