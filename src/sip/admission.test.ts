import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOW, RateLimiter, RefusalLog, SourceAllowlist, parseAllowEntry } from './admission.ts';

describe('SourceAllowlist', () => {
  it('allows addresses and networks, IPv4, IPv6 and IPv4-mapped IPv6', () => {
    const list = new SourceAllowlist(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    expect(list.allows('10.200.1.1')).toBe(true);
    expect(list.allows('::ffff:10.1.2.3')).toBe(true);
    expect(list.allows('192.0.2.7')).toBe(true);
    expect(list.allows('192.0.2.8')).toBe(false);
    expect(list.allows('2001:db8:1::5')).toBe(true);
    expect(list.allows('2001:db9::5')).toBe(false);
    expect(list.allows('127.0.0.1')).toBe(false);
    expect(list.allows('not an address')).toBe(false);
  });

  it('defaults to loopback and private ranges only', () => {
    const list = new SourceAllowlist(DEFAULT_ALLOW);
    for (const a of ['127.0.0.1', '127.0.0.5', '::1', '10.1.1.1', '172.31.255.255', '192.168.1.1', 'fd00::1', 'fe80::1']) expect(list.allows(a), a).toBe(true);
    for (const a of ['8.8.8.8', '172.32.0.1', '192.0.2.1', '2001:db8::1', '::ffff:8.8.8.8']) expect(list.allows(a), a).toBe(false);
  });

  it('refuses entries that are not addresses or networks', () => {
    expect(parseAllowEntry('10.0.0.0/33')).toBeUndefined();
    expect(parseAllowEntry('example.com')).toBeUndefined();
    expect(parseAllowEntry('::/0')).toEqual({ address: '::', prefix: 0, family: 'ipv6' });
    expect(() => new SourceAllowlist(['10.0.0.0/8', 'nope'])).toThrow(RangeError);
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then the rate, per key', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 3, maxKeys: 10 });
    expect([1, 2, 3, 4].map(() => r.take('a', 0))).toEqual([true, true, true, false]);
    expect(r.take('b', 0)).toBe(true);
    expect(r.retryAfterSec('a')).toBe(1);
    expect(r.take('a', 499)).toBe(false);
    expect(r.take('a', 500)).toBe(true);
  });

  it('keeps at most maxKeys buckets', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 1, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) r.take(`k${i}`, i);
    expect(r.size).toBe(100);
  });
});

describe('RefusalLog', () => {
  it('logs the first refusal of a key, then one per interval with the count suppressed', () => {
    const l = new RefusalLog(1000, 10);
    expect(l.shouldLog('a', 0)).toBe(0);
    expect(l.shouldLog('a', 10)).toBeUndefined();
    expect(l.shouldLog('a', 20)).toBeUndefined();
    expect(l.shouldLog('a', 1000)).toBe(2);
    for (let i = 0; i < 100; i++) l.shouldLog(`k${i}`, 0);
    expect(l.shouldLog('a', 1001)).toBe(0);
  });
});
