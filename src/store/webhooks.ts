/**
 * The `webhook_endpoints` and `webhook_deliveries` tables (H8): the endpoints with their sealed
 * secret, and one durable delivery per (event, endpoint). Scheduling, signing and sending belong to
 * `webhooks/`; this is the SQL.
 */
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from './db.ts';

/** An endpoint row as stored; `secret_enc` is sealed by `common/secretbox.ts`. */
export interface WebhookEndpointRow {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly secret_enc: string;
  /** JSON array of event kinds. */
  readonly events: string;
  readonly enabled: number;
  readonly updated_ms: number;
}

/** A delivery row as stored. */
export interface WebhookDeliveryRow {
  readonly seq: number;
  readonly endpoint_id: string;
  readonly event_id: string;
  readonly kind: string;
  readonly body: string;
  /** `pending` (to be sent), `done` (answered 2xx) or `failed` (given up or dropped). */
  readonly state: string;
  readonly attempts: number;
  readonly next_ms: number;
  readonly created_ms: number;
  readonly last_status: number | null;
  readonly last_error: string | null;
  readonly done_ms: number | null;
}

/** Webhook endpoints and their deliveries. */
export class WebhookRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Every endpoint, by id. */
  endpoints(): WebhookEndpointRow[] {
    return this.#db.prepare('SELECT * FROM webhook_endpoints ORDER BY id').all() as unknown as WebhookEndpointRow[];
  }

  endpoint(id: string): WebhookEndpointRow | undefined {
    return this.#db.prepare('SELECT * FROM webhook_endpoints WHERE id = ?').get(id) as WebhookEndpointRow | undefined;
  }

  /** Creates or replaces an endpoint. */
  saveEndpoint(row: WebhookEndpointRow): void {
    this.#db.prepare(`INSERT INTO webhook_endpoints (id, name, url, secret_enc, events, enabled, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, url = excluded.url, secret_enc = excluded.secret_enc, events = excluded.events,
      enabled = excluded.enabled, updated_ms = excluded.updated_ms`).run(row.id, row.name, row.url, row.secret_enc, row.events, row.enabled, row.updated_ms);
  }

  /** Removes an endpoint and its deliveries; false when there was none. */
  deleteEndpoint(id: string): boolean {
    this.#db.prepare('DELETE FROM webhook_deliveries WHERE endpoint_id = ?').run(id);
    return Number(this.#db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes) > 0;
  }

  /** Adds a pending delivery due at `nowMs`; returns its sequence number. */
  enqueue(endpointId: string, eventId: string, kind: string, body: string, nowMs: number): number {
    const r = this.#db.prepare("INSERT INTO webhook_deliveries (endpoint_id, event_id, kind, body, state, next_ms, created_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?)")
      .run(endpointId, eventId, kind, body, nowMs, nowMs);
    return Number(r.lastInsertRowid);
  }

  /** Adds pending deliveries in one transaction (one sync of the file for a batch of events). */
  enqueueMany(rows: readonly { readonly endpointId: string; readonly eventId: string; readonly kind: string; readonly body: string }[], nowMs: number): void {
    if (rows.length === 0) return;
    transaction(this.#db, () => {
      for (const r of rows) this.enqueue(r.endpointId, r.eventId, r.kind, r.body, nowMs);
    });
  }

  /** Pending deliveries of one endpoint. */
  pendingCount(endpointId: string): number {
    const row = this.#db.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state = 'pending' AND endpoint_id = ?").get(endpointId) as { n: number };
    return row.n;
  }

  /**
   * Gives up the oldest pending deliveries of an endpoint beyond `keep`, marking them failed with
   * `error`; returns how many.
   */
  dropOldestPending(endpointId: string, keep: number, error: string, nowMs: number): number {
    const r = this.#db.prepare(`UPDATE webhook_deliveries SET state = 'failed', last_error = ?, done_ms = ? WHERE seq IN (
      SELECT seq FROM webhook_deliveries WHERE state = 'pending' AND endpoint_id = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`).run(error, nowMs, endpointId, keep);
    return Number(r.changes);
  }

  /** The oldest pending delivery of each endpoint (deliveries of one endpoint go in order). */
  heads(): WebhookDeliveryRow[] {
    return this.#db.prepare(`SELECT * FROM webhook_deliveries WHERE seq IN (
      SELECT MIN(seq) FROM webhook_deliveries WHERE state = 'pending' GROUP BY endpoint_id) ORDER BY seq`).all() as unknown as WebhookDeliveryRow[];
  }

  /** A delivery was answered with 2xx. */
  markDone(seq: number, attempts: number, status: number, nowMs: number): void {
    this.#db.prepare("UPDATE webhook_deliveries SET state = 'done', attempts = ?, last_status = ?, last_error = NULL, done_ms = ? WHERE seq = ?").run(attempts, status, nowMs, seq);
  }

  /** A failed attempt that is tried again at `nextMs`. */
  markRetry(seq: number, attempts: number, nextMs: number, status: number | null, error: string): void {
    this.#db.prepare('UPDATE webhook_deliveries SET attempts = ?, next_ms = ?, last_status = ?, last_error = ? WHERE seq = ?').run(attempts, nextMs, status, error, seq);
  }

  /** A delivery given up after its last attempt. */
  markFailed(seq: number, attempts: number, status: number | null, error: string, nowMs: number): void {
    this.#db.prepare("UPDATE webhook_deliveries SET state = 'failed', attempts = ?, last_status = ?, last_error = ?, done_ms = ? WHERE seq = ?").run(attempts, status, error, nowMs, seq);
  }

  /** The newest deliveries of an endpoint, newest first. */
  recent(endpointId: string, limit: number): WebhookDeliveryRow[] {
    return this.#db.prepare('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY seq DESC LIMIT ?').all(endpointId, limit) as unknown as WebhookDeliveryRow[];
  }

  /** Keeps only the newest `keep` finished (done or failed) deliveries of an endpoint. */
  prune(endpointId: string, keep: number): void {
    this.#db.prepare(`DELETE FROM webhook_deliveries WHERE seq IN (
      SELECT seq FROM webhook_deliveries WHERE state != 'pending' AND endpoint_id = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`).run(endpointId, keep);
  }
}
