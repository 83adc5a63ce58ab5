// The browser's side of the API: JSON requests with the session cookie and, for changes, the CSRF token.

let csrf: string | null = null;

/** Remembers the CSRF token of the session (from login or GET /api/me). */
export function setCsrf(token: string | null): void {
  csrf = token;
}

/** An error answer of the API, with the field problems when it names them. */
export class ApiError extends Error {
  readonly status: number;
  readonly issues: readonly { path: string; message: string }[];
  constructor(status: number, message: string, issues: readonly { path: string; message: string }[] = []) {
    super(message);
    this.status = status;
    this.issues = issues;
  }
}

/** Calls the API; throws ApiError on an error status. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const data: unknown = text !== '' && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
  if (!res.ok) {
    const d = (typeof data === 'object' && data !== null ? data : {}) as { error?: string; issues?: { path: string; message: string }[] };
    const issues = d.issues ?? [];
    throw new ApiError(res.status, issues.length > 0 ? issues.map((i) => `${i.path}: ${i.message}`).join('; ') : (d.error ?? `HTTP ${res.status}`), issues);
  }
  return data as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** Sends a file as the raw request body (announcement uploads); throws ApiError on an error status. */
export async function uploadFile<T>(path: string, file: Blob): Promise<T> {
  const headers: Record<string, string> = { 'content-type': file.type !== '' ? file.type : 'application/octet-stream' };
  if (csrf !== null) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method: 'POST', headers, credentials: 'same-origin', body: file });
  const text = await res.text();
  const data: unknown = text !== '' && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
  if (!res.ok) {
    const d = (typeof data === 'object' && data !== null ? data : {}) as { error?: string };
    throw new ApiError(res.status, d.error ?? `HTTP ${res.status}`);
  }
  return data as T;
}

/** Formats epoch milliseconds in the browser's time zone and the UI language. */
export function when(ms: number | null | undefined, lang: string): string {
  if (ms === null || ms === undefined) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms));
}

/** Formats a duration as m:ss or h:mm:ss. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i] ?? ''}`;
}
