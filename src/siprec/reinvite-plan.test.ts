/**
 * The stream plan of re-INVITEs and UPDATEs, from offers as SRCs send them (SIPREC-INTEROP.md,
 * docs/siprec.md quirks) parsed by the real `parseOffer`, against the open legs of a recording.
 */
import { describe, expect, it } from 'vitest';
import type { RecorderLeg } from '../recording/index.ts';
import { planReinvite, type StreamPlan } from './reinvite-plan.ts';
import { parseOffer } from './sdp.ts';

const sdp = (media: string, session = 'c=IN IP4 192.0.2.10\r\n'): Buffer =>
  Buffer.from(`v=0\r\no=src 1 2 IN IP4 192.0.2.10\r\ns=-\r\n${session}t=0 0\r\n${media}`);

/** Parses a re-offer the way the server does: each open leg's codec is kept while it is offered. */
const reoffer = (legs: readonly RecorderLeg[], media: string, session?: string): ReturnType<typeof parseOffer> =>
  parseOffer(sdp(media, session), { stereo: true, keep: new Map(legs.map((l) => [l.label, l.codec])) });

const leg = (label: string, codec: string, payloadType: number, port: number, crypto?: string): RecorderLeg =>
  ({ label, codec, payloadType, crypto, localCrypto: crypto === undefined ? undefined : `1 AES_CM_128_HMAC_SHA1_80 inline:local-${label}`, port });

const all = (): boolean => true;
const actions = (streams: readonly StreamPlan[]): string[] => streams.map((s) => `${s.offer.label}:${s.action}`);

describe('planReinvite', () => {
  it('keeps both legs of an unchanged re-offer, each with its payload type and the SDP source', () => {
    const legs = [leg('1', 'PCMA', 8, 20000), leg('2', 'PCMA', 8, 20002)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\nm=audio 4002 RTP/AVP 8\r\na=label:2\r\n'), all);
    expect(actions(plan.streams)).toEqual(['1:update', '2:update']);
    expect(plan.streams[0]).toMatchObject({ held: false, change: { audioPayloadType: 8, dtmfPayloadType: 101, remoteAddress: '192.0.2.10', remotePort: 4000 } });
    expect(plan.streams[1]).toMatchObject({ change: { audioPayloadType: 8, remoteAddress: '192.0.2.10', remotePort: 4002 } });
    expect(plan.removed).toEqual([]);
  });

  it('follows a new SRC media port in the same leg and file (Metaswitch)', () => {
    const legs = [leg('1', 'PCMU', 0, 20000)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4010 RTP/AVP 18 0 8\r\na=label:1\r\n'), all);
    expect(plan.streams[0]).toMatchObject({ action: 'update', leg: { port: 20000 }, change: { audioPayloadType: 0, remotePort: 4010 } });
  });

  it('keeps a payload type renumbered for the same codec in the same file', () => {
    const legs = [leg('1', 'G722', 96, 20000)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 98\r\na=rtpmap:98 G722/8000\r\na=label:1\r\n'), all);
    expect(plan.streams[0]).toMatchObject({ action: 'update', change: { audioPayloadType: 98 } });
  });

  it('Metaswitch hold: c=0.0.0.0 offering 0 8 after G.729 keeps the G.729 file and its payload type', () => {
    const legs = [leg('1', 'G729', 18, 20000)];
    const offer = reoffer(legs, 'm=audio 4000 RTP/AVP 0 8\r\nc=IN IP4 0.0.0.0\r\na=label:1\r\n');
    expect(offer[0]?.paused).toBe(true);
    expect(offer[0]?.codec?.name).toBe('PCMU');
    const plan = planReinvite(legs, offer, all);
    expect(plan.streams[0]).toMatchObject({ action: 'update', held: true });
    const s = plan.streams[0];
    if (s?.action !== 'update') throw new TypeError('expected an update');
    // The file is written in G.729: no other codec's payload type may reach it.
    expect(s.change.audioPayloadType).toBeUndefined();
  });

  it('Metaswitch resume: G.729 offered again after the hold goes on in the same leg', () => {
    const legs = [leg('1', 'G729', 18, 20000)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 18 0 8\r\na=rtpmap:18 G729/8000\r\na=label:1\r\n'), all);
    expect(plan.streams[0]).toMatchObject({ action: 'update', held: false, change: { audioPayloadType: 18 } });
  });

  it('a codec change without hold closes the file and reopens the stream in a new one (B2)', () => {
    const legs = [leg('1', 'PCMA', 8, 20000), leg('2', 'PCMA', 8, 20002)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 0\r\na=label:1\r\nm=audio 4002 RTP/AVP 8\r\na=label:2\r\n'), all);
    expect(actions(plan.streams)).toEqual(['1:reopen', '2:update']);
    expect(plan.streams[0]).toMatchObject({ leg: { codec: 'PCMA' }, offer: { codec: { name: 'PCMU' } } });
  });

  it('a hold offering only the leg\'s own codec is an update, not a hold in another codec', () => {
    const legs = [leg('1', 'PCMA', 8, 20000)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 8\r\na=inactive\r\na=label:1\r\n'), all);
    expect(plan.streams[0]).toMatchObject({ action: 'update', held: false, change: { audioPayloadType: 8 } });
  });

  it('a stream refused in the re-offer (port 0, or nothing recordable) closes its leg', () => {
    const legs = [leg('1', 'PCMA', 8, 20000), leg('2', 'PCMA', 8, 20002)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 0 RTP/AVP 8\r\na=label:1\r\nm=audio 4002 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\na=label:2\r\n'), all);
    expect(actions(plan.streams)).toEqual(['1:close', '2:close']);
  });

  it('a label no longer offered is removed; a new label is added', () => {
    const legs = [leg('1', 'PCMA', 8, 20000), leg('2', 'PCMA', 8, 20002)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 8\r\na=label:1\r\nm=audio 4004 RTP/AVP 8\r\na=label:3\r\n'), all);
    expect(actions(plan.streams)).toEqual(['1:update', '3:add']);
    expect(plan.removed.map((l) => l.label)).toEqual(['2']);
  });

  it('an offered stream that cannot be recorded and has no leg is refused', () => {
    const plan = planReinvite([], reoffer([], 'm=video 4000 RTP/AVP 31\r\na=label:v\r\nm=audio 4002 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\na=label:2\r\n'), all);
    expect(plan.streams).toMatchObject([{ action: 'refuse', why: 'not-recordable' }, { action: 'refuse', why: 'not-recordable' }]);
  });

  it('B1 caller only: the callee\'s stream is refused, and not added when the SRC offers it again', () => {
    const legs = [leg('1', 'PCMA', 8, 20000)];
    const callerOnly = (label: string): boolean => label === '1';
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 8\r\na=label:1\r\nm=audio 4002 RTP/AVP 8\r\na=label:2\r\n'), callerOnly);
    expect(actions(plan.streams)).toEqual(['1:update', '2:refuse']);
    expect(plan.streams[1]).toMatchObject({ why: 'party-not-recorded' });
  });

  it('B1 callee only: a codec change of the recorded party reopens it; the other party stays refused', () => {
    const legs = [leg('2', 'PCMA', 8, 20002)];
    const calleeOnly = (label: string): boolean => label === '2';
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 0\r\na=label:1\r\nm=audio 4002 RTP/AVP 0\r\na=label:2\r\n'), calleeOnly);
    expect(actions(plan.streams)).toEqual(['1:refuse', '2:reopen']);
  });

  it('a codec change of a party no longer recorded closes its leg without reopening it', () => {
    const legs = [leg('1', 'PCMA', 8, 20000)];
    const plan = planReinvite(legs, reoffer(legs, 'm=audio 4000 RTP/AVP 0\r\na=label:1\r\n'), () => false);
    expect(actions(plan.streams)).toEqual(['1:close']);
  });

  it('a new SDES key is passed to the leg; the same key is not', () => {
    const key = Buffer.alloc(30, 7).toString('base64');
    const first = `1 AES_CM_128_HMAC_SHA1_80 inline:${key}`;
    const legs = [leg('1', 'PCMA', 8, 20000, first)];
    const same = planReinvite(legs, reoffer(legs, `m=audio 4000 RTP/SAVP 8\r\na=crypto:${first}\r\na=label:1\r\n`), all);
    expect(same.streams[0]).toMatchObject({ action: 'update' });
    const s = same.streams[0];
    if (s?.action !== 'update') throw new TypeError('expected an update');
    expect(s.change.srtpCrypto).toBeUndefined();
    const rekey = `1 AES_CM_128_HMAC_SHA1_80 inline:${Buffer.alloc(30, 9).toString('base64')}`;
    const changed = planReinvite(legs, reoffer(legs, `m=audio 4000 RTP/SAVP 8\r\na=crypto:${rekey}\r\na=label:1\r\n`), all);
    expect(changed.streams[0]).toMatchObject({ action: 'update', change: { srtpCrypto: rekey } });
  });
});
