/**
 * The DTMF stop code (B6): the allowed party, digits within the window, bounded memory.
 */
import { describe, expect, it } from 'vitest';
import { DTMF_DIGIT_WINDOW_MS, DtmfStop } from './dtmf-stop.ts';

describe('DtmfStop', () => {
  it('completes the code from digits within the window, and only then', () => {
    const s = new DtmfStop({ code: '*1', internalParty: 'callee' });
    expect(s.push('callee', '*', 0)).toBe(false);
    expect(s.push('callee', '1', DTMF_DIGIT_WINDOW_MS + 1)).toBe(false);
    expect(s.push('callee', '*', 10_000)).toBe(false);
    expect(s.push('callee', '1', 10_000 + DTMF_DIGIT_WINDOW_MS)).toBe(true);
  });

  it('takes the code at the end of a longer sequence, per party', () => {
    const s = new DtmfStop({ code: '#9', internalParty: 'both' });
    for (const [i, d] of ['1', '2', '3', '4', '5', '#'].entries()) expect(s.push('caller', d, i * 100)).toBe(false);
    // The callee's digit does not join the caller's sequence.
    expect(s.push('callee', '9', 700)).toBe(false);
    expect(s.push('caller', '9', 800)).toBe(true);
  });

  it('ignores the party that is not internal, and everything without a code', () => {
    const caller = new DtmfStop({ code: '*1', internalParty: 'caller' });
    expect(caller.push('callee', '*', 0)).toBe(false);
    expect(caller.push('callee', '1', 1)).toBe(false);
    expect(caller.push('other', '*', 2)).toBe(false);
    expect(caller.push('other', '1', 3)).toBe(false);
    const none = new DtmfStop({ code: '', internalParty: 'both' });
    expect(none.push('caller', '*', 0)).toBe(false);
    const unknown = new DtmfStop({ code: '*1', internalParty: undefined });
    expect(unknown.push('caller', '*', 0) || unknown.push('caller', '1', 1)).toBe(false);
  });
});
