import { describe, expect, it } from 'vitest';
import { SipError } from '../common/errors.ts';
import { newSdesCrypto, parseSdesCrypto } from '../rtp/index.ts';
import { rewriteSdp, sdpAudioSecurity } from './sdp-rewrite.ts';
import { LegKeys } from './srtp-legs.ts';

const KEY_80 = newSdesCrypto(1, 'AES_CM_128_HMAC_SHA1_80');
const KEY_32 = newSdesCrypto(2, 'AES_CM_128_HMAC_SHA1_32');

function sdp(proto: string, crypto: readonly string[]): Buffer {
  return Buffer.from(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0',
    `m=audio 4000 ${proto} 0 101`, 'a=rtpmap:101 telephone-event/8000', ...crypto.map((c) => `a=crypto:${c}`), 'a=sendrecv', ''].join('\r\n'));
}

describe('SRTP per leg', () => {
  it('answers an SRTP caller with a key of its own in the chosen suite, and offers a plain callee RTP/AVP without any key', () => {
    const keys = new LegKeys({ a: 'as-offered', b: 'rtp' });
    const offer = sdp('RTP/SAVP', ['1 AES_CM_128_HMAC_SHA1_99 inline:AAAA', KEY_32]);
    const c = keys.sdpFrom('a', sdpAudioSecurity(offer));
    expect(c.relay?.receive).toBe(KEY_32);
    expect(parseSdesCrypto(c.relay?.send ?? '')).toMatchObject({ tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32' });
    expect(c.relay?.send).not.toBe(KEY_32);
    expect(c.toward).toEqual({ srtp: false, crypto: undefined });
    const toCallee = rewriteSdp(offer, '192.0.2.1', 30000, c.toward).toString();
    expect(toCallee).toContain('m=audio 30000 RTP/AVP 0 101');
    expect(toCallee).not.toContain('a=crypto');
    // The callee's plain answer goes back to the caller as RTP/SAVP with callseal's key for it.
    const back = keys.sdpFrom('b', sdpAudioSecurity(sdp('RTP/AVP', [])));
    expect(back.relay).toBeNull();
    expect(back.toward).toEqual({ srtp: true, crypto: c.relay?.send });
    const toCaller = rewriteSdp(sdp('RTP/AVP', []), '192.0.2.1', 30002, back.toward).toString();
    expect(toCaller).toContain('m=audio 30002 RTP/SAVP 0 101');
    expect(toCaller.match(/a=crypto:/g)).toHaveLength(1);
    expect(toCaller).toContain(`a=crypto:${c.relay?.send ?? ''}\r\n`);
  });

  it('as-offered: an SRTP offer goes on as SRTP with another key; a plain offer offered as SRTP by `srtp`', () => {
    const keys = new LegKeys({ a: 'as-offered', b: 'as-offered' });
    const c = keys.sdpFrom('a', sdpAudioSecurity(sdp('RTP/SAVP', [KEY_80])));
    expect(c.toward?.srtp).toBe(true);
    expect(c.toward?.crypto).not.toBe(KEY_80);
    expect(c.toward?.crypto).not.toBe(c.relay?.send);
    expect(parseSdesCrypto(c.toward?.crypto ?? '').suite).toBe('AES_CM_128_HMAC_SHA1_80');
    // The callee's SRTP answer: decrypted with its key, encrypted with the one callseal offered it.
    const calleeKey = newSdesCrypto(1);
    const back = keys.sdpFrom('b', sdpAudioSecurity(sdp('RTP/SAVP', [calleeKey])));
    expect(back.relay).toEqual({ receive: calleeKey, send: c.toward?.crypto });
    // A re-INVITE keeps callseal's keys.
    expect(keys.sdpFrom('a', sdpAudioSecurity(sdp('RTP/SAVP', [KEY_80]))).toward?.crypto).toBe(c.toward?.crypto);

    const plain = new LegKeys({ a: 'as-offered', b: 'srtp' });
    const p = plain.sdpFrom('a', sdpAudioSecurity(sdp('RTP/AVP', [])));
    expect(p.relay).toBeNull();
    expect(p.toward?.srtp).toBe(true);
    expect(rewriteSdp(sdp('RTP/AVP', []), '192.0.2.1', 30000, p.toward).toString()).toContain('m=audio 30000 RTP/SAVP 0 101');
  });

  it('refuses an SRTP stream without a usable key with 488, naming no key', () => {
    const keys = new LegKeys({ a: 'as-offered', b: 'as-offered' });
    const bad = '1 AES_CM_128_HMAC_SHA1_80 inline:c2VjcmV0';
    let caught: unknown;
    try {
      keys.sdpFrom('a', sdpAudioSecurity(sdp('RTP/SAVP', [bad])));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SipError);
    expect((caught as SipError).status).toBe(488);
    expect((caught as SipError).message).not.toContain('c2VjcmV0');
    expect(keys.sdpFrom('a', undefined)).toEqual({ relay: undefined, toward: undefined });
  });

  it('reads the profile and keys of the first audio stream only', () => {
    expect(sdpAudioSecurity(sdp('RTP/SAVPF', [KEY_80]))).toEqual({ proto: 'RTP/SAVPF', srtp: true, crypto: [KEY_80] });
    expect(sdpAudioSecurity(Buffer.from('v=0\nm=video 5000 RTP/SAVP 96\na=crypto:x\n'))).toBeUndefined();
    const twoStreams = Buffer.from(`v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/SAVP 0\na=crypto:${KEY_80}\nm=audio 4002 RTP/SAVP 0\na=crypto:${KEY_32}\n`);
    expect(sdpAudioSecurity(twoStreams)?.crypto).toEqual([KEY_80]);
    // The refused second stream keeps its lines; only the first stream's keys are replaced.
    const out = rewriteSdp(twoStreams, '192.0.2.1', 30000, { srtp: true, crypto: KEY_32 }).toString();
    expect(out).toBe(`v=0\nc=IN IP4 192.0.2.1\nm=audio 30000 RTP/SAVP 0\na=crypto:${KEY_32}\nm=audio 0 RTP/SAVP 0\na=crypto:${KEY_32}\n`);
  });
});
