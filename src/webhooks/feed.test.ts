import { describe, expect, it } from 'vitest';
import type { FinishedRecording, LiveRecording } from '../recording/index.ts';
import { LiveEventFeed } from './feed.ts';
import type { WebhookEventKind } from './events.ts';

const party = { number: '+4930123456', name: 'Alice', aor: 'sip:+4930123456@pbx' };
const callee = { number: '+4989765432', name: 'Bob', aor: 'sip:+4989765432@trunk' };

function live(id: string, mode: 'siprec' | 'inline'): LiveRecording {
  return { id, callId: `call-${id}`, mode, startMs: 1000, caller: party, callee, setting: 'All', streams: 2, packets: 0, lost: 0 };
}

function finished(id: string): FinishedRecording {
  // Only the facts the feed reads; the rest of a finished recording is the spool's.
  const facts = { id, callId: `call-${id}`, baseName: `base-${id}`, startMs: 1000, endMs: 5000, endReason: 'stopped by DTMF *1 from the caller', interrupted: false, caller: party, callee, direction: 'in', setting: 'All' };
  return { facts, dir: '/x', relDir: 'x', files: [], infoFile: 'x_info.txt' } as unknown as FinishedRecording;
}

describe('LiveEventFeed', () => {
  it('carries each recording\'s mode from its start to its stop and seal, and forgets it after the seal', () => {
    const out: [WebhookEventKind, Readonly<Record<string, unknown>>][] = [];
    const feed = new LiveEventFeed({ publish: (kind, data) => { out.push([kind, data]); } });
    feed.started(live('r1', 'inline'));
    feed.started(live('r2', 'siprec'));
    feed.stopped(finished('r1'));
    feed.ended({ callId: 'call-r1', mode: 'inline', reason: 'bye', endMs: 6000 });
    feed.sealed({ finished: finished('r1'), chain: { epoch: 1, sequence: 7 } });
    feed.sealed({ finished: finished('r1'), chain: { epoch: 1, sequence: 7 } });
    expect(out.map(([k, d]) => [k, d['mode']])).toEqual([
      ['recording.started', 'inline'], ['recording.started', 'siprec'], ['recording.stopped', 'inline'], ['call.ended', 'inline'],
      ['recording.sealed', 'inline'], ['recording.sealed', undefined],
    ]);
    expect(out[0]?.[1]).toEqual({ recordingId: 'r1', callId: 'call-r1', mode: 'inline', startMs: 1000, caller: { number: '+4930123456', name: 'Alice' }, callee: { number: '+4989765432', name: 'Bob' }, setting: 'All' });
    expect(out[2]?.[1]).toMatchObject({ reason: 'stopped by DTMF *1 from the caller', endMs: 5000, direction: 'in' });
    expect(out[4]?.[1]).toMatchObject({ baseName: 'base-r1', chain: { epoch: 1, sequence: 7 }, interrupted: false });
  });
});
