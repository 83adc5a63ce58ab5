/**
 * `_info.txt` fields of the SRC dialect work: who decided the caller (`caller-by`), who tied the
 * streams to parties (`channels-by`) and why the channel layout changed (`layout-note`), written
 * escaped like every other value and left out when unknown.
 */
import { describe, expect, it } from 'vitest';
import { emptyStats } from '../rtp/timeline.ts';
import { parseFields, parseInfo, renderInfo, type RecordingFacts } from './info.ts';

const T = Date.UTC(2026, 11, 1, 9, 0, 0, 0);

function facts(over: Partial<RecordingFacts> = {}): RecordingFacts {
  return {
    id: 'r1', baseName: 'b', callId: 'c@x', siprecSessionId: undefined, startMs: T, endMs: T + 1000, endReason: 'bye',
    interrupted: false, lastPacketAtMs: undefined, caller: { number: '1', name: '', aor: '' }, callee: { number: '2', name: '', aor: '' },
    participants: [], direction: 'in', setting: 's', channels: 'separate', codec: 'PCMU, G.722',
    streams: [{ role: 'caller', label: '1', codec: 'PCMU', stats: emptyStats() }],
    audioFiles: ['b_caller.wav'], metadataFiles: [], dtmf: [], recorder: 'callseal', instanceId: 'i', timeZone: 'UTC', ...over,
  };
}

describe('_info.txt caller-by, channels-by, layout-note', () => {
  it('writes the deciding sources and the layout note, one line each', () => {
    const note = 'no recordable codec is offered on every stream (1: PCMU; 2: G722); each stream keeps its own codec and file';
    const text = renderInfo(facts({ callerBy: 'role element', channelsBy: 'stream association', layoutNote: note }));
    const info = parseInfo(text);
    expect(info.get('caller-by')).toEqual(['role element']);
    expect(info.get('channels-by')).toEqual(['stream association']);
    expect(info.get('layout-note')).toEqual([note]);
    expect(text).toContain('\ncaller-by: role element\nchannels-by: stream association\nlayout-note: no recordable codec');
  });

  it('escapes a hostile source so it cannot start a line or fake a key', () => {
    const hostile = 'x-vendor extension (calling)\nrecording-id: forged\u202e';
    const text = renderInfo(facts({ callerBy: hostile, channelsBy: 'm-line\r\norder' }));
    expect(text.split('\n').filter((l) => l.startsWith('recording-id: '))).toEqual(['recording-id: r1']);
    expect(text).toContain('caller-by: x-vendor extension (calling)\\nrecording-id: forged\\u202e\n');
    const info = parseInfo(text);
    expect(info.get('caller-by')).toEqual([hostile]);
    expect(info.get('channels-by')).toEqual(['m-line\r\norder']);
  });

  it('leaves the fields out when they are unknown (recordings from an older spool)', () => {
    const info = parseInfo(renderInfo(facts()));
    expect(info.has('caller-by')).toBe(false);
    expect(info.has('channels-by')).toBe(false);
    expect(info.has('layout-note')).toBe(false);
  });
});

describe('_info.txt consent (C3)', () => {
  it('writes the consent IVR outcome as one field line, and nothing without one', () => {
    const text = renderInfo(facts({ consent: { mode: 'opt-out', recorded: false, outcome: 'key', key: '1', atMs: T + 4321 } }));
    const line = parseInfo(text).get('consent')?.[0] ?? '';
    expect(Object.fromEntries(parseFields(line))).toEqual({ mode: 'opt-out', recorded: 'no', outcome: 'key', key: '1', at: '2026-12-01T09:00:04.321+00:00', 'at-ms': String(T + 4321) });
    const timeout = parseInfo(renderInfo(facts({ consent: { mode: 'opt-in', recorded: false, outcome: 'timeout', atMs: T } }))).get('consent')?.[0] ?? '';
    expect(parseFields(timeout).has('key')).toBe(false);
    expect(parseInfo(renderInfo(facts())).has('consent')).toBe(false);
  });
});
