/**
 * A small HTTPS client for cloud targets (Microsoft Graph and its sign-in endpoints): one request,
 * a time limit, a bounded answer (what a server sends back is hostile and is never buffered without
 * a limit), an optional extra CA certificate. It follows no redirect by itself: callers decide
 * where a bearer token may go.
 */
import { CallsealError } from '../common/errors.ts';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TargetError } from './target.ts';

/** Answers above this size are refused (JSON answers of Graph and the token endpoint are small). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** Options of one request. */
export interface HttpsRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string | Readable | undefined;
  /** Extra trusted CA certificates (PEM), besides the system's. */
  readonly ca?: string | undefined;
  readonly timeoutMs?: number;
}

/** An answer with its body read (up to {@link MAX_ANSWER_BYTES}). */
export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The stage of a network failure (DNS, connection, TLS). */
export function networkStage(err: unknown): 'dns' | 'connect' {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'dns' : 'connect';
}

function start(r: HttpsRequest, onAnswer: (status: number, headers: Record<string, string>, body: Readable) => void, reject: (err: unknown) => void): void {
  const url = new URL(r.url);
  if (url.protocol !== 'https:') {
    reject(new TargetError('config', `${url.origin}: only https is allowed`));
    return;
  }
  const req = httpsRequest(url, {
    method: r.method, headers: { ...r.headers }, timeout: r.timeoutMs ?? 60_000, ...(r.ca !== undefined ? { ca: r.ca } : {}),
  }, (res) => { onAnswer(res.statusCode ?? 0, flatHeaders(res.headers), res); });
  req.on('timeout', () => { req.destroy(new TargetError('connect', `${url.origin}: no answer within ${r.timeoutMs ?? 60_000} ms`)); });
  req.on('error', (err) => {
    reject(err instanceof TargetError ? err : new TargetError(networkStage(err), `${url.origin}: ${err.message}`, { cause: err }));
  });
  const body = r.body;
  if (body === undefined) req.end();
  else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
  else pipeline(body, req).catch((err: unknown) => { req.destroy(err instanceof Error ? err : new CallsealError('CS_ARCHIVE_TARGET', `sending the request body failed: ${String(err)}`)); });
}

/** Sends one request and reads the answer (bounded). */
export function httpsCall(r: HttpsRequest): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    start(r, (status, headers, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) {
          res.destroy();
          reject(new TargetError('write', `${new URL(r.url).origin}: answer larger than ${MAX_ANSWER_BYTES} bytes refused`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => { resolve({ status, headers, body: Buffer.concat(chunks) }); });
      res.on('error', reject);
    }, reject);
  });
}

/** Sends one GET and streams a 2xx answer's body into `sink`; other answers are read (bounded) and returned. */
export function httpsDownload(r: HttpsRequest, sink: Writable): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    start(r, (status, headers, res) => {
      if (status < 200 || status > 299) {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => { size += c.length; if (size <= MAX_ANSWER_BYTES) chunks.push(c); });
        res.on('end', () => { resolve({ status, headers, body: Buffer.concat(chunks) }); });
        res.on('error', reject);
        return;
      }
      pipeline(res, sink).then(() => { resolve({ status, headers, body: Buffer.alloc(0) }); }, reject);
    }, reject);
  });
}
