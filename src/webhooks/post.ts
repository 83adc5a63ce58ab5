/**
 * Sends one webhook delivery: a POST with the JSON body and its headers over `node:http` or
 * `node:https`, bounded by a timeout over the whole exchange. Redirects are never followed (a 3xx
 * is a failed attempt), the response body is not read (the status is all that counts), and no
 * connection is kept. It never throws: the outcome is a value.
 */
import http from 'node:http';
import https from 'node:https';

/** What one attempt came to. */
export type PostOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status: number | undefined; readonly error: string };

/** Options of {@link postJson}. */
export interface PostOptions {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Ends the attempt at once (shutdown). */
  readonly signal?: AbortSignal;
}

/** POSTs `body`; resolves with the status once the response headers arrive, or with the failure. */
export function postJson(o: PostOptions): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      resolve({ ok: false, status: undefined, error: 'the URL does not parse' });
      return;
    }
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (!client) {
      resolve({ ok: false, status: undefined, error: `scheme ${url.protocol} is not http or https` });
      return;
    }
    const body = Buffer.from(o.body, 'utf8');
    const req = client.request(url, {
      method: 'POST', agent: false,
      headers: { ...o.headers, 'content-type': 'application/json', 'content-length': String(body.length), connection: 'close' },
    }, (res) => {
      const status = res.statusCode ?? 0;
      // The body of the answer is not needed; destroying the request drops it unread.
      if (status >= 200 && status < 300) done({ ok: true, status });
      else if (status >= 300 && status < 400) done({ ok: false, status, error: `answered ${String(status)}; redirects are not followed` });
      else done({ ok: false, status, error: `answered ${String(status)}` });
    });
    const timer = setTimeout(() => { done({ ok: false, status: undefined, error: `no answer within ${String(o.timeoutMs)} ms` }); }, o.timeoutMs);
    req.on('error', (err) => { done({ ok: false, status: undefined, error: err.message }); });
    const abort = (): void => { done({ ok: false, status: undefined, error: 'cancelled: callseal is stopping' }); };
    if (o.signal?.aborted === true) abort();
    else o.signal?.addEventListener('abort', abort, { once: true });
    req.end(body);
  });
}
