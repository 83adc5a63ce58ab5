import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, CallsealError, SipError, ConfigError, HttpError } from './errors.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));

/** Every TypeScript source file under src/ that is not a test. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error catalogue', () => {
  it('has unique codes of the form CS_<AREA>_<WHAT>', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^CS_[A-Z0-9]+_[A-Z0-9_]+$/);
  });

  it('documents every code in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ERROR_CODES)) expect(doc).toContain(`\`${code}\``);
  });

  it('documents no code that does not exist', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/`(CS_[A-Z0-9_]+)`/g)].map((m) => m[1]));
    expect([...documented].filter((c) => c === undefined || !(c in ERROR_CODES))).toEqual([]);
  });

  it('is the only way src/ raises errors: no plain Error outside tests', () => {
    // `new Error(` and `Error(` alike; `CallsealError(`, `errorMessage(` and `ParseError(` do not match.
    const plain = /(?<![\w$.])(?:new\s+)?Error\s*\(/;
    const offenders = sourceFiles().flatMap((file) => readFileSync(file, 'utf8').split('\n')
      .flatMap((line, i) => (plain.test(line) ? [`${relative(SRC, file)}:${i + 1}: ${line.trim()}`] : [])));
    expect(offenders).toEqual([]);
  });

  it('reuses no code for two meanings: a SIP error code is one kind of refusal', () => {
    // The statuses each code is raised with, read from the source (SipError and its subclasses).
    const raised = /\b\w*(?:Sip|RetryAfter)Error\(\s*'(CS_[A-Z0-9_]+)',\s*(\d{3})\b/g;
    const statuses = new Map<string, Set<number>>();
    for (const file of sourceFiles()) {
      for (const m of readFileSync(file, 'utf8').matchAll(raised)) {
        const [, code = '', status = '0'] = m;
        statuses.set(code, (statuses.get(code) ?? new Set()).add(Number(status)));
      }
    }
    expect(statuses.size).toBeGreaterThan(5);
    for (const [code, set] of statuses) {
      const list = [...set];
      // A fault of callseal (5xx) and a fault of the request (4xx) are two meanings.
      expect(list.every((s) => s >= 500) || list.every((s) => s < 500), `${code}: ${list.join(', ')}`).toBe(true);
      // 406 and 415 ask the client for something else each (RFC 3261 sections 21.4.7 and 21.4.13).
      if (set.has(406) || set.has(415)) expect(list, code).toHaveLength(1);
    }
  });

  it('finds a plain Error where there is one', () => {
    const plain = /(?<![\w$.])(?:new\s+)?Error\s*\(/;
    expect(plain.test("throw new Error('x')")).toBe(true);
    expect(plain.test("reject(Error('x'))")).toBe(true);
    expect(plain.test("throw new CallsealError('CS_SIP_PARSE', 'x')")).toBe(false);
    expect(plain.test('log(errorMessage(err))')).toBe(false);
  });

  it('keeps the HTTP status of a web error', () => {
    const e = new HttpError('CS_WEB_NOT_LOGGED_IN', 401, 'not logged in');
    expect(e).toBeInstanceOf(CallsealError);
    expect(e.statusCode).toBe(401);
    expect(e.code).toBe('CS_WEB_NOT_LOGGED_IN');
  });

  it('keeps code, status and cause', () => {
    const cause = new Error('inner');
    const e = new SipError('CS_SIP_PARSE', 400, 'Bad Request', 'bad', { cause });
    expect(e).toBeInstanceOf(CallsealError);
    expect(e.code).toBe('CS_SIP_PARSE');
    expect(e.status).toBe(400);
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('SipError');
  });

  it('lists every config issue with its field', () => {
    const e = new ConfigError('CS_CONFIG_INVALID', [{ path: 'sip.port', message: 'too big' }, { path: 'rtp.portMin', message: 'bad' }]);
    expect(e.message).toContain('sip.port: too big');
    expect(e.message).toContain('rtp.portMin: bad');
  });
});
