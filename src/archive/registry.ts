/**
 * Named storage targets (F3, F5): stored in the embedded database with their credentials
 * encrypted (AES-256-GCM, key in `secret/credentials.key`, mode 0600); never returned by the API.
 * Each target's last test result marks it usable or misconfigured.
 */
import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { ConfigError } from '../common/errors.ts';
import { SecretBox } from '../common/secretbox.ts';
import { LocalTarget } from './local.ts';
import { SftpTarget } from './sftp.ts';
import { SmbTarget } from './smb.ts';
import { S3Target } from './s3.ts';
import { OneDriveTarget } from './onedrive.ts';
import type { DeviceCodePrompt, SignInState } from './graph-auth.ts';
import { TargetError, type Target, type TargetTestResult } from './target.ts';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/);
const host = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:\-[\]]+$/);
const httpsUrl = z.url({ protocol: /^https$/ }).max(500);
/** Drive, site and user ids of Microsoft Graph (`b!...`, `host,guid,guid`, a UPN or an object id). */
const graphId = z.string().min(1).max(300).regex(/^[A-Za-z0-9!_.,:@-]+$/);

/** Target configuration (what the API accepts). */
export const targetConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), path: z.string().min(1).max(1000) }).strict(),
  z.object({
    kind: z.literal('sftp'), host, port: z.number().int().min(1).max(65535).default(22), username: z.string().min(1).max(200),
    password: z.string().max(1000).optional(), privateKey: z.string().max(20_000).optional(),
    hostKeySha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'SHA256:<base64> as ssh-keygen -lf prints it'), folder: z.string().max(500).default(''),
  }).strict(),
  z.object({
    kind: z.literal('smb'), host, port: z.number().int().min(1).max(65535).default(445), share: z.string().min(1).max(200).regex(/^[^/\\"]+$/),
    username: z.string().min(1).max(200), password: z.string().max(1000), domain: z.string().max(200).optional(), folder: z.string().max(500).default(''),
  }).strict(),
  z.object({
    kind: z.literal('s3'), endpoint: z.url({ protocol: /^https?$/ }).max(500), region: z.string().min(1).max(64).regex(/^[a-z0-9-]+$/).default('us-east-1'),
    bucket: z.string().min(3).max(63).regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'an S3 bucket name'), accessKeyId: z.string().min(1).max(200), secretAccessKey: z.string().min(1).max(500),
    pathStyle: z.boolean().default(true), prefix: z.string().max(500).regex(/^[^\0]*$/).default(''),
    /** COMPLIANCE or GOVERNANCE need a bucket with Object Lock; `none` is a plain bucket (not WORM). */
    lockMode: z.enum(['COMPLIANCE', 'GOVERNANCE', 'none']), checksumSha256: z.boolean().default(false),
  }).strict(),
  z.object({
    kind: z.literal('onedrive'), signIn: z.enum(['app', 'user']), tenant: z.string().min(1).max(200).regex(/^[A-Za-z0-9.-]+$/, 'a tenant id or domain'),
    clientId: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'the application (client) id'),
    clientSecret: z.string().min(1).max(1000).optional(), certificatePem: z.string().max(20_000).optional(), privateKeyPem: z.string().max(20_000).optional(),
    driveId: graphId.optional(), siteId: graphId.optional(), userId: graphId.optional(), folder: z.string().max(500).default(''),
    retentionLabel: z.string().min(1).max(200).optional(),
    authorityHost: httpsUrl.default('https://login.microsoftonline.com'), graphBaseUrl: httpsUrl.default('https://graph.microsoft.com/v1.0'),
  }).strict(),
]).superRefine((c, ctx) => {
  if (c.kind !== 'onedrive' || c.signIn !== 'app') return;
  if (c.clientSecret === undefined && (c.certificatePem === undefined || c.privateKeyPem === undefined)) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'app sign-in needs a client secret, or a certificate with its private key' });
  if (c.driveId === undefined && c.siteId === undefined && c.userId === undefined) ctx.addIssue({ code: 'custom', path: ['driveId'], message: 'app sign-in needs a drive id, a SharePoint site id or a user id' });
});

/** A named target. */
export const targetSchema = z.object({
  id, name: z.string().min(1).max(200),
  /** Folder on the target from `$Y $M $D $h $m $s` of the recording's start (D2). */
  pathTemplate: z.string().min(1).max(300).default('$Y/$M/$D'),
  config: targetConfigSchema,
}).strict();

export type TargetDefinition = z.infer<typeof targetSchema>;

const SECRET_FIELDS = ['password', 'privateKey', 'secretAccessKey', 'clientSecret', 'privateKeyPem'] as const;

/** Options of {@link TargetRegistry}. */
export interface TargetRegistryOptions {
  /** A cloud target's sign-in stopped working (expired, consent revoked): F4 alert. */
  readonly onSignInLost?: (targetId: string, message: string) => void;
  /** Extra trusted CA certificates (PEM) for cloud targets. */
  readonly ca?: string;
}

/** Key of a target's sealed token cache (user sign-in) in `meta`. */
const tokenCacheKey = (targetId: string): string => `target.tokenCache.${targetId}`;

/** The stored targets. */
export class TargetRegistry {
  readonly #db: DatabaseSync;
  readonly #box: SecretBox;
  readonly #o: TargetRegistryOptions;
  readonly #live = new Map<string, Target>();

  constructor(db: DatabaseSync, box: SecretBox, options: TargetRegistryOptions = {}) {
    this.#db = db;
    this.#box = box;
    this.#o = options;
  }

  #create(targetId: string, c: TargetDefinition['config']): Target {
    switch (c.kind) {
      case 'local': return new LocalTarget(c);
      case 'sftp': return new SftpTarget(c);
      case 'smb': return new SmbTarget(c);
      case 's3': return new S3Target(c);
      case 'onedrive': return new OneDriveTarget(c, {
        ca: this.#o.ca,
        onSignInLost: (message) => { this.#o.onSignInLost?.(targetId, message); },
        // The user sign-in's tokens (refresh token included) are sealed like the other credentials (F5).
        cache: {
          load: () => {
            const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(tokenCacheKey(targetId)) as { value: string } | undefined;
            return row ? z.string().parse(this.#box.open(row.value)) : undefined;
          },
          save: (serialized) => {
            this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(tokenCacheKey(targetId), this.#box.seal(serialized));
          },
        },
      });
    }
  }

  #encrypt(config: unknown): string {
    return this.#box.seal(config);
  }

  #decrypt(text: string): TargetDefinition['config'] {
    return targetConfigSchema.parse(this.#box.open(text));
  }

  /** Stores a target (replacing one with the same id); its status goes back to untested. */
  save(raw: unknown): TargetDefinition {
    const r = targetSchema.safeParse(raw);
    if (!r.success) throw new ConfigError('CS_ARCHIVE_TARGET_INVALID', r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
    const t = r.data;
    this.#db.prepare(`INSERT INTO targets (id, name, kind, path_template, config_enc, status, updated_ms) VALUES (?, ?, ?, ?, ?, 'untested', ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, path_template = excluded.path_template, config_enc = excluded.config_enc, status = 'untested', last_test = NULL, updated_ms = excluded.updated_ms`)
      .run(t.id, t.name, t.config.kind, t.pathTemplate, this.#encrypt(t.config), Date.now());
    void this.#live.get(t.id)?.close();
    this.#live.delete(t.id);
    return t;
  }

  /** Copies a target under a new id and name, credentials included (F3: duplicable); the copy is untested. */
  duplicate(sourceId: string, newId: string, name?: string): TargetDefinition | undefined {
    const row = this.#db.prepare('SELECT name, path_template, config_enc FROM targets WHERE id = ?').get(sourceId) as { name: string; path_template: string; config_enc: string } | undefined;
    if (!row) return undefined;
    return this.save({ id: newId, name: name ?? `${row.name} (copy)`, pathTemplate: row.path_template, config: this.#decrypt(row.config_enc) });
  }

  /** Removes a target. */
  delete(targetId: string): boolean {
    void this.#live.get(targetId)?.close();
    this.#live.delete(targetId);
    this.#db.prepare('DELETE FROM meta WHERE key = ?').run(tokenCacheKey(targetId));
    return this.#db.prepare('DELETE FROM targets WHERE id = ?').run(targetId).changes > 0;
  }

  /** Targets as the API shows them: credentials left out (F5). */
  list(): { id: string; name: string; kind: string; pathTemplate: string; status: string; lastTest: TargetTestResult | null; config: Record<string, unknown> }[] {
    const rows = this.#db.prepare('SELECT * FROM targets ORDER BY id').all() as { id: string; name: string; kind: string; path_template: string; config_enc: string; status: string; last_test: string | null }[];
    return rows.map((r) => {
      const config: Record<string, unknown> = { ...this.#decrypt(r.config_enc) };
      for (const f of SECRET_FIELDS) if (f in config) config[f] = '(set)';
      return { id: r.id, name: r.name, kind: r.kind, pathTemplate: r.path_template, status: r.status, lastTest: r.last_test ? JSON.parse(r.last_test) as TargetTestResult : null, config };
    });
  }

  /** Status of a target: `untested`, `ok` or `misconfigured`; undefined when unknown. */
  status(targetId: string): string | undefined {
    return (this.#db.prepare('SELECT status FROM targets WHERE id = ?').get(targetId) as { status: string } | undefined)?.status;
  }

  /** The live target and its folder template. */
  get(targetId: string): { target: Target; pathTemplate: string } | undefined {
    const row = this.#db.prepare('SELECT config_enc, path_template FROM targets WHERE id = ?').get(targetId) as { config_enc: string; path_template: string } | undefined;
    if (!row) return undefined;
    let t = this.#live.get(targetId);
    if (!t) {
      const c = this.#decrypt(row.config_enc);
      t = this.#create(targetId, c);
      this.#live.set(targetId, t);
    }
    return { target: t, pathTemplate: row.path_template };
  }

  /** Starts a device code sign-in of a OneDrive target with user sign-in; undefined when unknown. */
  async signIn(targetId: string): Promise<DeviceCodePrompt | undefined> {
    const t = this.get(targetId)?.target;
    if (!t) return undefined;
    if (!(t instanceof OneDriveTarget)) throw new TargetError('config', `target ${targetId} has no sign-in (kind ${t.kind})`);
    return t.startSignIn();
  }

  /** The sign-in state of a OneDrive target; undefined when unknown or not a OneDrive target. */
  async signInState(targetId: string): Promise<SignInState | undefined> {
    const t = this.get(targetId)?.target;
    return t instanceof OneDriveTarget ? t.signInState() : undefined;
  }

  /** Runs the target's test and stores the result (a failed test marks it misconfigured). */
  async test(targetId: string): Promise<TargetTestResult | undefined> {
    const t = this.get(targetId);
    if (!t) return undefined;
    const result = await t.target.test();
    this.#db.prepare('UPDATE targets SET status = ?, last_test = ? WHERE id = ?').run(result.ok ? 'ok' : 'misconfigured', JSON.stringify(result), targetId);
    return result;
  }

  /** Closes every open connection. */
  async close(): Promise<void> {
    await Promise.all([...this.#live.values()].map((t) => t.close()));
    this.#live.clear();
  }
}
