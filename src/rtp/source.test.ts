/**
 * The source check with plain values: the SDP address, the latched port, unusable SDP addresses,
 * `first` for NAT, IPv4-mapped addresses and re-INVITEs that move the source.
 */
import { describe, expect, it } from 'vitest';
import { SourceFilter, normalizeAddress, usableSdpAddress } from './source.ts';

describe('SourceFilter', () => {
  it('sdp: accepts only the SDP address, and only the port of its first valid packet', () => {
    const f = new SourceFilter('sdp', '192.0.2.5');
    expect(f.matches('198.51.100.7', 4000)).toBe(false);
    expect(f.matches('192.0.2.5', 4000)).toBe(true);
    f.latch('192.0.2.5', 4000);
    expect(f.latched).toBe(true);
    expect(f.matches('192.0.2.5', 4000)).toBe(true);
    expect(f.matches('192.0.2.5', 4002)).toBe(false);
    expect(f.matches('::ffff:192.0.2.5', 4000)).toBe(true);
  });

  it('sdp: latches the first sender when the SDP names 0.0.0.0, :: or a host name', () => {
    for (const sdp of ['0.0.0.0', '::', 'src.example.com', undefined]) {
      const f = new SourceFilter('sdp', sdp);
      expect(f.matches('198.51.100.7', 5000)).toBe(true);
      f.latch('198.51.100.7', 5000);
      expect(f.matches('198.51.100.8', 5000)).toBe(false);
    }
  });

  it('first: ignores the SDP address and latches the first sender', () => {
    const f = new SourceFilter('first', '10.0.0.1');
    expect(f.matches('203.0.113.9', 6000)).toBe(true);
    f.latch('203.0.113.9', 6000);
    expect(f.matches('10.0.0.1', 6000)).toBe(false);
    f.update('10.0.0.2');
    expect(f.matches('203.0.113.9', 6000)).toBe(true);
  });

  it('a re-INVITE with a new usable address moves the check; a hold address (0.0.0.0) keeps it', () => {
    const f = new SourceFilter('sdp', '192.0.2.5');
    f.latch('192.0.2.5', 4000);
    f.update('0.0.0.0');
    expect(f.matches('192.0.2.5', 4000)).toBe(true);
    f.update('192.0.2.6');
    expect(f.latched).toBe(false);
    expect(f.matches('192.0.2.5', 4000)).toBe(false);
    expect(f.matches('192.0.2.6', 7000)).toBe(true);
  });

  it('normalizes addresses', () => {
    expect(normalizeAddress('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
    expect(usableSdpAddress('::')).toBeUndefined();
    expect(usableSdpAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
