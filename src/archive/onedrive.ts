/**
 * Microsoft OneDrive / SharePoint target (F3) through Microsoft Graph: a SharePoint site's document
 * library, a given drive, or a user's OneDrive, under a folder. Small files go up in one PUT, large
 * ones through an upload session in chunks of a multiple of 320 KiB; both replace an older copy of
 * the same name (the outbox rewrites idempotently). Each upload is checked against the
 * `quickXorHash` Graph computes over what it stored; the outbox then reads the copy back and
 * compares its SHA-256. A configured retention label is applied to every file: OneDrive keeps a
 * file from deletion only through such a label or a retention policy of the tenant.
 * Graph's answers are hostile input: sizes are bounded, and a bearer token is sent to the Graph
 * origin only (never to an upload URL, a download redirect or a `nextLink` elsewhere).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { GraphAuth, type DeviceCodePrompt, type GraphAuthConfig, type GraphAuthOptions, type SignInState } from './graph-auth.ts';
import { httpsCall, httpsDownload, type HttpsAnswer } from './https.ts';
import { quickXorHashFile } from './quickxor.ts';
import { runTargetTest, TargetError, type LockState, type Target, type TargetStage, type TargetTestResult } from './target.ts';

/** Configuration of a OneDrive / SharePoint target. */
export interface OneDriveTargetConfig extends GraphAuthConfig {
  readonly kind: 'onedrive';
  /** A drive by id; else a SharePoint site's default library; else a user's OneDrive; else (user sign-in) the signed-in user's. */
  readonly driveId?: string | undefined;
  readonly siteId?: string | undefined;
  readonly userId?: string | undefined;
  /** Folder under the drive's root ('' for the root). */
  readonly folder: string;
  /** Retention label applied to every uploaded file (a label published in the tenant). */
  readonly retentionLabel?: string | undefined;
}

/** Files up to this size go up in one PUT (Graph's documented limit for a simple upload is 4 MB). */
export const SIMPLE_UPLOAD_MAX_BYTES = 4 * 1024 * 1024;
/** Upload session chunks: a multiple of 320 KiB, as Graph requires (here 10 MiB). */
export const CHUNK_BYTES = 32 * 320 * 1024;

interface DriveItem {
  id?: unknown;
  name?: unknown;
  size?: unknown;
  file?: { hashes?: { quickXorHash?: unknown } };
}

function graphStage(status: number, code: string): TargetStage {
  if (status === 401) return 'auth';
  if (status === 423 || /resourceLocked|retention/i.test(code)) return 'locked';
  if (status === 403) return 'permission';
  if (status === 404) return 'path';
  if (status === 429 || status === 503 || status === 502 || status === 504) return 'connect';
  return 'write';
}

/** A OneDrive or SharePoint drive. */
export class OneDriveTarget implements Target {
  readonly kind = 'onedrive';
  readonly #c: OneDriveTargetConfig;
  readonly #auth: GraphAuth;
  readonly #ca: string | undefined;
  readonly #graph: string;

  constructor(config: OneDriveTargetConfig, options: GraphAuthOptions = {}) {
    this.#c = config;
    this.#auth = new GraphAuth(config, options);
    this.#ca = options.ca;
    this.#graph = config.graphBaseUrl.replace(/\/+$/, '');
    if (config.signIn === 'app' && config.driveId === undefined && config.siteId === undefined && config.userId === undefined) {
      throw new TargetError('config', 'app sign-in has no "me": give a drive id, a SharePoint site id or a user id');
    }
  }

  /** The drive's URL path: `/drives/{id}`, `/sites/{id}/drive`, `/users/{id}/drive` or `/me/drive`. */
  #drive(): string {
    // Site ids are `host,site-guid,web-guid`: the commas stay.
    const seg = (s: string): string => encodeURIComponent(s).replace(/%2C/gi, ',');
    if (this.#c.driveId !== undefined) return `/drives/${seg(this.#c.driveId)}`;
    if (this.#c.siteId !== undefined) return `/sites/${seg(this.#c.siteId)}/drive`;
    if (this.#c.userId !== undefined) return `/users/${seg(this.#c.userId)}/drive`;
    return '/me/drive';
  }

  /** The path of a target file under the drive's root, each segment encoded. */
  #itemPath(remotePath: string): string {
    const p = posix.normalize(posix.join(this.#c.folder || '.', remotePath));
    if (p.startsWith('..') || p.startsWith('/') || p === '.' || /[\0\\]/.test(p)) throw new TargetError('path', `path ${remotePath} leaves the target folder`);
    return p.split('/').map(encodeURIComponent).join('/');
  }

  #byPath(remotePath: string, suffix = ''): string {
    return `${this.#graph}${this.#drive()}/root:/${this.#itemPath(remotePath)}:${suffix}`;
  }

  /** One Graph call with the bearer token; non-2xx answers become target errors (404 when `allow404`). */
  async #call(method: string, url: string, what: string, init: { body?: Buffer | string; contentType?: string; allow404?: boolean; timeoutMs?: number } = {}): Promise<HttpsAnswer> {
    if (!url.startsWith(`${new URL(this.#graph).origin}/`)) throw new TargetError('write', `${what}: refusing to send the token to ${new URL(url).origin}`);
    const token = await this.#auth.token();
    const a = await httpsCall({
      method, url, ca: this.#ca, timeoutMs: init.timeoutMs ?? 60_000, body: init.body,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(init.contentType !== undefined ? { 'content-type': init.contentType } : {}) },
    });
    if (a.status >= 200 && a.status <= 299) return a;
    if (a.status === 404 && init.allow404 === true) return a;
    throw this.#error(a, what);
  }

  #error(a: HttpsAnswer, what: string): TargetError {
    let code = '';
    let message = '';
    try {
      const e = (JSON.parse(a.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error;
      code = typeof e?.code === 'string' ? e.code.slice(0, 100) : '';
      message = typeof e?.message === 'string' ? e.message.slice(0, 300) : '';
    } catch {
      message = a.body.toString('utf8').slice(0, 200);
    }
    const retry = a.headers['retry-after'] !== undefined ? `; retry after ${a.headers['retry-after'].slice(0, 20)} s` : '';
    return new TargetError(graphStage(a.status, code), `${what}: HTTP ${a.status} ${code} ${message}${retry}`.trim());
  }

  static #item(a: HttpsAnswer, what: string): DriveItem {
    try {
      const v = JSON.parse(a.body.toString('utf8')) as unknown;
      if (typeof v === 'object' && v !== null) return v;
    } catch {
      // Reported below.
    }
    throw new TargetError('verify', `${what}: the answer is not a driveItem`);
  }

  async put(localPath: string, remotePath: string): Promise<void> {
    const size = (await stat(localPath)).size;
    const what = `upload ${remotePath}`;
    const item = size <= SIMPLE_UPLOAD_MAX_BYTES
      ? OneDriveTarget.#item(await this.#call('PUT', this.#byPath(remotePath, '/content?@microsoft.graph.conflictBehavior=replace'), what, {
        body: await readAll(localPath), contentType: 'application/octet-stream', timeoutMs: 300_000,
      }), what)
      : await this.#putSession(localPath, remotePath, size);
    const local = await quickXorHashFile(localPath);
    const remote = item.file?.hashes?.quickXorHash;
    if (typeof remote !== 'string' || remote !== local) {
      throw new TargetError('verify', `${remotePath}: quickXorHash on the drive ${typeof remote === 'string' ? remote.slice(0, 40) : '(none)'} differs from the file's ${local}`);
    }
    if (this.#c.retentionLabel !== undefined && typeof item.id === 'string') {
      await this.#call('PATCH', `${this.#graph}${this.#drive()}/items/${encodeURIComponent(item.id)}/retentionLabel`, `retention label on ${remotePath}`, {
        body: JSON.stringify({ name: this.#c.retentionLabel }), contentType: 'application/json',
      });
    }
  }

  /** An upload session: chunks of {@link CHUNK_BYTES} to the session URL (no bearer token there). */
  async #putSession(localPath: string, remotePath: string, size: number): Promise<DriveItem> {
    const what = `upload session for ${remotePath}`;
    const created = await this.#call('POST', this.#byPath(remotePath, '/createUploadSession'), what, {
      body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': 'replace' } }), contentType: 'application/json',
    });
    const uploadUrl = (OneDriveTarget.#item(created, what) as { uploadUrl?: unknown }).uploadUrl;
    if (typeof uploadUrl !== 'string' || !uploadUrl.startsWith('https://')) throw new TargetError('write', `${what}: no https uploadUrl in the answer`);
    const file = await open(localPath);
    try {
      let offset = 0;
      for (;;) {
        const end = Math.min(size, offset + CHUNK_BYTES);
        const chunk = Buffer.alloc(end - offset);
        await file.read(chunk, 0, chunk.length, offset);
        const a = await httpsCall({
          method: 'PUT', url: uploadUrl, ca: this.#ca, timeoutMs: 300_000, body: chunk,
          headers: { 'content-length': String(chunk.length), 'content-range': `bytes ${offset}-${end - 1}/${size}` },
        });
        if (a.status === 200 || a.status === 201) return OneDriveTarget.#item(a, what);
        if (a.status !== 202) {
          await httpsCall({ method: 'DELETE', url: uploadUrl, ca: this.#ca, timeoutMs: 30_000 }).catch(() => undefined);
          throw this.#error(a, `${what} at byte ${offset}`);
        }
        // The server says where to go on; it must lie within the file and move forward.
        const ranges = (OneDriveTarget.#item(a, what) as { nextExpectedRanges?: unknown }).nextExpectedRanges;
        const next = Array.isArray(ranges) && typeof ranges[0] === 'string' ? Number(/^(\d+)-/.exec(ranges[0])?.[1]) : end;
        if (!Number.isSafeInteger(next) || next <= offset || next >= size) throw new TargetError('write', `${what}: unusable nextExpectedRanges ${JSON.stringify(ranges).slice(0, 80)}`);
        offset = next;
      }
    } finally {
      await file.close();
    }
  }

  async stat(remotePath: string): Promise<{ size: number } | undefined> {
    const a = await this.#call('GET', this.#byPath(remotePath, '?$select=id,size,file'), `stat ${remotePath}`, { allow404: true });
    if (a.status === 404) return undefined;
    const size = OneDriveTarget.#item(a, `stat ${remotePath}`).size;
    return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? { size } : undefined;
  }

  /** Downloads the content; Graph redirects to a pre-authenticated URL, fetched without the token. */
  async #download(remotePath: string, sink: Writable): Promise<void> {
    const what = `download ${remotePath}`;
    try {
      const token = await this.#auth.token();
      const a = await httpsDownload({ method: 'GET', url: this.#byPath(remotePath, '/content'), ca: this.#ca, timeoutMs: 300_000, headers: { authorization: `Bearer ${token}` } }, sink);
      if (a.status >= 200 && a.status <= 299) return;
      const location = a.headers['location'];
      if (a.status !== 302 || location === undefined) throw this.#error(a, what);
      const r = await httpsDownload({ method: 'GET', url: new URL(location, this.#graph).href, ca: this.#ca, timeoutMs: 300_000 }, sink);
      if (r.status < 200 || r.status > 299) throw this.#error(r, what);
    } catch (err) {
      // A file being written is closed, not left open.
      sink.destroy();
      throw err;
    }
  }

  async sha256(remotePath: string): Promise<string> {
    const hash = createHash('sha256');
    await this.#download(remotePath, new Writable({ write(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(); } }));
    return hash.digest('hex');
  }

  async getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void> {
    for (const i of items) await this.#download(i.remote, createWriteStream(i.local));
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let url: string | undefined = prefix === '' || prefix === '.'
      ? (this.#c.folder === '' ? `${this.#graph}${this.#drive()}/root/children?$select=name` : `${this.#graph}${this.#drive()}/root:/${this.#c.folder.split('/').map(encodeURIComponent).join('/')}:/children?$select=name`)
      : this.#byPath(prefix, '/children?$select=name');
    for (let page = 0; url !== undefined && page < 1000; page++) {
      const a = await this.#call('GET', url, `list ${prefix}`, { allow404: true });
      if (a.status === 404) return [];
      const body = OneDriveTarget.#item(a, `list ${prefix}`) as { value?: unknown; '@odata.nextLink'?: unknown };
      for (const v of Array.isArray(body.value) ? body.value as unknown[] : []) {
        const name = (v as { name?: unknown } | null)?.name;
        if (typeof name === 'string') names.push(name);
      }
      const next = body['@odata.nextLink'];
      url = typeof next === 'string' ? next : undefined;
    }
    return names;
  }

  /** Deletes a stored file; a retention label that forbids it is stage `locked`. */
  async remove(remotePath: string): Promise<void> {
    await this.#call('DELETE', this.#byPath(remotePath), `delete ${remotePath}`);
  }

  /** The retention label of a stored file, as Graph reports it. */
  async describeLock(remotePath: string): Promise<LockState | undefined> {
    if (await this.stat(remotePath) === undefined) return undefined;
    const a = await this.#call('GET', this.#byPath(remotePath, '/retentionLabel'), `retention label of ${remotePath}`, { allow404: true });
    const body = a.status === 404 ? {} : OneDriveTarget.#item(a, `retention label of ${remotePath}`) as { name?: unknown; retentionSettings?: { behaviorDuringRetentionPeriod?: unknown; isDeleteAllowed?: unknown } };
    const name = typeof body.name === 'string' && body.name !== '' ? body.name : undefined;
    if (name === undefined) return { mode: 'none', retainUntilMs: undefined, legalHold: false, worm: false };
    // Only a regulatory record cannot be removed even by a tenant administrator.
    return { mode: 'label', label: name, retainUntilMs: undefined, legalHold: false, worm: body.retentionSettings?.behaviorDuringRetentionPeriod === 'retainAsRegulatoryRecord' };
  }

  /** Starts a device code sign-in (user sign-in targets). */
  startSignIn(): Promise<DeviceCodePrompt> {
    return this.#auth.startDeviceCode();
  }

  signInState(): Promise<SignInState> {
    return this.#auth.signInState();
  }

  /** Uploads a small test file, checks its quickXorHash, deletes it. */
  test(): Promise<TargetTestResult> {
    return runTargetTest(this.kind, async () => {
      await this.#auth.token();
      const name = `.callseal-test-${randomBytes(4).toString('hex')}`;
      const body = Buffer.from('callseal target test\n');
      const item = OneDriveTarget.#item(await this.#call('PUT', this.#byPath(name, '/content?@microsoft.graph.conflictBehavior=replace'), `upload ${name}`, { body, contentType: 'application/octet-stream' }), name);
      if (typeof item.file?.hashes?.quickXorHash !== 'string') throw new TargetError('verify', 'the drive reports no quickXorHash: not OneDrive for Business or SharePoint?');
      await this.remove(name);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function readAll(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(path)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
