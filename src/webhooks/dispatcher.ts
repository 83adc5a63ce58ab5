/**
 * Delivery of webhook events (H8): each event is queued once per enabled endpoint that wants its
 * kind, in the `webhook_deliveries` table, so it survives a restart (the outbox pattern of the
 * archive). A runner sends the oldest pending delivery of each endpoint (one at a time per
 * endpoint, so a receiver sees an endpoint's events in order), signed (`signature.ts`), and
 * retries a failure or a timeout with back-off (`retryDelayMs`) up to `maxAttempts`; each
 * endpoint's queue is bounded (`queueMax`: the oldest pending deliveries are given up first).
 *
 * `publish` never blocks and never throws: events are buffered in memory and written in one
 * transaction on the next turn, and sending is asynchronous, so a slow or hanging receiver never
 * delays a call. Deliveries are "at least once": a delivery cut off by a crash is sent again, with
 * the same event id, which receivers use to drop duplicates.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Scheduler, TimerHandle } from '../common/clock.ts';
import { CallsealError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { WebhookDeliveryRow, WebhookRepository } from '../store/index.ts';
import type { WebhookEndpoint, WebhookEndpoints } from './endpoints.ts';
import { eventBody, TEST_EVENT_KIND, type WebhookEvent, type WebhookEventKind } from './events.ts';
import { postJson, type PostOutcome } from './post.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';

/** Events held in memory until the next turn writes them; beyond it new events are counted as dropped. */
const MAX_BUFFERED_EVENTS = 10_000;
/**
 * Events written per turn of the event loop: one transaction of this many takes about 10 ms here,
 * so a burst (many calls ending at once) never stalls SIP handling for long; the rest follow on the next turns.
 */
const FLUSH_BATCH = 100;
/** Finished deliveries kept per endpoint, for the admin's view (pruned every `PRUNE_EVERY` deliveries). */
const KEEP_FINISHED = 200;
const PRUNE_EVERY = 50;

/** Delivery settings (`webhooks.*` of the configuration). */
export interface DeliverySettings {
  /** An attempt without response headers after this long has failed. */
  readonly timeoutMs: number;
  /** Attempts per delivery, the first included; then it is given up. */
  readonly maxAttempts: number;
  /** Wait after the first failed attempt; doubles per attempt up to `retryMaxMs`. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Pending deliveries per endpoint. */
  readonly queueMax: number;
}

/** Options of {@link Webhooks}. */
export interface WebhooksOptions extends DeliverySettings {
  readonly repo: WebhookRepository;
  readonly endpoints: WebhookEndpoints;
  readonly clock: Clock & Scheduler;
  readonly log: Logger;
  /** The `user-agent` of deliveries. */
  readonly userAgent: string;
  /** Called when a delivery is given up after its last attempt (for the dashboard's last errors). */
  readonly onGiveUp?: (endpointId: string, error: string) => void;
}

/** Counters for the health report. */
export interface WebhookStats {
  /** Deliveries queued (one per event and endpoint). */
  published: number;
  delivered: number;
  failedAttempts: number;
  givenUp: number;
  dropped: number;
}

/** Wait before attempt `failedAttempts + 1`: `baseMs` doubling per failed attempt, at most `maxMs`. */
export function retryDelayMs(failedAttempts: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(Math.max(failedAttempts - 1, 0), 30);
  return Math.min(maxMs, baseMs * 2 ** exp);
}

/** Queues, signs, sends and retries webhook deliveries. */
export class Webhooks {
  readonly stats: WebhookStats = { published: 0, delivered: 0, failedAttempts: 0, givenUp: 0, dropped: 0 };
  readonly #o: WebhooksOptions;
  #buffer: { eventId: string; kind: WebhookEventKind; body: string }[] = [];
  #flushTimer: TimerHandle | undefined;
  #wakeTimer: TimerHandle | undefined;
  readonly #inFlight = new Map<string, Promise<void>>();
  #started = false;
  #closed = false;
  /** Cancels the attempts in flight at close; they stay pending for the next start. */
  readonly #abort = new AbortController();

  constructor(options: WebhooksOptions) {
    this.#o = options;
  }

  /** Starts sending, with what a previous process left pending. */
  start(): void {
    if (this.#closed) return;
    this.#started = true;
    this.#wake();
  }

  /**
   * Publishes an event to every enabled endpoint that wants its kind. Never throws, never waits:
   * the event is only buffered here; which endpoints get it is decided when the buffer is written.
   */
  publish(kind: WebhookEventKind, data: Readonly<Record<string, unknown>>): void {
    if (this.#closed) return;
    try {
      if (this.#buffer.length >= MAX_BUFFERED_EVENTS) {
        this.stats.dropped++;
        return;
      }
      const event: WebhookEvent = { id: randomUUID(), kind, atMs: this.#o.clock.nowMs(), data };
      this.#buffer.push({ eventId: event.id, kind, body: eventBody(event) });
      this.#flushTimer ??= this.#o.clock.schedule(0, () => { this.#flush(); });
    } catch (err) {
      this.#o.log.error({ kind, err: errorMessage(err) }, 'webhook event could not be queued');
    }
  }

  /** Sends a `webhook.test` event to one endpoint now, outside the queue; the outcome is returned. */
  async test(endpointId: string): Promise<PostOutcome> {
    const e = this.#o.endpoints.get(endpointId);
    if (!e) return { ok: false, status: undefined, error: `no endpoint "${endpointId}"` };
    const event: WebhookEvent = { id: randomUUID(), kind: TEST_EVENT_KIND, atMs: this.#o.clock.nowMs(), data: { endpointId } };
    return this.#post(e, event.id, event.kind, eventBody(event));
  }

  /** Drops the pending deliveries of an endpoint (disabled or changed to another URL). */
  discardPending(endpointId: string, why: string): void {
    this.#flushAll();
    this.stats.dropped += this.#o.repo.dropOldestPending(endpointId, 0, why, this.#o.clock.nowMs());
  }

  /** The newest deliveries of an endpoint (without their bodies' secrets: bodies hold none). */
  deliveries(endpointId: string, limit = 50): WebhookDeliveryRow[] {
    return this.#o.repo.recent(endpointId, limit);
  }

  /** Resolves once buffered events are written and no delivery is in flight (for tests and shutdown). */
  async idle(): Promise<void> {
    this.#flushAll();
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
  }

  /** Stops sending; buffered events are written, pending deliveries stay for the next start. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flushAll();
    this.#closed = true;
    this.#wakeTimer?.cancel();
    this.#flushTimer?.cancel();
    this.#abort.abort();
    await Promise.all(this.#inFlight.values());
  }

  #flushAll(): void {
    while (this.#buffer.length > 0 && !this.#closed) this.#flush();
  }

  /** Writes the buffered events, one delivery per enabled endpoint that wants each, in one transaction. */
  #flush(): void {
    this.#flushTimer?.cancel();
    this.#flushTimer = undefined;
    if (this.#buffer.length === 0 || this.#closed) return;
    const events = this.#buffer.splice(0, FLUSH_BATCH);
    if (this.#buffer.length > 0) this.#flushTimer = this.#o.clock.schedule(0, () => { this.#flush(); });
    const nowMs = this.#o.clock.nowMs();
    try {
      const endpoints = this.#o.endpoints.all().filter((e) => e.enabled);
      const rows = events.flatMap((ev) => endpoints.filter((e) => e.events.includes(ev.kind)).map((e) => ({ endpointId: e.id, ...ev })));
      this.#o.repo.enqueueMany(rows, nowMs);
      this.stats.published += rows.length;
      for (const id of new Set(rows.map((r) => r.endpointId))) {
        const dropped = this.#o.repo.dropOldestPending(id, this.#o.queueMax, `queue full (${String(this.#o.queueMax)} pending)`, nowMs);
        if (dropped > 0) {
          this.stats.dropped += dropped;
          this.#o.log.warn({ endpointId: id, dropped }, 'webhook queue full: oldest deliveries given up');
        }
      }
    } catch (err) {
      this.stats.dropped += events.length;
      this.#o.log.error({ events: events.length, err: errorMessage(err) }, 'webhook deliveries could not be stored');
    }
    this.#wake();
  }

  /** Sends every due head delivery whose endpoint is idle, and sleeps until the next one is due. */
  #wake(): void {
    if (!this.#started || this.#closed) return;
    this.#wakeTimer?.cancel();
    this.#wakeTimer = undefined;
    const nowMs = this.#o.clock.nowMs();
    let nextMs: number | undefined;
    for (const d of this.#o.repo.heads()) {
      if (this.#inFlight.has(d.endpoint_id)) continue;
      if (d.next_ms > nowMs) {
        nextMs = Math.min(nextMs ?? d.next_ms, d.next_ms);
        continue;
      }
      const run = this.#attempt(d).catch((err: unknown) => {
        this.#o.log.error({ endpointId: d.endpoint_id, seq: d.seq, err: errorMessage(err) }, 'webhook delivery failed unexpectedly');
      }).finally(() => {
        this.#inFlight.delete(d.endpoint_id);
        this.#wake();
      });
      this.#inFlight.set(d.endpoint_id, run);
    }
    if (nextMs !== undefined) this.#wakeTimer = this.#o.clock.schedule(nextMs - nowMs, () => { this.#wake(); });
  }

  async #attempt(d: WebhookDeliveryRow): Promise<void> {
    const o = this.#o;
    const endpoint = o.endpoints.get(d.endpoint_id);
    const attempts = d.attempts + 1;
    const outcome: PostOutcome = endpoint
      ? await this.#post(endpoint, d.event_id, d.kind, d.body)
      : { ok: false, status: undefined, error: new CallsealError('CS_WEBHOOK_DELIVERY', `[endpoint:${d.endpoint_id}] the endpoint is gone`).message };
    if (this.#closed) return;
    const nowMs = o.clock.nowMs();
    if (outcome.ok) {
      o.repo.markDone(d.seq, attempts, outcome.status, nowMs);
      if (d.seq % PRUNE_EVERY === 0) o.repo.prune(d.endpoint_id, KEEP_FINISHED);
      this.stats.delivered++;
      return;
    }
    this.stats.failedAttempts++;
    const status = outcome.status ?? null;
    if (attempts >= o.maxAttempts || !endpoint) {
      o.repo.markFailed(d.seq, attempts, status, outcome.error, nowMs);
      this.stats.givenUp++;
      o.log.warn({ code: 'CS_WEBHOOK_DELIVERY', endpointId: d.endpoint_id, eventId: d.event_id, kind: d.kind, attempts, err: outcome.error }, 'webhook delivery given up');
      o.onGiveUp?.(d.endpoint_id, outcome.error);
      return;
    }
    const waitMs = retryDelayMs(attempts, o.retryBaseMs, o.retryMaxMs);
    o.repo.markRetry(d.seq, attempts, nowMs + waitMs, status, outcome.error);
    o.log.info({ code: 'CS_WEBHOOK_DELIVERY', endpointId: d.endpoint_id, eventId: d.event_id, kind: d.kind, attempts, retryInMs: waitMs, err: outcome.error }, 'webhook delivery failed; retrying');
  }

  #post(e: WebhookEndpoint, eventId: string, kind: string, body: string): Promise<PostOutcome> {
    const timestampSec = Math.floor(this.#o.clock.nowMs() / 1000);
    return postJson({
      url: e.url, body, timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal,
      headers: { [SIGNATURE_HEADER]: signatureHeader(e.secret, timestampSec, body), 'callseal-event': kind, 'callseal-delivery': eventId, 'user-agent': this.#o.userAgent },
    });
  }
}
