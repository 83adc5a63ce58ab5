/**
 * RFC 4475 (SIP torture tests), every message of the RFC's archive, as it is, through the parser.
 * The expected outcomes cite the RFC's section for each message; what the full server answers is
 * checked in test/integration/sip-torture.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParseError, SipError } from '../common/errors.ts';
import { getHeader, getHeaders, parseMessage, parseNameAddr, serializeMessage } from './message.ts';
import { parseMultipart } from './multipart.ts';

const DIR = join(import.meta.dirname, '../../../shared/testdata/rfc4475');
const load = (name: string): Buffer => readFileSync(join(DIR, `${name}.dat`));

/** Section 3.1.1: valid messages; a conformant parser must accept them. */
const VALID = ['wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports', 'mpart01', 'unreason', 'noreason'];
/** Section 3.1.2: invalid requests; a UAS answers 400 (505 for badvers). */
const INVALID_400 = ['badinv01', 'clerr', 'ncl', 'scalar02', 'quotbal', 'ltgtruri', 'lwsruri', 'lwsstart', 'trws', 'escruri', 'regbadct', 'badaspec', 'baddn', 'mismatch01', 'mismatch02'];
/** Section 3.3: requests whose semantics are wrong but still parse to a 400 at this layer. */
const SEMANTIC_400 = ['insuf', 'multi01', 'mcl01'];
/** Sections 3.1.2.4 and 3.1.2.19: malformed responses are dropped. */
const DROPPED_RESPONSES = ['scalarlg', 'bigcode'];
/** Messages that parse and are judged by the application (3.1.2.16 baddate may be accepted, 3.2, 3.3, 3.4). */
const PARSE_THEN_APPLICATION = ['baddate', 'badbranch', 'unksm2', 'novelsc', 'unkscm', 'bext01', 'invut', 'regaut01', 'bcast', 'zeromf', 'cparam01', 'cparam02', 'regescrt', 'sdp01', 'inv2543'];

describe('RFC 4475 torture messages', () => {
  it('covers all 49 messages of the archive', () => {
    const all = [...VALID, ...INVALID_400, 'badvers', ...SEMANTIC_400, ...DROPPED_RESPONSES, ...PARSE_THEN_APPLICATION];
    expect(new Set(all).size).toBe(49);
  });

  it.each(VALID)('%s (3.1.1) parses', (name) => {
    const msg = parseMessage(load(name));
    expect(msg.headers.length).toBeGreaterThan(3);
  });

  it.each([...INVALID_400, ...SEMANTIC_400])('%s is answered 400 Bad Request', (name) => {
    let caught: unknown;
    try {
      parseMessage(load(name));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SipError);
    expect((caught as SipError).status).toBe(400);
  });

  it('badvers (3.1.2.18) is answered 505 Version Not Supported', () => {
    expect(() => parseMessage(load('badvers'))).toThrow(SipError);
    try {
      parseMessage(load('badvers'));
    } catch (err) {
      expect((err as SipError).status).toBe(505);
    }
  });

  it.each(DROPPED_RESPONSES)('%s (response with a bad status code) is dropped', (name) => {
    expect(() => parseMessage(load(name))).toThrow(ParseError);
  });

  it.each(PARSE_THEN_APPLICATION)('%s parses for the application to judge', (name) => {
    expect(parseMessage(load(name)).kind).toBeDefined();
  });

  it('wsinv: unfolds, expands compact forms and splits Via lists', () => {
    const msg = parseMessage(load('wsinv'));
    expect(msg.kind).toBe('request');
    expect(getHeader(msg, 'call-id')).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(getHeader(msg, 'cseq')).toBe('0009 INVITE');
    expect(getHeaders(msg, 'via')).toHaveLength(3);
    expect(parseNameAddr(getHeader(msg, 'from') ?? '').displayName).toBe('J Rosenberg \\"');
    expect(parseNameAddr(getHeader(msg, 'from') ?? '').tag).toBe('98asjd8');
    expect(getHeader(msg, 'newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(msg.body.length).toBe(150);
  });

  it('dblreq: a datagram carries one request; bytes after Content-Length are ignored', () => {
    const msg = parseMessage(load('dblreq'));
    expect(msg.kind === 'request' && msg.method).toBe('REGISTER');
    expect(msg.body.length).toBe(0);
  });

  it('esc02: escaped method is a token; C%6Fntact is not Contact', () => {
    const msg = parseMessage(load('esc02'));
    expect(msg.kind === 'request' && msg.method).toBe('RE%47IST%45R');
    expect(getHeaders(msg, 'contact')).toHaveLength(2);
  });

  it('mpart01: the multipart body splits into its parts', () => {
    const msg = parseMessage(load('mpart01'));
    const parts = parseMultipart(msg.body, getHeader(msg, 'content-type') ?? '');
    expect(parts.map((p) => p.contentType)).toEqual(['text/plain', 'application/octet-stream']);
    expect(parts[0]?.body.toString()).toBe('Hello');
  });

  it('noreason and unreason: empty and UTF-8 reason phrases', () => {
    const a = parseMessage(load('noreason'));
    const b = parseMessage(load('unreason'));
    expect(a.kind === 'response' && a.reason).toBe('');
    expect(b.kind === 'response' && b.status).toBe(200);
  });

  it.each(VALID)('%s survives serialize(parse(x)) with the same headers', (name) => {
    const msg = parseMessage(load(name));
    const again = parseMessage(serializeMessage(msg));
    const names = (m: typeof msg): string[] => m.headers.map((h) => h.name).filter((n) => n !== 'content-length');
    expect(names(again)).toEqual(names(msg));
    expect(again.headers.map((h) => h.value).filter(Boolean).length).toBeGreaterThan(0);
    expect(again.body.equals(msg.body)).toBe(true);
  });

  it.each(VALID)('%s: every truncation is either a message or a clean error', (name) => {
    const data = load(name);
    for (let i = 0; i < data.length; i += 7) {
      try {
        parseMessage(data.subarray(0, i));
      } catch (err) {
        expect(err instanceof SipError || err instanceof ParseError).toBe(true);
      }
    }
  });
});
