/**
 * A browser-like API client for tests: logs in with POST /api/session, keeps the session cookie,
 * and sends the CSRF token on changing requests (or not, to test the refusal).
 */

/** A logged-in (or anonymous) client. */
export interface WebClient {
  readonly cookie: string;
  readonly csrf: string;
  call(method: string, path: string, body?: unknown, options?: { csrf?: boolean; headers?: Record<string, string> }): Promise<{ status: number; json: unknown; text: string; headers: Headers; bytes: Buffer }>;
}

/** Logs in; throws with the answer if the login fails. */
export async function login(httpPort: number, username: string, password: string): Promise<WebClient> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  const { csrf } = await res.json() as { csrf: string };
  return client(httpPort, cookie, csrf, setCookie);
}

/** A client with a given cookie (empty: anonymous). */
export function client(httpPort: number, cookie = '', csrf = '', setCookie = ''): WebClient & { setCookie: string } {
  return {
    cookie, csrf, setCookie,
    async call(method, path, body, options = {}) {
      const headers: Record<string, string> = { ...(cookie !== '' ? { cookie } : {}), ...options.headers };
      if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
      if (method !== 'GET' && options.csrf !== false && csrf !== '') headers['x-csrf-token'] = csrf;
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const bytes = Buffer.from(await res.arrayBuffer());
      const text = bytes.toString('utf8');
      let json: unknown;
      try { json = (res.headers.get('content-type') ?? '').includes('json') && text !== '' ? JSON.parse(text) as unknown : undefined; } catch { json = undefined; }
      return { status: res.status, json, text, headers: res.headers, bytes };
    },
  };
}
