/**
 * What `GET /healthz` and `GET /readyz` report (invariant 3), built from plain values: each part
 * (SIP, media, storage, database) with `ok` and its details, and the reasons new sessions are not
 * taken. Also the dashboard's "last errors". This module reads no socket and no file.
 */
import type { MediaHealth } from '../media/index.ts';
import type { DatabaseStatus, StorageStatus } from './intake.ts';

/** The names of the parts `/healthz` reports on. */
export type HealthPartName = 'sip' | 'media' | 'storage' | 'database';

/** One part of `/healthz`: `ok` and what it is made of. */
export interface HealthPart {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

/** What the parts of `/healthz` are made from. */
export interface HealthInputs {
  readonly closing: boolean;
  readonly listening: { readonly udp: number; readonly tcp: number | undefined; readonly tls: number | undefined };
  readonly media: MediaHealth;
  readonly storage: StorageStatus;
  readonly database: DatabaseStatus;
  readonly minFreeMb: number;
  readonly stopFreeMb: number;
}

/** The parts of `/healthz`: SIP listens and is not shutting down, every media worker runs, storage and database can be written. */
export function healthParts(i: HealthInputs): Record<HealthPartName, HealthPart> {
  return {
    sip: { ok: !i.closing, listening: i.listening },
    media: { ok: i.media.configured > 0 && i.media.running === i.media.configured, ...i.media },
    storage: { ok: i.storage.problem === undefined && i.storage.writable !== false, ...i.storage, minFreeMb: i.minFreeMb, stopFreeMb: i.stopFreeMb },
    database: { ok: i.database.problem === undefined, ...i.database },
  };
}

/** `/healthz`: `ok` when every part is, else `failing` naming the failing parts; `extra` adds counters. */
export function healthReport(parts: Record<HealthPartName, HealthPart>, extra: Record<string, unknown>): Record<string, unknown> {
  const failing = Object.entries(parts).filter(([, p]) => !p.ok).map(([name]) => name);
  return { status: failing.length === 0 ? 'ok' : 'failing', failing, parts, ...extra };
}

/** What `/readyz` is decided from. */
export interface ReadinessInputs {
  readonly started: boolean;
  readonly closing: boolean;
  /** Why the intake gate refuses new sessions, if it does. */
  readonly intakeBlock: string | undefined;
  readonly mediaWorkersRunning: number;
}

/** `/readyz`: ready only when started, not shutting down, the intake gate open and a media worker running. */
export function readiness(i: ReadinessInputs): { readonly ready: boolean; readonly reasons: readonly string[] } {
  const reasons: string[] = [];
  if (!i.started) reasons.push('starting');
  if (i.closing) reasons.push('shutting down');
  if (i.intakeBlock !== undefined) reasons.push(i.intakeBlock);
  if (i.mediaWorkersRunning === 0) reasons.push('no media worker running');
  return { ready: reasons.length === 0, reasons };
}

/** One problem on the dashboard. */
export interface NotedError {
  readonly atMs: number;
  readonly message: string;
}

/** The dashboard's "last errors": the newest first, at most `limit`. */
export class RecentErrors {
  readonly #list: NotedError[] = [];
  readonly #limit: number;

  constructor(limit = 20) {
    this.#limit = limit;
  }

  /** Notes a problem now. */
  note(message: string, nowMs = Date.now()): void {
    this.#list.unshift({ atMs: nowMs, message });
    this.#list.length = Math.min(this.#list.length, this.#limit);
  }

  /** The problems noted, newest first. */
  list(): readonly NotedError[] {
    return this.#list;
  }
}
