import { describe, expect, it } from 'vitest';
import { SipError } from '../common/errors.ts';
import { MAX_SDP_BYTES, rewriteSdp, sdpMediaAddress } from './sdp-rewrite.ts';

const OFFER = [
  'v=0', 'o=pbx 1 2 IN IP4 10.1.0.5', 's=-', 'c=IN IP4 10.1.0.5', 't=0 0',
  'm=audio 40000 RTP/AVP 8 0 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
  'a=ptime:20', 'a=sendonly', 'a=rtcp:40001',
  'm=video 40002 RTP/AVP 96', 'c=IN IP4 10.1.0.6', 'a=rtpmap:96 H264/90000', '',
].join('\r\n');

describe('SDP rewriting', () => {
  it('replaces c= and the audio m= port, refuses other streams and keeps every other byte', () => {
    const out = rewriteSdp(Buffer.from(OFFER), '192.0.2.1', 30000).toString();
    expect(out).toBe(OFFER
      .replace('c=IN IP4 10.1.0.5', 'c=IN IP4 192.0.2.1')
      .replace('m=audio 40000', 'm=audio 30000')
      .replace('a=rtcp:40001', 'a=rtcp:30001 IN IP4 192.0.2.1')
      .replace('m=video 40002', 'm=video 0')
      .replace('c=IN IP4 10.1.0.6', 'c=IN IP4 192.0.2.1'));
    expect(out).toContain('o=pbx 1 2 IN IP4 10.1.0.5');
    expect(out).toContain('a=sendonly');
  });

  it('keeps LF line endings, a missing final line ending, IPv6, holds by 0.0.0.0 and refused streams', () => {
    const sdp = 'v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\nm=audio 0 RTP/AVP 0';
    expect(rewriteSdp(Buffer.from(sdp), '2001:db8::1', 5000).toString()).toBe('v=0\nc=IN IP4 0.0.0.0\nm=audio 5000 RTP/AVP 0\nm=audio 0 RTP/AVP 0');
    expect(rewriteSdp(Buffer.from('v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP 0\n'), '2001:db8::1', 5000).toString()).toBe('v=0\nc=IN IP6 2001:db8::1\nm=audio 5000 RTP/AVP 0\n');
  });

  it('reads the first audio stream\'s address, media level before session level', () => {
    expect(sdpMediaAddress(Buffer.from(OFFER))).toEqual({ host: '10.1.0.5', port: 40000, held: false });
    expect(sdpMediaAddress(Buffer.from('v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\nc=IN IP4 10.0.0.2\n'))).toEqual({ host: '10.0.0.2', port: 4000, held: false });
    expect(sdpMediaAddress(Buffer.from('v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n'))?.held).toBe(true);
    expect(sdpMediaAddress(Buffer.from('v=0\nm=video 4000 RTP/AVP 96\n'))).toBeUndefined();
    expect(sdpMediaAddress(Buffer.from('v=0\nc=IN IP4 pbx.example.com\nm=audio 4000 RTP/AVP 0\n'))?.host).toBeUndefined();
  });

  it('refuses what is not SDP, malformed lines and oversized bodies with 488', () => {
    for (const bad of ['hello', 'v=0\nm=audio x RTP/AVP 0', 'v=0\nm=audio 70000 RTP/AVP 0', 'v=0\nc=IN IP4\nm=audio 1 RTP/AVP 0', `v=0\n${'a=x\n'.repeat(MAX_SDP_BYTES)}`]) {
      expect(() => rewriteSdp(Buffer.from(bad), '192.0.2.1', 1)).toThrow(SipError);
    }
    try {
      sdpMediaAddress(Buffer.from('nope'));
    } catch (err) {
      expect(err).toMatchObject({ code: 'CS_SDP_INVALID', status: 488 });
    }
  });

  it('survives truncation at every offset without throwing anything but SipError', () => {
    for (let i = 0; i < OFFER.length; i++) {
      const cut = Buffer.from(OFFER.slice(0, i));
      for (const f of [() => rewriteSdp(cut, '192.0.2.1', 2), () => sdpMediaAddress(cut)]) {
        try { f(); } catch (err) { expect(err).toBeInstanceOf(SipError); }
      }
    }
  });
});
