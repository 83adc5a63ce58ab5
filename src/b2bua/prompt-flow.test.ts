import { describe, expect, it } from 'vitest';
import { FakeClock } from '../common/fake-clock.ts';
import { silentLogger } from '../common/log.ts';
import { CallsealError } from '../common/errors.ts';
import { PromptFlow, hasPrompt, type PromptPlan, type PromptResult } from './prompt-flow.ts';

/** Lets the flow's promise chains run. */
const flush = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

/** A relay that plays 20 ms per frame on the fake clock, and a library of announcements of `frames` frames each. */
function setup(plan: PromptPlan, frames: Record<string, number> = { notice: 150, yes: 50, no: 50 }) {
  const clock = new FakeClock();
  const played: { id: number; frames: number; atMs: number }[] = [];
  const flow = new PromptFlow({
    clock, scheduler: clock, log: silentLogger(), relayId: 'r1', callId: 'c1', plan,
    codec: { codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101 },
    library: { payloads: (id) => (frames[id] === undefined ? Promise.reject(new CallsealError('CS_ANNOUNCE_UNKNOWN', `no ${id}`)) : Promise.resolve(Array.from({ length: frames[id] ?? 0 }, () => Buffer.alloc(160, 0xd5)))) },
    media: {
      playRelay: (_relay, toSide, payloads, pt, ptime) => {
        expect([toSide, pt, ptime]).toEqual(['a', 8, 20]);
        played.push({ id: played.length, frames: payloads.length, atMs: clock.monoMs() });
        return new Promise((resolve) => { clock.schedule(payloads.length * ptime, resolve); });
      },
    },
  });
  let result: PromptResult | undefined;
  void flow.run().then((r) => { result = r; });
  return { clock, flow, played, get result() { return result; } };
}

async function advance(clock: FakeClock, ms: number): Promise<void> {
  await flush();
  clock.advance(ms);
  await flush();
}

const OPT_IN: PromptPlan = { announcementId: 'notice', consent: { mode: 'opt-in', key: '1', timeoutMs: 5000 } };

describe('PromptFlow', () => {
  it('plays the announcement, then waits 5 s: opt-in with the key is recorded, the time of the key press on the wall clock', async () => {
    const t = setup(OPT_IN);
    await advance(t.clock, 3000);
    expect(t.played).toHaveLength(1);
    expect(t.result).toBeUndefined();
    await advance(t.clock, 1000); // 2 s into the window
    t.flow.dtmf('1');
    await flush();
    expect(t.result?.aborted).toBe(false);
    expect(t.result?.consent).toEqual({ mode: 'opt-in', recorded: true, outcome: 'key', key: '1', atMs: t.clock.nowMs() });
    expect(t.result?.announcedAtMs).toBe(t.clock.nowMs() - 1000);
    expect(t.clock.pending).toBe(0);
  });

  it('opt-in without a key is not recorded, decided at the deadline', async () => {
    const t = setup(OPT_IN);
    await advance(t.clock, 3000);
    const end = t.clock.nowMs();
    t.flow.dtmf('2'); // another key is ignored
    await advance(t.clock, 4999);
    expect(t.result).toBeUndefined();
    await advance(t.clock, 1);
    expect(t.result?.consent).toEqual({ mode: 'opt-in', recorded: false, outcome: 'timeout', atMs: end + 5000 });
  });

  it('opt-out with the key is not recorded and plays the not-recorded confirmation first', async () => {
    const t = setup({ announcementId: 'notice', consent: { mode: 'opt-out', key: '#', timeoutMs: 5000, confirmRecorded: 'yes', confirmNotRecorded: 'no' } });
    await advance(t.clock, 3000);
    t.flow.dtmf('#');
    await flush();
    await flush();
    expect(t.played.map((p) => p.frames)).toEqual([150, 50]);
    expect(t.result).toBeUndefined();
    await advance(t.clock, 1000);
    expect(t.result?.consent).toMatchObject({ recorded: false, outcome: 'key', key: '#' });
  });

  it('an announcement without IVR ends when it is played; a damaged one is skipped', async () => {
    const t = setup({ announcementId: 'notice' });
    await advance(t.clock, 2999);
    expect(t.result).toBeUndefined();
    await advance(t.clock, 1);
    expect(t.result).toEqual({ aborted: false, announcedAtMs: t.clock.nowMs() });
    const d = setup({ announcementId: 'gone' });
    await advance(d.clock, 0);
    expect(d.result?.aborted).toBe(false);
    expect(d.played).toHaveLength(0);
  });

  it('the call ending during the announcement aborts it without a decision and leaves no timer', async () => {
    const t = setup(OPT_IN);
    await advance(t.clock, 1000);
    t.flow.abort();
    await flush();
    expect(t.result).toEqual({ aborted: true });
    await advance(t.clock, 10_000);
    expect(t.result).toEqual({ aborted: true });
    expect(t.clock.pending).toBe(0);
  });

  it('knows which decisions have something to play', () => {
    expect(hasPrompt({})).toBe(false);
    expect(hasPrompt({ consent: { mode: 'none', key: '1', timeoutMs: 5000 } })).toBe(false);
    expect(hasPrompt({ consent: { mode: 'opt-out', key: '1', timeoutMs: 5000 } })).toBe(true);
    expect(hasPrompt({ announcementId: 'a' })).toBe(true);
  });
});
