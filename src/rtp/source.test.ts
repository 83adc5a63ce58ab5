/**
 * The source check with plain values: the SDP address, the latched port, unusable SDP addresses,
 * `first` for NAT, IPv4-mapped addresses and re-INVITEs that move the source.
 */
import { describe, expect, it } from 'vitest';
import { SOURCE_MOVE_MS, SourceFilter, normalizeAddress, usableSdpAddress } from './source.ts';

describe('SourceFilter', () => {
  it('sdp: accepts only the SDP address, and only the port of its first valid packet', () => {
    const f = new SourceFilter('sdp', '192.0.2.5');
    expect(f.matches('198.51.100.7', 4000, 0)).toBe(false);
    expect(f.matches('192.0.2.5', 4000, 0)).toBe(true);
    f.accept('192.0.2.5', 4000, 0);
    expect(f.latched).toBe(true);
    expect(f.matches('192.0.2.5', 4000, 0)).toBe(true);
    expect(f.matches('192.0.2.5', 4002, 0)).toBe(false);
    expect(f.matches('::ffff:192.0.2.5', 4000, 0)).toBe(true);
  });

  it('sdp: another port of the SDP address takes over only after the latched one was silent (SBC failover)', () => {
    const f = new SourceFilter('sdp', '192.0.2.5');
    f.accept('192.0.2.5', 4000, 1000);
    f.accept('192.0.2.5', 4000, 1020);
    expect(f.matches('192.0.2.5', 4002, 1040)).toBe(false);
    expect(f.matches('192.0.2.5', 4002, 1020 + SOURCE_MOVE_MS)).toBe(true);
    f.accept('192.0.2.5', 4002, 1020 + SOURCE_MOVE_MS);
    expect(f.matches('192.0.2.5', 4000, 1040 + SOURCE_MOVE_MS)).toBe(false);
    // In first mode (NAT) the source never moves: the latched address and port hold.
    const g = new SourceFilter('first', undefined);
    g.accept('198.51.100.7', 5000, 0);
    expect(g.matches('198.51.100.7', 5002, 10 * SOURCE_MOVE_MS)).toBe(false);
  });

  it('sdp: a re-INVITE that moves the SDP port lets the new source port latch at once (Metaswitch SDP update)', () => {
    const f = new SourceFilter('sdp', '192.0.2.5', 4000);
    f.accept('192.0.2.5', 4000, 1000);
    expect(f.matches('192.0.2.5', 4002, 1020)).toBe(false);
    f.update('192.0.2.5', 4000);
    expect(f.matches('192.0.2.5', 4002, 1040)).toBe(false);
    f.update('192.0.2.5', 4002);
    expect(f.matches('192.0.2.5', 4002, 1060)).toBe(true);
    f.accept('192.0.2.5', 4002, 1060);
    expect(f.matches('192.0.2.5', 4000, 1080)).toBe(false);
  });

  it('sdp: latches the first sender when the SDP names 0.0.0.0, :: or a host name', () => {
    for (const sdp of ['0.0.0.0', '::', 'src.example.com', undefined]) {
      const f = new SourceFilter('sdp', sdp);
      expect(f.matches('198.51.100.7', 5000, 0)).toBe(true);
      f.accept('198.51.100.7', 5000, 0);
      expect(f.matches('198.51.100.8', 5000, 0)).toBe(false);
    }
  });

  it('first: ignores the SDP address and latches the first sender', () => {
    const f = new SourceFilter('first', '10.0.0.1');
    expect(f.matches('203.0.113.9', 6000, 0)).toBe(true);
    f.accept('203.0.113.9', 6000, 0);
    expect(f.matches('10.0.0.1', 6000, 0)).toBe(false);
    f.update('10.0.0.2');
    expect(f.matches('203.0.113.9', 6000, 0)).toBe(true);
  });

  it('a re-INVITE with a new usable address moves the check; a hold address (0.0.0.0) keeps it', () => {
    const f = new SourceFilter('sdp', '192.0.2.5');
    f.accept('192.0.2.5', 4000, 0);
    f.update('0.0.0.0');
    expect(f.matches('192.0.2.5', 4000, 0)).toBe(true);
    f.update('192.0.2.6');
    expect(f.latched).toBe(false);
    expect(f.matches('192.0.2.5', 4000, 0)).toBe(false);
    expect(f.matches('192.0.2.6', 7000, 0)).toBe(true);
  });

  it('normalizes addresses', () => {
    expect(normalizeAddress('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
    expect(usableSdpAddress('::')).toBeUndefined();
    expect(usableSdpAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
