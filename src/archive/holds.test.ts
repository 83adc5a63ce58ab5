import { describe, expect, it } from 'vitest';
import { CallsealError } from '../common/errors.ts';
import { DEFAULT_CONTEXT } from '../policy/index.ts';
import { HoldRepository, openDatabase, type RecordingRow } from '../store/index.ts';
import { LegalHolds } from './holds.ts';

const rec = (over: Partial<RecordingRow>): RecordingRow => ({
  id: 'r1', baseName: 'b', dir: 'd', callId: 'c', startMs: Date.UTC(2026, 0, 10), endMs: 0, callerNumber: '+4930123456', callerName: '', calleeNumber: '+4989111',
  calleeName: '', direction: 'in', setting: 's', channels: 'stereo', codec: 'PCMA', interrupted: false, files: [], hashFileSha256: '', signature: '', chainEpoch: 1,
  chainSeq: 1, previous: 'genesis', sealedAtMs: 0, ...over,
});

function holds(twoPersonRelease: boolean): LegalHolds {
  return new LegalHolds({ repo: new HoldRepository(openDatabase(':memory:')), numbers: DEFAULT_CONTEXT, twoPersonRelease, recordingExists: (id) => id === 'r1' });
}

describe('legal holds', () => {
  it('match by recording, normalised number (caller or callee) and period, all given criteria together', () => {
    const h = holds(false);
    const byNumber = h.add({ number: '030 123-456', reason: 'x' }, 'a', 1);
    expect(byNumber.number).toBe('+4930123456');
    h.add({ number: '0049 89 111', fromMs: Date.UTC(2026, 0, 11), reason: 'y' }, 'a', 1);
    expect(h.matching(rec({})).map((x) => x.reason)).toEqual(['x']);
    expect(h.matching(rec({ callerNumber: '004930123456' })).map((x) => x.reason)).toEqual(['x']);
    expect(h.matching(rec({ callerNumber: '+491', startMs: Date.UTC(2026, 0, 12) })).map((x) => x.reason)).toEqual(['y']);
    h.add({ recordingId: 'r1', reason: 'z' }, 'a', 1);
    expect(h.matching(rec({ callerNumber: '+491' })).map((x) => x.reason)).toEqual(['z']);
    expect(h.matching(rec({ id: 'r2', callerNumber: '+491' }))).toEqual([]);
  });

  it('refuse a hold that names nothing, an unknown recording, or a period that ends first', () => {
    const h = holds(false);
    for (const input of [{ reason: 'x' }, { recordingId: 'nope', reason: 'x' }, { fromMs: 2, toMs: 1, reason: 'x' }, { number: '=1+1', reason: 'x' }]) {
      expect(() => h.add(input, 'a', 1)).toThrow(CallsealError);
    }
  });

  it('release at once without the two-person rule; with it, a second admin confirms the first one\'s request', () => {
    const one = holds(false);
    const a = one.add({ recordingId: 'r1', reason: 'x' }, 'alice', 1);
    expect(one.release(a.id, 'alice', 2)).toMatchObject({ state: 'released', hold: { releasedBy: 'alice', releasedMs: 2 } });
    expect(() => one.release(a.id, 'bob', 3)).toThrow(/released by alice already/);
    expect(one.active()).toEqual([]);

    const two = holds(true);
    const b = two.add({ recordingId: 'r1', reason: 'x' }, 'alice', 1);
    expect(two.release(b.id, 'alice', 2)).toMatchObject({ state: 'release-requested', hold: { releaseRequestedBy: 'alice' } });
    expect(() => two.release(b.id, 'alice', 3)).toThrow(/a second admin must confirm/);
    expect(two.active()).toHaveLength(1);
    expect(two.release(b.id, 'bob', 4)).toMatchObject({ state: 'released', hold: { releasedBy: 'bob', releaseRequestedBy: 'alice' } });
    expect(() => two.release(99, 'bob', 5)).toThrow(/no legal hold #99/);
  });
});
