/**
 * The Recorder of one call on a fake clock, with the real media engine (one worker, real RTP over
 * loopback), the real spool in a temporary home, and decisions made by the real policy.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../common/log.ts';
import { FakeClock } from '../common/fake-clock.ts';
import { CallsealError, InvalidStateError } from '../common/errors.ts';
import { MediaEngine } from '../media/index.ts';
import { compilePolicy, decide, DEFAULT_POLICY, type Decision, type Setting } from '../policy/index.ts';
import { freeUdpBlock } from '../../test/helpers/callseal.ts';
import { NOT_RECORDED_IDLE_MS, Recorder } from './recorder.ts';
import { Spool } from './spool.ts';
import type { CallParties, FinishedRecording, StreamSpec } from './index.ts';

const log = silentLogger();
const MEDIA_TIMEOUT_SEC = 30;
const CALLER = '+4930111';
const CALLEE = '+4969222';

/** A decision of the real policy: internal numbers start with +4930, so the call is outgoing and the caller is internal. */
function decision(setting: Partial<Setting> = {}): Decision {
  const base = DEFAULT_POLICY.settings[0];
  if (!base) throw new TypeError('the default policy has a setting');
  const policy = { ...DEFAULT_POLICY, internalPatterns: ['+4930'], settings: [{ ...base, stopCode: '*1', targetIds: ['archive'], ...setting }] };
  return decide({ callId: 'call-1', caller: CALLER, callee: CALLEE, atMs: Date.now() }, compilePolicy(policy));
}

const parties: CallParties = {
  caller: { number: CALLER, name: 'Alice', aor: `sip:${CALLER}@pbx` }, callee: { number: CALLEE, name: 'Bob', aor: `sip:${CALLEE}@pbx` },
  callerLabel: '1', calleeLabel: '2', participants: [], callerBy: 'role element', channelsBy: 'stream association', direction: undefined, siprecSessionId: 'sess-1',
};

let engine: MediaEngine;
let sender: dgram.Socket;
let senderPort: number;
let home: string;
let spool: Spool;
let clock: FakeClock;
const recorders: Recorder[] = [];

beforeAll(async () => {
  const base = await freeUdpBlock(15000, 26999, 40);
  engine = new MediaEngine({ host: '127.0.0.1', portMin: base, portMax: base + 39, workers: 1, log });
  await engine.start();
  sender = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => { sender.bind(0, '127.0.0.1', () => { resolve(); }); });
  senderPort = sender.address().port;
});

afterAll(async () => {
  sender.close();
  await engine.close();
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'callseal-recorder-'));
  spool = new Spool({ home, directoryTemplate: '$Y/$M/$D', timeZone: 'UTC', instanceId: 'recorder-test', recorder: 'callseal test', log });
  // The media worker stamps packets with the real clock: the fake one starts at the real time.
  clock = new FakeClock(0, Date.now());
});

afterEach(async () => {
  await Promise.allSettled(recorders.splice(0).map((r) => r.discard()));
  spool.close();
  rmSync(home, { recursive: true, force: true });
});

function recorder(d: Decision = decision()): Recorder {
  const r = new Recorder({
    callId: 'call-1', mode: 'siprec', media: engine, spool, clock, scheduler: clock, log, rtpHost: '127.0.0.1', reorderMs: 60, channels: 'stereo',
    mediaTimeoutSec: MEDIA_TIMEOUT_SEC, parties, decision: d, metadata: [Buffer.from('<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>')],
  });
  recorders.push(r);
  return r;
}

const stream = (label: string): StreamSpec => ({
  label, codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101, srtpCrypto: undefined, localCrypto: undefined, remote: { address: '127.0.0.1', port: senderPort },
});

/** Resolves with the next `recorded` event of `r`. */
const nextRecorded = (r: Recorder): Promise<FinishedRecording> => new Promise((resolve) => { r.on('recorded', resolve); });

/** Sends one RTP packet (PCMA, RFC 3550 section 5.1 header) to `port`. */
async function sendRtp(port: number, seq: number): Promise<void> {
  const packet = Buffer.alloc(12 + 160, 0xd5);
  packet[0] = 0x80;
  packet[1] = 8;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(seq * 160, 4);
  packet.writeUInt32BE(0x1234, 8);
  await new Promise<void>((resolve, reject) => { sender.send(packet, port, '127.0.0.1', (err) => { if (err) reject(err); else resolve(); }); });
}

describe('media timeout', () => {
  it('fires at the configured time and not before', async () => {
    const r = recorder();
    await r.start([stream('1'), stream('2')]);
    r.confirmAnswer();
    const fired: number[] = [];
    r.on('timeout', (t) => fired.push(t.idleMs));
    clock.advance(MEDIA_TIMEOUT_SEC * 1000 - 1);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([MEDIA_TIMEOUT_SEC * 1000]);
    clock.advance(MEDIA_TIMEOUT_SEC * 1000);
    expect(fired).toHaveLength(1);
  });

  it('does not run before the call is answered', async () => {
    const r = recorder();
    await r.start([stream('1')]);
    const fired: number[] = [];
    r.on('timeout', (t) => fired.push(t.idleMs));
    clock.advance(10 * MEDIA_TIMEOUT_SEC * 1000);
    expect(fired).toEqual([]);
  });

  it('SIP activity postpones it by the whole limit', async () => {
    const r = recorder();
    await r.start([stream('1'), stream('2')]);
    r.confirmAnswer();
    const fired: number[] = [];
    r.on('timeout', (t) => fired.push(t.idleMs));
    clock.advance(20_000);
    r.noteSipActivity();
    clock.advance(MEDIA_TIMEOUT_SEC * 1000 - 1);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([MEDIA_TIMEOUT_SEC * 1000]);
  });

  it('RTP on a leg postpones it to the limit after the last packet', async () => {
    const r = recorder();
    const [leg] = await r.start([stream('1'), stream('2')]);
    if (!leg) throw new TypeError('the caller leg opened');
    r.confirmAnswer();
    const fired: number[] = [];
    r.on('timeout', (t) => fired.push(t.idleMs));
    const startedAt = clock.nowMs();
    for (let seq = 1; seq <= 3; seq++) await sendRtp(leg.port, seq);
    // The worker reports activity once a second; wait (real time) for its report.
    const engineLeg = `${r.id}/leg-1`;
    for (let i = 0; i < 100 && engine.activity(engineLeg)?.received !== 3; i++) await new Promise((res) => setTimeout(res, 50));
    const lastPacketAtMs = engine.activity(engineLeg)?.lastPacketAtMs ?? 0;
    expect(lastPacketAtMs).toBeGreaterThan(startedAt);
    // The first deadline counts from the start; the packet moved it.
    clock.advance(MEDIA_TIMEOUT_SEC * 1000);
    expect(fired).toEqual([]);
    clock.advance(lastPacketAtMs + MEDIA_TIMEOUT_SEC * 1000 - clock.nowMs() - 1);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([MEDIA_TIMEOUT_SEC * 1000]);
    expect(r.live()).toMatchObject({ streams: 2, packets: 3, lost: 0 });
  });

  it('a call that is not recorded ends only after the long idle limit', () => {
    const r = recorder(decision({ enabled: false }));
    expect(r.decision.record).toBe(false);
    r.confirmAnswer();
    const fired: number[] = [];
    r.on('timeout', (t) => fired.push(t.idleMs));
    clock.advance(NOT_RECORDED_IDLE_MS - 1);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([NOT_RECORDED_IDLE_MS]);
  });
});

describe('DTMF stop (B6)', () => {
  it('stops on the internal party\'s code within 3 s, seals what was recorded, and never restarts', async () => {
    const r = recorder();
    expect(r.decision).toMatchObject({ stopCode: '*1', internalParty: 'caller', direction: 'out' });
    await r.start([stream('1'), stream('2')]);
    r.confirmAnswer();
    const firstId = r.id;
    const stops: { code: string; role: string }[] = [];
    r.on('stoppedByDtmf', (e) => stops.push(e));
    const recorded = nextRecorded(r);
    const t0 = clock.nowMs();
    // The callee is not the internal party: its *1 does nothing.
    r.dtmf(`${firstId}/leg-2`, '*', t0);
    r.dtmf(`${firstId}/leg-2`, '1', t0 + 100);
    // The caller's digits more than 3 s apart are two sequences.
    r.dtmf(`${firstId}/leg-1`, '*', t0 + 1000);
    r.dtmf(`${firstId}/leg-1`, '1', t0 + 4001);
    expect(stops).toEqual([]);
    expect(r.recording).toBe(true);
    r.dtmf(`${firstId}/leg-1`, '*', t0 + 5000);
    r.dtmf(`${firstId}/leg-1`, '1', t0 + 8000);
    expect(stops).toMatchObject([{ code: '*1', role: 'caller' }]);
    const finished = await recorded;
    expect(finished.facts.id).toBe(firstId);
    expect(finished.facts.endReason).toMatch(/^stopped by DTMF \*1 from the caller at /);
    expect(finished.facts.targetIds).toEqual(['archive']);
    expect(r.recording).toBe(false);
    expect(r.stopped).toBe(true);
    // A start queued behind the stop is refused, and finds a new segment waiting.
    await expect(r.start([stream('1')])).rejects.toMatchObject({ code: 'CS_RECORDING_STATE' });
    expect(r.id).not.toBe(firstId);
  });

  it('ignores digits when the setting has no stop code', async () => {
    const r = recorder(decision({ stopCode: '' }));
    await r.start([stream('1')]);
    r.dtmf(`${r.id}/leg-1`, '*', 1);
    r.dtmf(`${r.id}/leg-1`, '1', 2);
    expect(r.recording).toBe(true);
  });
});

describe('close and discard', () => {
  it('close is idempotent: two calls, one finish, one recorded event; later operations are refused', async () => {
    const r = recorder();
    const before = engine.ports.inUse;
    await r.start([stream('1'), stream('2')]);
    expect(engine.ports.inUse).toBe(before + 2);
    r.confirmAnswer();
    let events = 0;
    r.on('recorded', () => { events++; });
    const recorded = nextRecorded(r);
    clock.advance(2000);
    const first = r.close('bye');
    const second = r.close('shutdown');
    expect(second).toBe(first);
    await Promise.all([first, second]);
    const finished = await recorded;
    expect(events).toBe(1);
    expect(finished.facts).toMatchObject({ endReason: 'bye', endMs: clock.nowMs(), channels: 'stereo', setting: 'Record all calls', siprecSessionId: 'sess-1' });
    expect(finished.files.every((f) => existsSync(join(finished.dir, f)))).toBe(true);
    expect(existsSync(join(spool.spoolDir(finished.facts.id), 'finished.json'))).toBe(true);
    expect(engine.ports.inUse).toBe(before);
    expect(engine.openLegs).toBe(0);
    await expect(r.addMetadata(Buffer.from('<x/>'))).rejects.toThrow(InvalidStateError);
    // No timer is left armed to end a closed call.
    expect(clock.pending).toBe(0);
  });

  it('H8: started carries the mode; ended comes once, after the last recorded, and only for a call that recorded', async () => {
    const r = recorder();
    const seen: string[] = [];
    r.on('started', (l) => seen.push(`started:${l.mode}`));
    r.on('recorded', () => seen.push('recorded'));
    r.on('ended', (e) => seen.push(`ended:${e.mode}:${e.reason}:${String(e.endMs === clock.nowMs())}`));
    await r.start([stream('1'), stream('2')]);
    r.confirmAnswer();
    expect(r.live().mode).toBe('siprec');
    await Promise.all([r.close('bye'), r.close('shutdown')]);
    expect(seen).toEqual(['started:siprec', 'recorded', 'ended:siprec:bye:true']);

    const unrecorded = recorder(decision({ enabled: false }));
    let ended = 0;
    unrecorded.on('ended', () => { ended++; });
    unrecorded.confirmAnswer();
    await unrecorded.close('bye');
    expect(ended).toBe(0);
  });

  it('discard closes the legs, returns the ports and removes the spool; nothing is recorded', async () => {
    const r = recorder();
    const before = engine.ports.inUse;
    const starting = r.start([stream('1'), stream('2')]);
    // A CANCEL can arrive while the legs are opening: the discard waits for them.
    const discarded = r.discard();
    expect(r.discard()).toBe(discarded);
    expect(r.close('bye')).toBe(discarded);
    let events = 0;
    r.on('recorded', () => { events++; });
    await starting;
    await discarded;
    expect(events).toBe(0);
    expect(existsSync(spool.spoolDir(r.id))).toBe(false);
    expect(engine.ports.inUse).toBe(before);
    expect(engine.openLegs).toBe(0);
  });
});

describe('segments', () => {
  it('a stop and a later start make a new recording with a new id, each sealed on its own', async () => {
    const r = recorder();
    await r.start([stream('1'), stream('2')]);
    r.confirmAnswer();
    const firstId = r.id;
    const started: string[] = [];
    r.on('started', (l) => started.push(l.id));
    const firstDone = nextRecorded(r);
    clock.advance(1000);
    await r.stop('no longer in scope');
    expect((await firstDone).facts).toMatchObject({ id: firstId, endReason: 'no longer in scope' });
    expect(r.recording).toBe(false);
    clock.advance(1000);
    const restartMs = clock.nowMs();
    const legs = await r.start([stream('1'), stream('2')]);
    expect(legs.every((l) => l !== undefined)).toBe(true);
    expect(r.id).not.toBe(firstId);
    expect(started).toEqual([r.id]);
    const secondDone = nextRecorded(r);
    clock.advance(1000);
    await r.close('bye');
    const second = await secondDone;
    expect(second.facts).toMatchObject({ id: r.id, startMs: restartMs, endReason: 'bye' });
    // The metadata known when the segment started is kept with it.
    expect(second.facts.metadataFiles).toHaveLength(1);
  });

  it('B1 caller only: only the caller\'s stream gets a leg', async () => {
    const r = recorder(decision({ channels: 'caller' }));
    const legs = await r.start([stream('1'), stream('2')]);
    expect(legs.map((l) => l?.label)).toEqual(['1', undefined]);
    expect(r.legs().map((l) => l.label)).toEqual(['1']);
  });

  it('a codec change closes the leg; a new leg of the label gets its own port and file', async () => {
    const r = recorder();
    await r.start([stream('1')]);
    await r.closeLeg('1');
    const again = await r.addLeg({ ...stream('1'), codec: 'PCMU', payloadType: 0 });
    expect(again).toMatchObject({ label: '1', codec: 'PCMU' });
    const done = nextRecorded(r);
    await r.close('bye');
    expect((await done).facts.audioFiles).toHaveLength(2);
  });
});

describe('failures reported for the signalling to end the call', () => {
  it('a worker failure before the answer fails the answer; after it, asks for an end with cause 503', async () => {
    const early = recorder();
    await early.start([stream('1')]);
    early.workerFailed('exit code 1');
    expect(() => { early.confirmAnswer(); }).toThrow(CallsealError);
    const late = recorder();
    await late.start([stream('1')]);
    late.confirmAnswer();
    const asks: { kind: string; sipCause: number }[] = [];
    late.on('unrecordable', (u) => asks.push(u));
    late.workerFailed('exit code 1');
    expect(asks).toEqual([{ kind: 'worker-failed', reason: 'media-worker-failed: exit code 1', sipCause: 503 }]);
  });

  it('a full disk on a leg asks for an end naming it', async () => {
    const r = recorder();
    await r.start([stream('1')]);
    r.confirmAnswer();
    const asks: { reason: string }[] = [];
    r.on('unrecordable', (u) => asks.push(u));
    r.legFailed('someone-else/leg-1', new CallsealError('CS_RECORDING_DISK_FULL', 'ENOSPC'));
    expect(asks).toEqual([]);
    r.legFailed(`${r.id}/leg-1`, new CallsealError('CS_RECORDING_DISK_FULL', 'ENOSPC'));
    expect(asks).toMatchObject([{ kind: 'write-error', reason: 'disk-full: ENOSPC', sipCause: 200 }]);
  });
});
