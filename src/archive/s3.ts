/**
 * S3-compatible object storage target (F3 +, F6) on @aws-sdk/client-s3, with Object Lock: each
 * copy is written as a new object version locked in the target's mode (COMPLIANCE: nobody can
 * delete it or shorten its retention before it ends; GOVERNANCE: only a user allowed to bypass
 * governance can) until the recording's retention ends, and under legal hold when asked.
 * Every request carries `Content-MD5`, which S3 servers check (Ceph too); `ChecksumSHA256` only
 * when configured, as Ceph 16 neither stores nor checks it. A copy is verified by reading it back
 * through S3 and hashing it, as on the other targets. Large files (64 MiB by default) go up in
 * parts, each with its own `Content-MD5` (lib-storage's Upload sends no per-part MD5).
 * It must not delete or weaken a lock by itself: deleting and changing retention are separate
 * operations the retention code calls.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand,
  GetObjectLockConfigurationCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand,
  PutObjectLegalHoldCommand, PutObjectRetentionCommand, S3Client, UploadPartCommand, type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { describeError, digests, inParallel, isNotFound, stageOf, type S3Failure } from './s3-helpers.ts';
import { runTargetTest, TargetError, type LockState, type PutOptions, type Target, type TargetStage, type TargetTestResult, type VersionOptions } from './target.ts';

/** Object Lock mode a target writes with; `none` for a bucket without Object Lock (not WORM). */
export type S3LockMode = 'COMPLIANCE' | 'GOVERNANCE' | 'none';

/** Configuration of an S3 target. */
export interface S3TargetConfig {
  readonly kind: 's3';
  /** `https://s3.example.com` (or `http://` on a trusted network). */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  readonly pathStyle: boolean;
  /** Key prefix under which the target stores ('' for the bucket's root). */
  readonly prefix: string;
  readonly lockMode: S3LockMode;
  /** Send `ChecksumSHA256` too (AWS S3 checks it; Ceph 16 ignores it). */
  readonly checksumSha256?: boolean | undefined;
}

/** Files larger than this go up in parts (by default). */
export const MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;
/** Size of one part by default (S3: at least 5 MiB except the last). */
const PART_BYTES = 16 * 1024 * 1024;

/** Tuning of {@link S3Target}. */
export interface S3TargetOptions {
  readonly multipartThresholdBytes?: number;
  /** At least 5 MiB (S3's smallest part but the last). */
  readonly partBytes?: number;
}
/** Parts in flight at once. */
const PART_CONCURRENCY = 4;
/** Requests in flight at once in the batch forms (the aws CLI uses 10). */
const BATCH_CONCURRENCY = 8;

/** The Object Lock fields of a new object version. */
type LockParams = Pick<PutObjectCommandInput, 'ObjectLockMode' | 'ObjectLockRetainUntilDate' | 'ObjectLockLegalHoldStatus'>;

/** An S3 bucket (or a prefix in one). One client, reused; `close()` destroys it. */
export class S3Target implements Target {
  readonly kind = 's3';
  readonly #c: S3TargetConfig;
  readonly #client: S3Client;
  #closed = false;
  readonly #thresholdBytes: number;
  readonly #partBytes: number;

  constructor(config: S3TargetConfig, options: S3TargetOptions = {}) {
    this.#c = config;
    this.#thresholdBytes = options.multipartThresholdBytes ?? MULTIPART_THRESHOLD_BYTES;
    this.#partBytes = Math.max(5 * 1024 * 1024, options.partBytes ?? PART_BYTES);
    this.#client = new S3Client({
      endpoint: config.endpoint, region: config.region, forcePathStyle: config.pathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      // The SDK's default CRC32 trailers (aws-chunked bodies) are not understood by every
      // S3-compatible server; callseal sends Content-MD5 itself and verifies by reading back.
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
    });
  }

  /** The object key of a target path. */
  #key(remotePath: string): string {
    const p = posix.normalize(remotePath);
    if (p.startsWith('..') || p.startsWith('/') || p === '.' || remotePath.includes('\0')) throw new TargetError('path', `path ${remotePath} leaves the target's prefix`);
    const prefix = this.#c.prefix.replace(/^\/+|\/+$/g, '');
    return prefix === '' ? p : `${prefix}/${p}`;
  }

  async #send<T>(stageHint: TargetStage, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TargetError) throw err;
      const stage = stageOf(err);
      throw new TargetError(stage === 'write' ? stageHint : stage, `${this.#c.bucket}: ${what}: ${describeError(err)}`, { cause: err });
    }
  }

  /** The lock parameters of a new object version. */
  #lockParams(options: PutOptions | undefined): LockParams {
    if (this.#c.lockMode === 'none') {
      if (options?.legalHold === true) throw new TargetError('config', `${this.#c.bucket}: a legal hold needs a bucket with Object Lock (lockMode none)`);
      return {};
    }
    return {
      ...(options?.retainUntilMs !== undefined ? { ObjectLockMode: this.#c.lockMode, ObjectLockRetainUntilDate: new Date(options.retainUntilMs) } : {}),
      ...(options?.legalHold === true ? { ObjectLockLegalHoldStatus: 'ON' as const } : {}),
    };
  }

  async put(localPath: string, remotePath: string, options?: PutOptions): Promise<void> {
    const Key = this.#key(remotePath);
    const size = (await stat(localPath)).size;
    const lock = this.#lockParams(options);
    if (size > this.#thresholdBytes) {
      await this.#putMultipart(localPath, Key, size, lock);
      return;
    }
    const d = await digests(localPath);
    await this.#send('write', `put ${Key}`, () => this.#client.send(new PutObjectCommand({
      Bucket: this.#c.bucket, Key, Body: createReadStream(localPath), ContentLength: size, ContentMD5: d.md5,
      ...(this.#c.checksumSha256 === true ? { ChecksumSHA256: d.sha256 } : {}), ...lock,
    })));
  }

  async #putMultipart(localPath: string, Key: string, size: number, lock: LockParams): Promise<void> {
    const created = await this.#send('write', `start multipart upload of ${Key}`, () => this.#client.send(new CreateMultipartUploadCommand({
      Bucket: this.#c.bucket, Key, ...lock, ...(this.#c.checksumSha256 === true ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
    })));
    const UploadId = created.UploadId;
    if (UploadId === undefined) throw new TargetError('write', `${this.#c.bucket}: no upload id for ${Key}`);
    const partBytes = this.#partBytes;
    const count = Math.ceil(size / partBytes);
    const parts: { PartNumber: number; ETag: string; ChecksumSHA256?: string }[] = [];
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const index = next++;
          const start = index * partBytes;
          const end = Math.min(size, start + partBytes);
          const d = await digests(localPath, start, end);
          const r = await this.#send('write', `part ${index + 1} of ${Key}`, () => this.#client.send(new UploadPartCommand({
            Bucket: this.#c.bucket, Key, UploadId, PartNumber: index + 1, ContentLength: end - start, ContentMD5: d.md5,
            Body: createReadStream(localPath, { start, end: end - 1 }), ...(this.#c.checksumSha256 === true ? { ChecksumSHA256: d.sha256 } : {}),
          })));
          if (r.ETag === undefined) throw new TargetError('write', `${this.#c.bucket}: part ${index + 1} of ${Key} has no ETag`);
          parts.push({ PartNumber: index + 1, ETag: r.ETag, ...(this.#c.checksumSha256 === true ? { ChecksumSHA256: d.sha256 } : {}) });
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, count) }, worker));
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      const done = await this.#send('write', `complete ${Key}`, () => this.#client.send(new CompleteMultipartUploadCommand({ Bucket: this.#c.bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
      await this.#ensureLock(Key, done.VersionId, lock);
    } catch (err) {
      // An abandoned upload holds storage until it is aborted; the copy is retried from the start.
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#c.bucket, Key, UploadId })).catch((abortErr: unknown) => {
        throw new TargetError(stageOf(err), `${describeError(err)}; aborting the upload failed too: ${describeError(abortErr)}`, { cause: err });
      });
      throw err;
    }
  }

  /**
   * Makes sure a new version carries the lock it was created with: Ceph 16 drops the Object Lock
   * fields of a multipart upload, so they are set on the completed version when missing.
   */
  async #ensureLock(Key: string, VersionId: string | undefined, lock: LockParams): Promise<void> {
    if (lock.ObjectLockMode === undefined && lock.ObjectLockLegalHoldStatus === undefined) return;
    const version = VersionId !== undefined ? { VersionId } : {};
    const h = await this.#send('write', `head ${Key}`, () => this.#client.send(new HeadObjectCommand({ Bucket: this.#c.bucket, Key, ...version })));
    const until = lock.ObjectLockRetainUntilDate;
    if (lock.ObjectLockMode !== undefined && until instanceof Date && (h.ObjectLockMode !== lock.ObjectLockMode || (h.ObjectLockRetainUntilDate?.getTime() ?? 0) < until.getTime())) {
      await this.#send('write', `retention of ${Key}`, () => this.#client.send(new PutObjectRetentionCommand({ Bucket: this.#c.bucket, Key, ...version, Retention: { Mode: lock.ObjectLockMode, RetainUntilDate: until } })));
    }
    if (lock.ObjectLockLegalHoldStatus === 'ON' && h.ObjectLockLegalHoldStatus !== 'ON') {
      await this.#send('write', `legal hold on ${Key}`, () => this.#client.send(new PutObjectLegalHoldCommand({ Bucket: this.#c.bucket, Key, ...version, LegalHold: { Status: 'ON' } })));
    }
  }

  /** Several uploads in parallel (the outbox hands a batch of recordings). */
  async putMany(items: readonly { readonly local: string; readonly remote: string; readonly options?: PutOptions | undefined }[]): Promise<void> {
    await inParallel(items, BATCH_CONCURRENCY, (i) => this.put(i.local, i.remote, i.options));
  }

  async statMany(remotes: readonly string[]): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    await inParallel(remotes, BATCH_CONCURRENCY, async (r) => { out.set(r, (await this.stat(r))?.size); });
    return out;
  }

  async sha256Many(remotes: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await inParallel(remotes, BATCH_CONCURRENCY, async (r) => { out.set(r, await this.sha256(r)); });
    return out;
  }

  async stat(remotePath: string): Promise<{ size: number } | undefined> {
    const Key = this.#key(remotePath);
    try {
      const h = await this.#client.send(new HeadObjectCommand({ Bucket: this.#c.bucket, Key }));
      return { size: h.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err) && !/NoSuchBucket/.test(String((err as S3Failure).name))) return undefined;
      throw new TargetError(stageOf(err) === 'write' ? 'path' : stageOf(err), `${this.#c.bucket}: head ${Key}: ${describeError(err)}`, { cause: err });
    }
  }

  async #body(Key: string, versionId?: string): Promise<Readable> {
    const r = await this.#send('verify', `get ${Key}`, () => this.#client.send(new GetObjectCommand({ Bucket: this.#c.bucket, Key, ...(versionId !== undefined ? { VersionId: versionId } : {}) })));
    if (!r.Body) throw new TargetError('verify', `${this.#c.bucket}: ${Key} came back without a body`);
    return r.Body as Readable;
  }

  async sha256(remotePath: string): Promise<string> {
    const Key = this.#key(remotePath);
    const hash = createHash('sha256');
    await this.#send('verify', `read back ${Key}`, async () => {
      await pipeline(await this.#body(Key), new Writable({ write(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(); } }));
    });
    return hash.digest('hex');
  }

  async getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void> {
    for (const i of items) {
      const Key = this.#key(i.remote);
      await this.#send('path', `get ${Key}`, async () => { await pipeline(await this.#body(Key), createWriteStream(i.local)); });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const folder = prefix === '' || prefix === '.' ? this.#c.prefix.replace(/^\/+|\/+$/g, '') : this.#key(prefix);
    const Prefix = folder === '' ? '' : `${folder}/`;
    const names: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const token = ContinuationToken;
      const r = await this.#send('path', `list ${Prefix}`, () => this.#client.send(new ListObjectsV2Command({ Bucket: this.#c.bucket, Prefix, Delimiter: '/', ...(token !== undefined ? { ContinuationToken: token } : {}) })));
      for (const o of r.Contents ?? []) if (o.Key !== undefined && o.Key.startsWith(Prefix)) names.push(o.Key.slice(Prefix.length));
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix !== undefined && p.Prefix.startsWith(Prefix)) names.push(p.Prefix.slice(Prefix.length).replace(/\/$/, ''));
      ContinuationToken = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    return names.filter((n) => n !== '');
  }

  /** Every version (and delete marker) of exactly this key. */
  async #versions(Key: string): Promise<{ versionId: string; deleteMarker: boolean }[]> {
    const out: { versionId: string; deleteMarker: boolean }[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      const km = KeyMarker;
      const vm = VersionIdMarker;
      const r = await this.#send('path', `list versions of ${Key}`, () => this.#client.send(new ListObjectVersionsCommand({
        Bucket: this.#c.bucket, Prefix: Key, ...(km !== undefined ? { KeyMarker: km } : {}), ...(vm !== undefined ? { VersionIdMarker: vm } : {}),
      })));
      for (const v of r.Versions ?? []) if (v.Key === Key && v.VersionId !== undefined) out.push({ versionId: v.VersionId, deleteMarker: false });
      for (const m of r.DeleteMarkers ?? []) if (m.Key === Key && m.VersionId !== undefined) out.push({ versionId: m.VersionId, deleteMarker: true });
      if (r.IsTruncated !== true) return out;
      KeyMarker = r.NextKeyMarker;
      VersionIdMarker = r.NextVersionIdMarker;
    }
  }

  /** The versions an operation applies to: the one named, else every version of the key. */
  async #targets(Key: string, o: VersionOptions | undefined, withMarkers: boolean): Promise<string[]> {
    if (o?.versionId !== undefined) return [o.versionId];
    return (await this.#versions(Key)).filter((v) => withMarkers || !v.deleteMarker).map((v) => v.versionId);
  }

  /** A refusal of a locked version is stage `locked`; anything else keeps its own stage. */
  #lockedOr(err: unknown, Key: string, what: string): TargetError {
    const stage = stageOf(err);
    if (err instanceof TargetError) return err;
    return new TargetError(stage === 'permission' ? 'locked' : stage, `${this.#c.bucket}: ${what} ${Key}: ${describeError(err)}`, { cause: err });
  }

  /**
   * Deletes the stored copy for good: the version named, or every version and delete marker of
   * the key. A version under retention or legal hold is refused with stage `locked`.
   */
  async remove(remotePath: string, options?: VersionOptions): Promise<void> {
    const Key = this.#key(remotePath);
    const versions = await this.#targets(Key, options, true);
    for (const VersionId of versions) {
      try {
        await this.#client.send(new DeleteObjectCommand({ Bucket: this.#c.bucket, Key, VersionId, ...(options?.bypassGovernance === true ? { BypassGovernanceRetention: true } : {}) }));
      } catch (err) {
        throw this.#lockedOr(err, Key, `delete version ${VersionId} of`);
      }
    }
  }

  /** Sets the retain-until of the version named, or of every version; shortening COMPLIANCE is refused (`locked`). */
  async setRetention(remotePath: string, retainUntilMs: number, options?: VersionOptions): Promise<void> {
    if (this.#c.lockMode === 'none') throw new TargetError('config', `${this.#c.bucket}: the target has no Object Lock mode`);
    const Key = this.#key(remotePath);
    for (const VersionId of await this.#targets(Key, options, false)) {
      try {
        await this.#client.send(new PutObjectRetentionCommand({
          Bucket: this.#c.bucket, Key, VersionId, Retention: { Mode: this.#c.lockMode, RetainUntilDate: new Date(retainUntilMs) },
          ...(options?.bypassGovernance === true ? { BypassGovernanceRetention: true } : {}),
        }));
      } catch (err) {
        throw this.#lockedOr(err, Key, `set retention of version ${VersionId} of`);
      }
    }
  }

  /** Places or releases a legal hold on the version named, or on every version. */
  async setLegalHold(remotePath: string, on: boolean, options?: VersionOptions): Promise<void> {
    if (this.#c.lockMode === 'none') throw new TargetError('config', `${this.#c.bucket}: a legal hold needs a bucket with Object Lock`);
    const Key = this.#key(remotePath);
    for (const VersionId of await this.#targets(Key, options, false)) {
      await this.#send('permission', `legal hold on ${Key}`, () => this.#client.send(new PutObjectLegalHoldCommand({ Bucket: this.#c.bucket, Key, VersionId, LegalHold: { Status: on ? 'ON' : 'OFF' } })));
    }
  }

  /** The lock of the version named (else the current one) as the server reports it; undefined when absent. */
  async describeLock(remotePath: string, options?: VersionOptions): Promise<LockState | undefined> {
    const Key = this.#key(remotePath);
    try {
      const h = await this.#client.send(new HeadObjectCommand({ Bucket: this.#c.bucket, Key, ...(options?.versionId !== undefined ? { VersionId: options.versionId } : {}) }));
      const mode = h.ObjectLockMode === 'COMPLIANCE' || h.ObjectLockMode === 'GOVERNANCE' ? h.ObjectLockMode : 'none';
      return {
        mode, retainUntilMs: h.ObjectLockRetainUntilDate?.getTime(), legalHold: h.ObjectLockLegalHoldStatus === 'ON',
        ...(h.VersionId !== undefined ? { versionId: h.VersionId } : {}), worm: mode === 'COMPLIANCE',
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new TargetError(stageOf(err), `${this.#c.bucket}: head ${Key}: ${describeError(err)}`, { cause: err });
    }
  }

  /**
   * Writes and removes a test object. With a lock mode, the bucket must have Object Lock enabled,
   * and the test object is locked in GOVERNANCE for two seconds (so a bucket default retention
   * cannot pin it), then removed with bypass, or after it expired when bypass is not allowed.
   */
  test(): Promise<TargetTestResult> {
    return runTargetTest(this.kind, async () => {
      if (this.#c.lockMode !== 'none') {
        const noLock = (): TargetError => new TargetError('config', `bucket ${this.#c.bucket} has no Object Lock enabled, but the target asks for ${this.#c.lockMode}: copies would not be WORM`);
        const conf = await this.#client.send(new GetObjectLockConfigurationCommand({ Bucket: this.#c.bucket })).catch((err: unknown) => {
          if ((err as S3Failure).name === 'ObjectLockConfigurationNotFoundError') throw noLock();
          throw new TargetError(stageOf(err) === 'write' ? 'config' : stageOf(err), `${this.#c.bucket}: object lock configuration: ${describeError(err)}`, { cause: err });
        });
        if (conf.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') throw noLock();
      }
      const name = `.callseal-test-${randomBytes(4).toString('hex')}`;
      const Key = this.#key(name);
      const body = Buffer.from('callseal target test\n');
      const md5 = createHash('md5').update(body).digest('base64');
      const untilMs = Date.now() + 2000;
      const put = await this.#send('permission', `put ${Key}`, () => this.#client.send(new PutObjectCommand({
        Bucket: this.#c.bucket, Key, Body: body, ContentLength: body.length, ContentMD5: md5,
        ...(this.#c.lockMode !== 'none' ? { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: new Date(untilMs) } : {}),
      })));
      const back = await this.describeLock(name, put.VersionId !== undefined ? { versionId: put.VersionId } : undefined);
      if (this.#c.lockMode !== 'none' && back?.mode !== 'GOVERNANCE') throw new TargetError('config', `bucket ${this.#c.bucket}: the server does not keep Object Lock settings on objects`);
      try {
        await this.remove(name, { bypassGovernance: true });
      } catch (err) {
        if (!(err instanceof TargetError && err.stage === 'locked')) throw err;
        // Not allowed to bypass governance: the two seconds run out, then it goes without.
        await new Promise((r) => setTimeout(r, Math.max(0, untilMs - Date.now()) + 1500));
        await this.remove(name);
      }
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // Without destroy() the SDK's sockets keep the process alive about a minute after errors.
      this.#client.destroy();
    }
    return Promise.resolve();
  }
}
