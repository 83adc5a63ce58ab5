/**
 * Numbers from SIPREC metadata and SIP URIs are hostile (invariant 4): only the user part of a
 * tel:/sip: URI in the phone-number alphabet (digits, `*`, `#`, a leading `+`, RFC 3966 visual
 * separators removed), at most 32 characters, is a number. Anything else leaves the number empty
 * (the AoR keeps the raw text, escaped in `_info.txt`), names no file, and matches no policy rule.
 */
import { describe, expect, it } from 'vitest';
import { MAX_NUMBER_LENGTH, phoneNumber } from '../../src/common/uri.ts';
import { numberFromAor, parseMetadata } from '../../src/siprec/index.ts';
import { compilePolicy, decide, isFeatureCode, normalizeNumber, policySchema, type Setting } from '../../src/policy/index.ts';
import { parseInfo, recordingBaseName, renderInfo } from '../../src/recording/index.ts';

const HOSTILE = [
  "+49 30'; DROP",
  "sip:+4930123'; DROP TABLE recordings;--@host",
  '=1+1',
  'tel:=1+1',
  '+4930\u202e123',
  'sip:+4930\u200b123@host',
  'sip:+4930%E2%80%AE123@host',
  'sip:+4930%0Acaller-number:%20+1@host',
  `+4930${'1'.repeat(500)}`,
  `tel:${'9'.repeat(MAX_NUMBER_LENGTH + 1)}`,
  '++4930123',
  '49+30123',
  '+',
  'sip:+4930123x@host',
  'sip:4930 123@host',
];

/** A short test name: long runs of one character are counted, invisible characters escaped. */
function label(v: string): string {
  return JSON.stringify(v.replace(/(.)\1{9,}/g, (run, c: string) => `<${run.length} x ${c}>`)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const T = Date.UTC(2026, 10, 23, 17, 46, 37, 123);

describe('number validation', () => {
  it.each([
    ['sip:+4930123@host;user=phone', '+4930123'],
    ['tel:+49-30-123;phone-context=example.com', '+4930123'],
    ['tel:+49.(30).123', '+4930123'],
    ['<sip:%2B4930123@host>', '+4930123'],
    ['4930123@host:5060', '4930123'],
    ['sip:*21#@pbx', '*21#'],
    [`tel:+${'1'.repeat(MAX_NUMBER_LENGTH - 1)}`, `+${'1'.repeat(MAX_NUMBER_LENGTH - 1)}`],
  ])('%s is the number %s', (raw, number) => {
    expect(numberFromAor(raw)).toBe(number);
    expect(phoneNumber(raw)).toBe(number);
  });

  it.each(HOSTILE.map((h) => [label(h), h]))('%s is not a number', (_name, raw) => {
    expect(numberFromAor(raw)).toBe('');
    expect(normalizeNumber(raw)).toBe('');
    expect(isFeatureCode(raw)).toBe(false);
    expect(phoneNumber(raw)).toBeUndefined();
  });

  it('keeps the raw AoR of a participant, empties its number, and escapes the AoR in _info.txt', () => {
    const aor = "sip:+49 30'; DROP\u202e@x";
    const m = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="a"><nameID aor="${aor}"><name>M</name></nameID></participant>
      <extensiondata><ribbon:originalTo xmlns:ribbon="urn:r">=1+1</ribbon:originalTo></extensiondata></recording>`);
    const p = m.participants[0];
    expect(p?.number).toBe('');
    expect(p?.aor).toBe(aor);
    expect(m.diversions).toEqual([]);
    expect(recordingBaseName(T, 'UTC', p?.number ?? '', '+4930123', 'abc')).toBe('20261123-174637-123_unknown_+4930123_abc');
    const party = { number: p?.number ?? '', name: p?.name ?? '', aor: p?.aor ?? '' };
    const text = renderInfo({
      id: 'r', baseName: 'b', callId: 'c', siprecSessionId: undefined, startMs: T, endMs: T, endReason: 'bye', interrupted: false,
      lastPacketAtMs: undefined, caller: party, callee: party, participants: [party], direction: 'unknown', setting: '', channels: 'mono',
      codec: '', streams: [], audioFiles: [], metadataFiles: [], dtmf: [], recorder: '', instanceId: '', timeZone: 'UTC',
    });
    expect(text).toContain("caller-aor: sip:+49 30'; DROP\\u202e@x\n");
    expect(parseInfo(text).get('caller-number')).toEqual(['']);
    expect(parseInfo(text).get('caller-aor')).toEqual([aor]);
  });
});

describe('the policy never matches a fake number', () => {
  const CTX = { countryCode: '49', areaCode: '30', internationalPrefix: '00', nationalPrefix: '0', maxExtensionDigits: 6 };
  function compiled(settings: Partial<Setting>[]): ReturnType<typeof compilePolicy> {
    return compilePolicy(policySchema.parse({
      users: [{ id: 'alice', name: 'Alice', extensions: ['201', 'alice'] }],
      internalPatterns: ['+49301234'],
      exceptionLists: [{ id: 'x', name: 'X', entries: [{ kind: 'regex', value: '.*', comment: 'everything' }] }],
      settings: settings.map((s, i) => ({ id: `s${i}`, name: `S${i}`, scope: { kind: 'all' }, ...s })),
    }), CTX);
  }

  it.each([
    "sip:+4930999'; DROP@host",
    '+4930999\u202e1',
    `+4930999${'1'.repeat(500)}`,
  ].map((h) => [label(h), h]))('a pattern +4930999 does not take %s', (_name, caller) => {
    const p = compiled([{ direction: 'in', scope: { kind: 'patterns', patterns: ['+4930999'] } }]);
    expect(decide({ callId: 'c', caller: '+4930999123', callee: '201', atMs: 0 }, p).record).toBe(true);
    const d = decide({ callId: 'c', caller, callee: '201', atMs: 0 }, p);
    expect(d).toMatchObject({ record: false, code: 'no-matching-setting', caller: '' });
  });

  it('a fake number is neither internal nor excepted, and a * in it is no feature code', () => {
    const p = compiled([{ exceptionListIds: ['x'] }]);
    // A real number is in the catch-all exception list; the fake one matches no list and is recorded.
    expect(decide({ callId: 'c', caller: '+4940111', callee: '201', atMs: 0 }, p)).toMatchObject({ record: false, code: 'exception' });
    expect(decide({ callId: 'c', caller: '+4940111\u202e', callee: '201', atMs: 0 }, p)).toMatchObject({ record: true, code: 'recorded', caller: '' });
    // The internal pattern +49301234 does not make a fake number internal.
    const d = decide({ callId: 'c', caller: "sip:+49301234*'x@host", callee: '+4940111', atMs: 0 }, compiled([{}]));
    expect(d).toMatchObject({ record: true, direction: 'external', caller: '' });
    expect(decide({ callId: 'c', caller: "sip:*x'@host", callee: '201', atMs: 0 }, p).code).not.toBe('feature-code');
  });

  it('still finds a directory user by SIP user name', () => {
    const d = decide({ callId: 'c', caller: '+4940111', callee: 'sip:Alice@pbx', atMs: 0 }, compiled([{ scope: { kind: 'allUsers' } }]));
    expect(d).toMatchObject({ record: true, direction: 'in' });
  });
});
