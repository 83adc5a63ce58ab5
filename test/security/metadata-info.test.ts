/**
 * `_info.txt` against hostile values (invariant 4): a label, name, number, call id or user agent from
 * the network can neither start a line, nor fake a key, nor fake a field inside a field line, nor
 * hide or reorder text with bidi, zero-width or line-separator characters; `parseInfo` and
 * `parseFields` give every value back exactly. File names keep such characters out by allowlist.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyStats } from '../../src/rtp/timeline.ts';
import {
  escapeValue, parseFields, parseInfo, recordingBaseName, renderInfo, safeSegment, type RecordingFacts,
} from '../../src/recording/index.ts';

const T = Date.UTC(2026, 10, 23, 17, 46, 37, 123);
const GOLDEN = join(import.meta.dirname, 'golden', 'hostile_info.txt');

/** Every character class the file must never carry raw: C0, DEL, C1 with NEL, LS/PS, bidi, zero-width, BOM. */
const INVISIBLE = [
  '\u0000', '\u0007', '\t', '\u001b', '\u007f', '\u0080', '\u0085', '\u009b', '\u00ad', '\u061c', '\u180e',
  '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e',
  '\u2060', '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff', '\ufff9', '\u{e0041}', '\ud800',
];

const HOSTILE_LABEL = '1 codec=FAKE';
const HOSTILE_VALUES = [
  HOSTILE_LABEL, 'x\nrecording-id: forged', 'a\r\nb', 'back\\slash \\n not a newline', '%20 stays %3D',
  'key=value name=other', ' leading and trailing ', '', '=', '\u202egnp.exe', 'Eve\u200b\u2060\ufeff', 'nel\u0085ls\u2028ps\u2029',
  'tags\u{e0041}\u{e0042}', 'lone\ud800surrogate', 'Jürgen Müller 李小龍 😀', ...INVISIBLE,
];

/** A test name that shows every non-ASCII or control character as an escape. */
function show(v: string): string {
  return JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function facts(over: Partial<RecordingFacts> = {}): RecordingFacts {
  return {
    id: 'r1', baseName: '20261123-174637-123_unknown_unknown_r1', callId: 'call\u202e1@host', siprecSessionId: 'sess\nion',
    startMs: T, endMs: T + 5000, endReason: 'bye', interrupted: false, lastPacketAtMs: undefined,
    caller: { number: '', name: 'Mallory\u202e\nrecording-id: forged', aor: "sip:+49 30'; DROP@x" },
    callee: { number: '+4930123', name: 'Bob name=Eve', aor: 'sip:+4930123@host' },
    participants: [
      { number: '', name: 'Mallory number=+4930999 aor=sip:x', aor: 'sip:=1+1@x' },
      { number: '+4930123', name: 'Bob', aor: 'sip:+4930123@host' },
    ],
    direction: 'in', setting: 'All calls', channels: 'separate', codec: 'PCMU',
    streams: [
      { role: 'caller', label: HOSTILE_LABEL, codec: 'PCMU', stats: { ...emptyStats(), expected: 50, received: 50 } },
      { role: 'callee', label: 'b\u2066=\u2069', codec: 'PC MU', stats: emptyStats() },
    ],
    audioFiles: ['a_caller.wav', 'a_callee.wav'], metadataFiles: [], dtmf: [],
    recorder: 'callseal 0.1.0 ua=Evil/1.0 codec=FAKE', instanceId: 'i1', timeZone: 'UTC', ...over,
  };
}

describe('_info.txt escaping', () => {
  it('writes a hostile label as one field: label=1 codec=FAKE cannot fake the codec (golden)', async () => {
    const text = renderInfo(facts());
    await expect(text).toMatchFileSnapshot(GOLDEN);
    const info = parseInfo(text);
    const stream = parseFields(info.get('stream-caller')?.[0] ?? '');
    expect([...stream]).toEqual([['label', HOSTILE_LABEL], ['codec', 'PCMU']]);
    expect(parseFields(info.get('stream-callee')?.[0] ?? '').get('codec')).toBe('PC MU');
    expect(parseFields(info.get('participant-1')?.[0] ?? '').get('number')).toBe('');
    expect(info.get('recording-id')).toEqual(['r1']);
  });

  it('keeps every line one key and every field one field', () => {
    const text = renderInfo(facts());
    const keys = text.trimEnd().split('\n').map((l) => l.slice(0, l.indexOf(': ')));
    expect(keys.filter((k) => k === 'recording-id')).toHaveLength(1);
    for (const k of keys) expect(k).toMatch(/^[a-z0-9-]+$/);
    const info = parseInfo(text);
    for (const key of ['stream-caller', 'stream-callee']) expect([...parseFields(info.get(key)?.[0] ?? '').keys()]).toEqual(['label', 'codec']);
    for (const key of ['participant-1', 'participant-2']) expect([...parseFields(info.get(key)?.[0] ?? '').keys()]).toEqual(['number', 'name', 'aor']);
  });

  it.each(INVISIBLE.map((c) => [`U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`, c]))('never writes %s unescaped', (_name, c) => {
    const text = renderInfo(facts({ caller: { number: '', name: `a${c}b`, aor: c }, callId: c }));
    expect(text.includes(c)).toBe(false);
    expect(parseInfo(text).get('caller-name')).toEqual([`a${c}b`]);
  });

  it.each(HOSTILE_VALUES.map((v) => [show(v), v]))('round-trips %s exactly, as a value and as a field', (_name, v) => {
    const info = parseInfo(renderInfo(facts({
      callId: v, caller: { number: '', name: v, aor: v },
      participants: [{ number: v, name: v, aor: v }],
      streams: [{ role: 'caller', label: v, codec: v, stats: emptyStats() }],
    })));
    expect(info.get('call-id')).toEqual([v]);
    expect(info.get('caller-name')).toEqual([v]);
    expect(info.get('caller-aor')).toEqual([v]);
    expect([...parseFields(info.get('participant-1')?.[0] ?? '')]).toEqual([['number', v], ['name', v], ['aor', v]]);
    expect([...parseFields(info.get('stream-caller')?.[0] ?? '')]).toEqual([['label', v], ['codec', v]]);
  });

  it('escapes C1 controls, NEL and bidi controls (they were written raw)', () => {
    expect(escapeValue('\u0085\u202e\u2066\u200b\ufeff')).toBe('\\u0085\\u202e\\u2066\\u200b\\ufeff');
  });
});

describe('file names', () => {
  it.each(HOSTILE_VALUES.map((v) => [show(v), v]))('keep %s to the allowlist', (_name, v) => {
    expect(safeSegment(v)).toMatch(/^[A-Za-z0-9+._-]{1,32}$/);
    expect(recordingBaseName(T, 'UTC', v, v, v)).toMatch(/^20261123-174637-123_[A-Za-z0-9+._-]+_[A-Za-z0-9+._-]+_[A-Za-z0-9+._-]+$/);
  });

  it('drops bidi and zero-width characters instead of keeping them', () => {
    expect(safeSegment('\u202egnp.exe')).toBe('gnp.exe');
    expect(safeSegment('+49\u200b30\u2066123')).toBe('+49_30_123');
  });
});
