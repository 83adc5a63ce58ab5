import { describe, expect, it } from 'vitest';
import { DtmfDetector } from './dtmf.ts';

function event(code: number, end: boolean, duration: number): Buffer {
  return Buffer.from([code, end ? 0x8a : 0x0a, duration >> 8, duration & 0xff]);
}

describe('DtmfDetector', () => {
  it('notes a digit once per event, however many start, update and end packets it has', () => {
    const d = new DtmfDetector();
    const digits = [
      d.push({ timestamp: 1000, payload: event(10, false, 160) }),
      d.push({ timestamp: 1000, payload: event(10, false, 320) }),
      d.push({ timestamp: 1000, payload: event(10, true, 480) }),
      d.push({ timestamp: 1000, payload: event(10, true, 480) }),
      d.push({ timestamp: 1000, payload: event(10, true, 480) }),
      d.push({ timestamp: 2000, payload: event(1, true, 480) }),
      d.push({ timestamp: 2000, payload: event(1, true, 480) }),
    ];
    expect(digits.filter((x) => x !== undefined)).toEqual(['*', '1']);
  });

  it('ignores events other than digits and short payloads', () => {
    const d = new DtmfDetector();
    expect(d.push({ timestamp: 1, payload: event(16, false, 160) })).toBeUndefined();
    expect(d.push({ timestamp: 2, payload: Buffer.from([5, 0, 0]) })).toBeUndefined();
    expect(d.push({ timestamp: 3, payload: event(5, true, 160) })).toBe('5');
  });
});
