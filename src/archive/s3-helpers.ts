/**
 * Helpers of the S3 target: what it reads from the SDK's errors (the stage, a short text), the
 * digests it sends with each upload, and a bounded parallel loop. No I/O but reading a local file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TargetStage } from './target.ts';

/** The fields of an SDK error callseal reads. */
export interface S3Failure {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The stage of an SDK or network error. */
export function stageOf(err: unknown): TargetStage {
  const e = (err ?? {}) as S3Failure;
  const name = `${e.name ?? ''} ${e.code ?? ''} ${e.message ?? ''}`;
  if (/ENOTFOUND|EAI_AGAIN/.test(name)) return 'dns';
  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|TimeoutError|socket hang up|EPROTO/i.test(name)) return 'connect';
  if (/InvalidAccessKeyId|SignatureDoesNotMatch|InvalidToken|ExpiredToken|AuthorizationHeaderMalformed/.test(name)) return 'auth';
  if (/NoSuchBucket/.test(name)) return 'path';
  if (/ObjectLockConfigurationNotFound|InvalidRequest/.test(name)) return 'config';
  if (/AccessDenied/.test(name) || e.$metadata?.httpStatusCode === 403) return 'permission';
  if (/BadDigest|InvalidDigest/.test(name)) return 'write';
  return 'write';
}

export function describeError(err: unknown): string {
  const e = (err ?? {}) as S3Failure;
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'Error'}${status !== undefined ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`.slice(0, 400);
}

export function isNotFound(err: unknown): boolean {
  const e = (err ?? {}) as S3Failure;
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.name === 'NoSuchVersion' || e.$metadata?.httpStatusCode === 404;
}

/** MD5 (base64, for Content-MD5) and SHA-256 (base64, for ChecksumSHA256) of a file range. */
export async function digests(path: string, start = 0, end = Infinity): Promise<{ md5: string; sha256: string }> {
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  const s = createReadStream(path, { start, ...(end !== Infinity ? { end: end - 1 } : {}) });
  for await (const chunk of s) {
    md5.update(chunk as Buffer);
    sha.update(chunk as Buffer);
  }
  return { md5: md5.digest('base64'), sha256: sha.digest('base64') };
}

/** Runs `fn` over `items`, at most `limit` at a time; the first failure rejects. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
