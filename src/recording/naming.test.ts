import { describe, expect, it } from 'vitest';
import { expandTemplate, isoWithOffset, recordingBaseName, safeSegment, timeParts } from './naming.ts';
import { escapeValue, parseInfo } from './info.ts';

const T = Date.UTC(2026, 10, 23, 17, 46, 37, 123);

describe('naming', () => {
  it('uses the configured time zone (invariant 6)', () => {
    expect(isoWithOffset(T, 'Europe/Berlin')).toBe('2026-11-23T18:46:37.123+01:00');
    expect(isoWithOffset(T, 'UTC')).toBe('2026-11-23T17:46:37.123+00:00');
    expect(timeParts(Date.UTC(2026, 6, 1, 0, 0, 0), 'Europe/Berlin').offset).toBe('+02:00');
  });

  it('expands $Y $M $D $h $m $s and never leaves the root (D2)', () => {
    const p = timeParts(T, 'Europe/Berlin');
    expect(expandTemplate('$Y/$M/$D', p)).toBe('2026/11/23');
    expect(expandTemplate('calls/$Y-$M/day$D/$h$m$s', p)).toBe('calls/2026-11/day23/184637');
    expect(expandTemplate('../../etc/$Y', p)).toBe('etc/2026');
  });

  it('begins base names with a sortable timestamp and carries both numbers (D1)', () => {
    expect(recordingBaseName(T, 'Europe/Berlin', '+4930123', '0891234', 'abc')).toBe('20261123-184637-123_+4930123_0891234_abc');
  });

  it.each([
    ['../../etc/passwd', 'etc_passwd'],
    ['a/b\\c', 'a_b_c'],
    ['nul\u0000byte', 'nul_byte'],
    ['Jürgen Müller', 'Jurgen_Muller'],
    ['李小龍', 'unknown'],
    ['', 'unknown'],
    ['x'.repeat(500), 'x'.repeat(32)],
    ['.hidden', 'hidden'],
  ])('safeSegment(%j) is %j', (input, out) => {
    expect(safeSegment(input)).toBe(out);
  });

  it('escapes metadata values so no value can start a line', () => {
    expect(escapeValue('a\nevil: 1\r\\')).toBe('a\\nevil: 1\\r\\\\');
    const parsed = parseInfo(`caller-name: ${escapeValue('x\ny: z')}\n`);
    expect([...parsed.keys()]).toEqual(['caller-name']);
  });
});
