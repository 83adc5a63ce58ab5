/**
 * The SIP-thread bookkeeping of relays, driven with the worker's events by hand: ports, idempotent
 * close, prompts resolved by the close, worker failure and shutdown.
 */
import { describe, expect, it } from 'vitest';
import { RelayBook } from './relay-engine.ts';
import { emptyRelayCounts } from './relay-core.ts';
import { PortPool } from '../rtp/index.ts';
import { CallsealError, InvalidStateError } from '../common/errors.ts';
import type { WorkerCommand } from './protocol.ts';

interface Slot { readonly index: number; legs: number; alive: boolean }

function book(): { book: RelayBook<Slot>; sent: WorkerCommand[]; ports: PortPool; slot: Slot; digits: string[] } {
  const sent: WorkerCommand[] = [];
  const digits: string[] = [];
  const ports = new PortPool(20000, 20019);
  const b = new RelayBook<Slot>({ host: '127.0.0.1', ports, sourceCheck: 'sdp', post: (_s, cmd) => { sent.push(cmd); }, dtmf: (id, side, d) => { digits.push(`${id}${side}${d}`); } });
  return { book: b, sent, ports, slot: { index: 0, legs: 0, alive: true }, digits };
}

const counts = (forwarded: number): { a: ReturnType<typeof emptyRelayCounts>; b: ReturnType<typeof emptyRelayCounts> } => ({ a: { ...emptyRelayCounts(), forwarded }, b: emptyRelayCounts() });

describe('RelayBook', () => {
  it('opens with two port pairs, closes once however often asked, and frees the ports', async () => {
    const { book: b, sent, ports, slot } = book();
    const opening = b.open(slot, { relayId: 'r', a: {}, b: {} });
    expect(sent[0]).toMatchObject({ op: 'relayOpen', binding: { relayId: 'r', host: '127.0.0.1', aPort: 20000, bPort: 20002, sourceCheck: 'sdp' } });
    b.onEvent({ op: 'relayOpened', relayId: 'r' });
    expect(await opening).toEqual({ host: '127.0.0.1', aPort: 20000, bPort: 20002 });
    expect(ports.inUse).toBe(2);
    expect(slot.legs).toBe(2);
    const first = b.close('r');
    const second = b.close('r');
    expect(sent.filter((c) => c.op === 'relayClose')).toHaveLength(1);
    b.onEvent({ op: 'relayClosed', relayId: 'r', result: counts(7) });
    expect(await first).toEqual(counts(7));
    expect(await second).toEqual(counts(7));
    expect(await b.close('r')).toEqual(counts(7));
    expect(ports.inUse).toBe(0);
    expect(slot.legs).toBe(0);
    await expect(b.open(slot, { relayId: 'r', a: {}, b: {} })).rejects.toThrow(InvalidStateError);
    await expect(b.close('other')).rejects.toThrow(/not open/);
  });

  it('a failed open frees its ports and rejects with CS_RELAY_OPEN', async () => {
    const { book: b, ports, slot } = book();
    const opening = b.open(slot, { relayId: 'r', a: {}, b: {} });
    b.onEvent({ op: 'relayOpened', relayId: 'r', error: 'cannot bind' });
    await expect(opening).rejects.toMatchObject({ code: 'CS_RELAY_OPEN' });
    expect(ports.inUse).toBe(0);
  });

  it('prompts resolve when played or when the relay closes; digits and activity pass through', async () => {
    const { book: b, sent, slot, digits } = book();
    const opening = b.open(slot, { relayId: 'r', a: {}, b: {} });
    b.onEvent({ op: 'relayOpened', relayId: 'r' });
    await opening;
    const one = b.play('r', 'a', [Buffer.alloc(160)], 8, 20, 8000);
    const two = b.play('r', 'b', [Buffer.alloc(160)], 8, 20, 8000);
    const plays = sent.filter((c) => c.op === 'relayPlay');
    b.onEvent({ op: 'relayPlayed', relayId: 'r', playId: plays[0]?.op === 'relayPlay' ? plays[0].playId : 0, sent: 1 });
    await one;
    b.onEvent({ op: 'relayDtmf', relayId: 'r', fromSide: 'a', digit: '*', atMs: 1 });
    b.onEvent({ op: 'relayActivity', relays: [['r', counts(3)]] });
    expect(b.activity('r')).toEqual(counts(3));
    expect(digits).toEqual(['ra*']);
    void b.close('r');
    b.onEvent({ op: 'relayClosed', relayId: 'r', result: counts(4) });
    await two;
    await b.play('r', 'a', [], 8, 20, 8000);
  });

  it('a dead worker takes its relays: opening ones reject, open ones close with the last counts and the reason', async () => {
    const { book: b, ports, slot } = book();
    const open = b.open(slot, { relayId: 'r1', a: {}, b: {} });
    b.onEvent({ op: 'relayOpened', relayId: 'r1' });
    await open;
    b.onEvent({ op: 'relayActivity', relays: [['r1', counts(9)]] });
    const opening = b.open(slot, { relayId: 'r2', a: {}, b: {} });
    expect(b.workerFailed(slot, 'exit code 1')).toEqual(['r1', 'r2']);
    await expect(opening).rejects.toBeInstanceOf(CallsealError);
    expect(await b.close('r1')).toEqual({ ...counts(9), workerFailed: 'exit code 1' });
    expect(ports.inUse).toBe(0);
    await expect(b.open({ index: 1, legs: 0, alive: false }, { relayId: 'r3', a: {}, b: {} })).rejects.toMatchObject({ code: 'CS_MEDIA_WORKER_FAILED' });
  });

  it('a close while the sockets are being bound waits for the open, and prompts travel as one compact buffer', async () => {
    const { book: b, sent, slot } = book();
    const opening = b.open(slot, { relayId: 'r', a: {}, b: {} });
    const closing = b.close('r');
    expect(sent.some((c) => c.op === 'relayClose')).toBe(false);
    b.onEvent({ op: 'relayOpened', relayId: 'r' });
    await opening;
    await Promise.resolve();
    await Promise.resolve();
    expect(sent.some((c) => c.op === 'relayClose')).toBe(true);
    b.onEvent({ op: 'relayClosed', relayId: 'r', result: counts(0) });
    expect(await closing).toEqual(counts(0));
    const big = Buffer.alloc(16000, 1);
    const { book: b2, sent: sent2, slot: slot2 } = book();
    const o = b2.open(slot2, { relayId: 'p', a: {}, b: {} });
    b2.onEvent({ op: 'relayOpened', relayId: 'p' });
    await o;
    void b2.play('p', 'a', [big.subarray(0, 160), big.subarray(160, 320)], 8, 20, 8000);
    const play = sent2.find((c) => c.op === 'relayPlay');
    expect(play?.op === 'relayPlay' ? [play.frames.buffer.byteLength, play.frameLengths] : undefined).toEqual([320, [160, 160]]);
  });

  it('shutdown answers everyone waiting', async () => {
    const { book: b, slot } = book();
    const opening = b.open(slot, { relayId: 'r', a: {}, b: {} });
    b.shutdown();
    await expect(opening).rejects.toMatchObject({ code: 'CS_STATE_CLOSED' });
    await expect(b.open(undefined, { relayId: 'x', a: {}, b: {} })).rejects.toMatchObject({ code: 'CS_STATE_CLOSED' });
  });
});
