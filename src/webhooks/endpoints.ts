/**
 * Webhook endpoints (H8): what the admin configures (URL, secret, event kinds, enabled), checked
 * against one schema, stored with the secret sealed like every other credential
 * (`common/secretbox.ts`) and never returned. The admin chooses the URL: only `http:` and `https:`
 * are accepted (no `file:`, `gopher:` or other schemes), and no credentials in the URL.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../common/errors.ts';
import type { SecretBox } from '../common/secretbox.ts';
import type { WebhookEndpointRow, WebhookRepository } from '../store/index.ts';
import { WEBHOOK_EVENT_KINDS, type WebhookEventKind } from './events.ts';

const url = z.string().max(2000).superRefine((value, ctx) => {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a URL' });
    return;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `only http and https URLs are allowed, not ${u.protocol}` });
  if (u.username !== '' || u.password !== '') ctx.addIssue({ code: 'custom', message: 'no user name or password in the URL: the secret signs every delivery' });
});

/** An endpoint as the API and the UI send it; `secret` absent on a change keeps the stored one. */
export const webhookEndpointSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/),
  name: z.string().min(1).max(200),
  url,
  secret: z.string().min(16, 'at least 16 characters').max(500).optional(),
  events: z.array(z.enum(WEBHOOK_EVENT_KINDS)).min(1).max(WEBHOOK_EVENT_KINDS.length).default([...WEBHOOK_EVENT_KINDS]),
  enabled: z.boolean().default(true),
}).strict();

/** An endpoint with its secret, as the dispatcher uses it. */
export interface WebhookEndpoint {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly secret: string;
  readonly events: readonly WebhookEventKind[];
  readonly enabled: boolean;
  readonly updatedMs: number;
}

/** An endpoint as the API shows it: never the secret. */
export type WebhookEndpointView = Omit<WebhookEndpoint, 'secret'>;

function isKind(k: string): k is WebhookEventKind {
  return (WEBHOOK_EVENT_KINDS as readonly string[]).includes(k);
}

/** Endpoints on the repository, secrets sealed. */
export class WebhookEndpoints {
  readonly #repo: WebhookRepository;
  readonly #box: SecretBox;

  constructor(repo: WebhookRepository, box: SecretBox) {
    this.#repo = repo;
    this.#box = box;
  }

  /** Every endpoint with its secret opened. */
  all(): WebhookEndpoint[] {
    return this.#repo.endpoints().map((r) => this.#of(r));
  }

  get(id: string): WebhookEndpoint | undefined {
    const r = this.#repo.endpoint(id);
    return r ? this.#of(r) : undefined;
  }

  /** Every endpoint without its secret. */
  list(): WebhookEndpointView[] {
    return this.all().map(view);
  }

  /**
   * Creates or changes an endpoint. A new endpoint without a secret gets a random one, returned
   * here once (`secret`); a change without a secret keeps the stored one.
   */
  save(input: unknown, nowMs: number, id?: string): { readonly endpoint: WebhookEndpointView; readonly secret?: string } {
    const parsed = webhookEndpointSchema.safeParse(id === undefined ? input : { ...(typeof input === 'object' && input !== null ? input : {}), id });
    if (!parsed.success) {
      throw new ConfigError('CS_WEBHOOK_INVALID', parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
    }
    const e = parsed.data;
    const existing = this.#repo.endpoint(e.id);
    const generated = e.secret === undefined && !existing ? randomBytes(32).toString('base64url') : undefined;
    const secret = e.secret ?? generated ?? (existing ? this.#secretOf(existing) : '');
    this.#repo.saveEndpoint({
      id: e.id, name: e.name, url: e.url, secret_enc: this.#box.seal({ secret }), events: JSON.stringify([...new Set(e.events)]),
      enabled: e.enabled ? 1 : 0, updated_ms: nowMs,
    });
    const saved = this.get(e.id);
    if (!saved) throw new ConfigError('CS_WEBHOOK_INVALID', [{ path: 'id', message: 'the endpoint was not stored' }]);
    return { endpoint: view(saved), ...(generated !== undefined ? { secret: generated } : {}) };
  }

  /** Removes an endpoint and its deliveries. */
  remove(id: string): boolean {
    return this.#repo.deleteEndpoint(id);
  }

  #secretOf(r: WebhookEndpointRow): string {
    const opened = this.#box.open(r.secret_enc) as { secret?: unknown } | null;
    return typeof opened?.secret === 'string' ? opened.secret : '';
  }

  #of(r: WebhookEndpointRow): WebhookEndpoint {
    const events = (JSON.parse(r.events) as unknown[]).filter((k): k is WebhookEventKind => typeof k === 'string' && isKind(k));
    return { id: r.id, name: r.name, url: r.url, secret: this.#secretOf(r), events, enabled: r.enabled === 1, updatedMs: r.updated_ms };
  }
}

function view(e: WebhookEndpoint): WebhookEndpointView {
  return { id: e.id, name: e.name, url: e.url, events: e.events, enabled: e.enabled, updatedMs: e.updatedMs };
}
