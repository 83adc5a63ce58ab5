import { describe, expect, it } from 'vitest';
import { parseDeletion, renderDeletion, type DeletionRecord } from './deletion.ts';

const record: DeletionRecord = {
  recording: '20261123-184501-004_+4930123_+4989765_0a1b', recordingId: '0a1b', folder: '2026/11/23', chainEpoch: 1, chainSequence: 42,
  signature: 'c2ln', hashFileSha256: 'ab'.repeat(32), previousRecording: 'genesis', previousSignature: 'public-key-sha256:cd', sealedAtMs: 5,
  recordingPublicKeySha256: 'cd', startMs: 4, setting: 'Record all calls', retention: '5 years', retainUntilMs: 6, deletedAtMs: 7,
  reason: 'retention-expired', signerEpoch: 2, publicKeySha256: 'ef',
};

describe('deletion records', () => {
  it('round-trip', () => {
    expect(parseDeletion(renderDeletion(record))).toEqual(record);
  });

  it('keep every value on its line: a setting name with a line break cannot add a field', () => {
    const text = renderDeletion({ ...record, setting: 'A\nreason: forged\r\u2028x' });
    expect(text).toContain('setting: A reason: forged  x\n');
    expect(parseDeletion(text)?.reason).toBe('retention-expired');
  });

  it('refuse what is not a record', () => {
    expect(parseDeletion('format: callseal-checkpoint 1\n')).toBeUndefined();
    expect(parseDeletion(renderDeletion(record).replace('chain-sequence: 42', 'chain-sequence: x'))).toBeUndefined();
  });
});
