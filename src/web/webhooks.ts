/**
 * Webhook routes (H8, admins): list, create, change and delete endpoints, send a test event, and
 * the newest deliveries of an endpoint with their outcome. Secrets go in and never come back,
 * except a generated one, shown once in the answer that created it.
 */
import type { FastifyInstance } from 'fastify';
import type { WebhookEndpoints, Webhooks } from '../webhooks/index.ts';
import { ADMIN_ONLY } from './auth.ts';

/** Options of {@link webhookRoutes}. */
export interface WebhookRoutesOptions {
  readonly webhooks: Webhooks;
  readonly endpoints: WebhookEndpoints;
}

const TAGS = ['webhooks'];

/** Registers the webhook routes. */
export function webhookRoutes(app: FastifyInstance, o: WebhookRoutesOptions): void {
  app.get('/api/webhooks', { config: ADMIN_ONLY, schema: { summary: 'Webhook endpoints (without their secrets)', tags: TAGS } }, () => o.endpoints.list());
  app.post('/api/webhooks', { config: ADMIN_ONLY, schema: { summary: 'Create a webhook endpoint; a generated secret is returned once', tags: TAGS } }, (req, reply) => {
    const body = typeof req.body === 'object' && req.body !== null ? req.body as Record<string, unknown> : {};
    if (typeof body['id'] === 'string' && o.endpoints.get(body['id'])) return reply.code(409).send({ error: `endpoint "${body['id']}" exists` });
    return reply.code(201).send(o.endpoints.save(req.body, Date.now()));
  });
  app.put('/api/webhooks/:id', { config: ADMIN_ONLY, schema: { summary: 'Change a webhook endpoint (no secret: the stored one is kept)', tags: TAGS } }, (req, reply) => {
    const { id } = req.params as { id: string };
    const before = o.endpoints.get(id);
    if (!before) return reply.code(404).send({ error: `no endpoint "${id}"` });
    const saved = o.endpoints.save(req.body, Date.now(), id);
    // Deliveries queued for a URL the admin replaced or an endpoint switched off are not sent later.
    if (!saved.endpoint.enabled || saved.endpoint.url !== before.url) o.webhooks.discardPending(id, saved.endpoint.enabled ? 'the endpoint URL changed' : 'the endpoint was disabled');
    return saved;
  });
  app.delete('/api/webhooks/:id', { config: ADMIN_ONLY, schema: { summary: 'Delete a webhook endpoint and its deliveries', tags: TAGS } }, (req, reply) => {
    const { id } = req.params as { id: string };
    return o.endpoints.remove(id) ? reply.code(204).send() : reply.code(404).send({ error: `no endpoint "${id}"` });
  });
  app.post('/api/webhooks/:id/test', { config: ADMIN_ONLY, schema: { summary: 'Send a signed webhook.test event to the endpoint now', tags: TAGS } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!o.endpoints.get(id)) return reply.code(404).send({ error: `no endpoint "${id}"` });
    const outcome = await o.webhooks.test(id);
    return outcome.ok ? { ok: true, status: outcome.status } : { ok: false, status: outcome.status ?? null, error: outcome.error };
  });
  app.get('/api/webhooks/:id/deliveries', { config: ADMIN_ONLY, schema: { summary: 'The newest deliveries of an endpoint, newest first', tags: TAGS } }, (req, reply) => {
    const { id } = req.params as { id: string };
    if (!o.endpoints.get(id)) return reply.code(404).send({ error: `no endpoint "${id}"` });
    return o.webhooks.deliveries(id).map((d) => ({
      seq: d.seq, eventId: d.event_id, kind: d.kind, state: d.state, attempts: d.attempts, nextMs: d.next_ms, createdMs: d.created_ms,
      lastStatus: d.last_status, lastError: d.last_error, doneMs: d.done_ms,
    }));
  });
}
