import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, CallsealError, SipError, ConfigError } from './errors.ts';

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
