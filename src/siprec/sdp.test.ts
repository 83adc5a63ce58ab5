/**
 * SDP offers as SRCs send them (SIPREC-INTEROP.md) and the answers callseal writes.
 */
import { describe, expect, it } from 'vitest';
import { buildAnswer, codecLayoutNote, parseOffer, sdpSessionId } from './sdp.ts';
import { SipError } from '../common/errors.ts';

const offer = (media: string, session = 'c=IN IP4 192.0.2.10\r\n'): Buffer =>
  Buffer.from(`v=0\r\no=src 1 1 IN IP4 192.0.2.10\r\ns=-\r\n${session}t=0 0\r\n${media}`);

describe('parseOffer', () => {
  it('reads two labelled sendonly streams with static types and no rtpmap', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 0 8 18 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:16777227\r\na=sendonly\r\nm=audio 4002 RTP/AVP 8\r\na=label:a_leg\r\n'));
    expect(s.map((x) => [x.label, x.codec?.name, x.payloadType, x.dtmfPayloadType, x.paused])).toEqual([
      // PCMA is the one codec both streams offer (one codec for every stream, B1).
      ['16777227', 'PCMA', 8, 101, false],
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
    // The offer's telephone-event is at 48 kHz; callseal reads DTMF at 8 kHz only, so it is not answered.
    expect(text).toContain('m=audio 20000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n');
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
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\na=sendonly\r\nm=video 4002 RTP/AVP 31\r\na=label:v\r\nm=audio 4004 RTP/AVP 8\r\na=label:2\r\na=inactive\r\n'));
    const ports = [20000, 0, 20004];
    const text = buildAnswer(s.map((o, i) => ({ offer: o, localPort: ports[i] ?? 0, localCrypto: undefined })), '127.0.0.1', '42', 1).toString();
    const m = text.split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=label') || /^a=(recv|send|inactive)/.test(l));
    expect(m).toEqual(['m=audio 20000 RTP/AVP 8 101', 'a=label:1', 'a=recvonly', 'm=video 0 RTP/AVP 31', 'a=label:v', 'm=audio 20004 RTP/AVP 8', 'a=label:2', 'a=inactive']);
  });
});

describe('codec choice across streams', () => {
  const names = (streams: ReturnType<typeof parseOffer>): (string | undefined)[] => streams.map((x) => x.codec?.name);

  // OpenSIPS (drachtio connectel-offer): m1 `0 8 3 101`, m2 `8 0 101`.
  it('answers one codec that every stream offers, the SRC first listed (issue: per-m-line codec order)', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 0 8 3 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\nm=audio 4002 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:2\r\n'));
    expect(names(s)).toEqual(['PCMU', 'PCMU']);
    expect(s.map((x) => x.payloadType)).toEqual([0, 0]);
    expect(codecLayoutNote(s)).toBeUndefined();
  });

  it('takes a shared codec even when it is not the first stream\'s first', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 9 8\r\na=label:1\r\nm=audio 4002 RTP/AVP 0 8\r\na=label:2\r\n'));
    expect(names(s)).toEqual(['PCMA', 'PCMA']);
  });

  it('prefers a shared codec that interleaves into stereo when the setting is stereo', () => {
    const media = 'm=audio 4000 RTP/AVP 9 0\r\na=label:1\r\nm=audio 4002 RTP/AVP 9 0\r\na=label:2\r\n';
    expect(names(parseOffer(offer(media), { stereo: true }))).toEqual(['PCMU', 'PCMU']);
    expect(names(parseOffer(offer(media)))).toEqual(['G722', 'G722']);
  });

  it('keeps each stream\'s first when no codec is shared, and says why the layout changes', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 0\r\na=label:a_leg\r\nm=audio 4002 RTP/AVP 8 18\r\na=label:b_leg\r\n'));
    expect(names(s)).toEqual(['PCMU', 'PCMA']);
    expect(codecLayoutNote(s)).toMatch(/no recordable codec is offered on every stream \(a_leg: PCMU; b_leg: PCMA G729\)/);
  });

  it('ignores refused streams when looking for the shared codec', () => {
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 8 0\r\na=label:1\r\nm=audio 4002 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\na=label:2\r\nm=audio 4004 RTP/AVP 0 8\r\na=label:3\r\n'));
    expect(names(s)).toEqual(['PCMA', undefined, 'PCMA']);
  });

  it('keeps the codec a stream already records on a re-INVITE while it is still offered', () => {
    const media = 'm=audio 4000 RTP/AVP 8 0\r\na=label:1\r\n';
    expect(names(parseOffer(offer(media), { keep: new Map([['1', 'PCMU']]) }))).toEqual(['PCMU']);
    expect(names(parseOffer(offer('m=audio 4000 RTP/AVP 8\r\na=label:1\r\n'), { keep: new Map([['1', 'PCMU']]) }))).toEqual(['PCMA']);
  });

  // Webex Calling offers Opus first, Metaswitch G.729 first, on one stream: the SRC's first is kept.
  it('takes the SRC first codec when Opus or G.729 come first (Webex, Metaswitch)', () => {
    const webex = parseOffer(offer('m=audio 4000 RTP/AVP 111 101 0 8 9 107\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:107 telephone-event/48000\r\na=label:1\r\n'));
    expect([webex[0]?.codec?.name, webex[0]?.payloadType, webex[0]?.dtmfPayloadType]).toEqual(['OPUS', 111, 101]);
    const metaswitch = parseOffer(offer('m=audio 4000 RTP/AVP 18 0 8\r\na=ptime:20\r\na=label:1\r\n'));
    expect([metaswitch[0]?.codec?.name, metaswitch[0]?.payloadType]).toEqual(['G729', 18]);
  });

  it('never answers a codec that is not offered as such', () => {
    // Static type 0 mapped to something else, a PCMU rtpmap at the wrong clock rate, an unmapped dynamic type.
    const s = parseOffer(offer('m=audio 4000 RTP/AVP 0 96 97 8\r\na=rtpmap:0 G729/8000\r\na=rtpmap:96 PCMU/16000\r\na=label:1\r\n'));
    expect(s[0]?.offeredCodecs.map((o) => [o.codec.name, o.payloadType])).toEqual([['PCMA', 8]]);
    const answer = buildAnswer(s.map((o) => ({ offer: o, localPort: 20000, localCrypto: undefined })), '127.0.0.1', 'ab12', 1).toString();
    expect(answer).toMatch(/^m=audio 20000 RTP\/AVP 8\r$/m);
  });
});

describe('o= line', () => {
  it('writes a numeric sess-id (RFC 4566 sess-id = 1*DIGIT) for any session token', () => {
    for (const token of ['3f9a0c1b2d4e', 'abcdef', '42', 'not-hex_token']) {
      const answer = buildAnswer([], '127.0.0.1', token, 7).toString();
      expect(answer).toMatch(/^o=callseal \d+ 7 IN IP4 127\.0\.0\.1\r$/m);
    }
    expect(sdpSessionId('3f9a0c1b2d4e')).toBe(String(0x3f9a0c1b2d4e));
    expect(sdpSessionId('not-hex_token')).toBe(sdpSessionId('not-hex_token'));
  });
});
