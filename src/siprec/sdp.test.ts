/**
 * SDP offers as SRCs send them (SIPREC-INTEROP.md) and the answers callseal writes.
 */
import { describe, expect, it } from 'vitest';
import { buildAnswer, parseOffer } from './sdp.ts';
import { SipError } from '../common/errors.ts';

const offer = (media: string, session = 'c=IN IP4 192.0.2.10\r\n'): Buffer =>
  Buffer.from(`v=0\r\no=src 1 1 IN IP4 192.0.2.10\r\ns=-\r\n${session}t=0 0\r\n${media}`);

describe('parseOffer', () => {
  it('reads two labelled sendonly streams with static types and no rtpmap', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 0 8 18 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:16777227\r\na=sendonly\r\nm=audio 4002 RTP/AVP 8\r\na=label:a_leg\r\n'));
    expect(s.map((x) => [x.label, x.codec?.name, x.payloadType, x.dtmfPayloadType, x.paused])).toEqual([
      ['16777227', 'PCMU', 0, 101, false],
      ['a_leg', 'PCMA', 8, undefined, false],
    ]);
  });

  it('treats a=inactive and c=0.0.0.0 as paused', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 8\r\na=label:1\r\na=inactive\r\nm=audio 4002 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\na=label:2\r\n'));
    expect(s.map((x) => x.paused)).toEqual([true, true]);
  });

  it('accepts a=direction:both and dynamic G.722 and refuses what it cannot record', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 G722/8000\r\na=direction:both\r\nm=audio 4002 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\nm=video 4004 RTP/AVP 31\r\nm=audio 0 RTP/AVP 8\r\n'));
    expect(s[0]?.codec?.name).toBe('G722');
    expect(s[0]?.label).toBe('#0');
    expect(s[1]?.refused).toMatch(/no recordable codec/);
    expect(s[2]?.refused).toMatch(/video/);
    expect(s[3]?.refused).toMatch(/port 0/);
  });

  it('records Opus and G.729, choosing the codec the SRC lists first among those callseal records', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:101 telephone-event/48000\r\n' +
      'm=audio 4002 RTP/AVP 18 8\r\na=rtpmap:18 G729/8000\r\n' +
      'm=audio 4004 RTP/AVP 97 8 111\r\na=rtpmap:97 iLBC/8000\r\na=rtpmap:111 opus/48000/2\r\n'));
    expect(s.map((x) => [x.codec?.name, x.payloadType, x.refused])).toEqual([
      ['OPUS', 111, undefined],
      ['G729', 18, undefined],
      ['PCMA', 8, undefined],
    ]);
    const text = buildAnswer(s.map((o, i) => ({ offer: o, localPort: 20000 + 2 * i, localCrypto: undefined })), '127.0.0.1', '42', 1).toString();
    expect(text).toContain('m=audio 20000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n');
    expect(text).toContain('m=audio 20002 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n');
    expect(text).toContain('m=audio 20004 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n');
    expect(text).not.toMatch(/iLBC/);
  });

  it('picks the first supported SDES suite of an SRTP stream', () => {
    const key = Buffer.alloc(30, 1).toString('base64');
    const s = parseOffer(offer(`m=audio 4000 RTP/SAVP 8\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${Buffer.alloc(46).toString('base64')}\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${key}\r\nm=audio 4002 RTP/SAVP 8\r\n`));
    expect(s[0]?.crypto?.tag).toBe(2);
    expect(s[0]?.crypto?.suite).toBe('AES_CM_128_HMAC_SHA1_32');
    expect(s[1]?.refused).toMatch(/SRTP/);
  });

  it('rejects a body that is not SDP', () => {
    expect(() => parseOffer(Buffer.from('hello'))).toThrow(SipError);
  });
});

describe('buildAnswer', () => {
  it('mirrors each m-line in order: recvonly, label kept, one codec, port 0 for refused streams', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\na=sendonly\r\nm=video 4002 RTP/AVP 31\r\na=label:v\r\nm=audio 4004 RTP/AVP 0\r\na=label:2\r\na=inactive\r\n'));
    const ports = [20000, 0, 20004];
    const text = buildAnswer(s.map((o, i) => ({ offer: o, localPort: ports[i] ?? 0, localCrypto: undefined })), '127.0.0.1', '42', 1).toString();
    const m = text.split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=label') || /^a=(recv|send|inactive)/.test(l));
    expect(m).toEqual(['m=audio 20000 RTP/AVP 8 101', 'a=label:1', 'a=recvonly', 'm=video 0 RTP/AVP 31', 'a=label:v', 'm=audio 20004 RTP/AVP 0', 'a=label:2', 'a=inactive']);
  });
});
