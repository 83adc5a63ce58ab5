import { describe, expect, it } from 'vitest';
import { chooseCodec, earlyAnswer, limitOffer } from './prompt-sdp.ts';
import { sdpAudioCodec, sdpMediaAddress } from './sdp-rewrite.ts';

const OFFER = Buffer.from([
  'v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0',
  'm=audio 4000 RTP/AVP 18 96 0 8 101', 'a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv',
  'm=video 5000 RTP/AVP 97', 'a=rtpmap:97 H264/90000', '',
].join('\r\n'));

describe('prompt SDP', () => {
  it('chooses the first codec of the offer that announcements are played in, with telephone-event', () => {
    expect(chooseCodec(OFFER)).toEqual({ codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101 });
    expect(chooseCodec(Buffer.from('v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 9\r\n'))).toEqual({ codec: 'G722', payloadType: 9, dtmfPayloadType: undefined });
    expect(chooseCodec(Buffer.from('v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n'))).toBeUndefined();
    expect(chooseCodec(Buffer.alloc(0))).toBeUndefined();
  });

  it('limits the offer to the chosen codec and telephone-event, the rest of the body unchanged', () => {
    const chosen = chooseCodec(OFFER);
    if (!chosen) throw new TypeError('no codec');
    const text = limitOffer(OFFER, chosen).toString();
    expect(text).toContain('m=audio 4000 RTP/AVP 0 101\r\n');
    expect(text).not.toMatch(/G729|opus|PCMA|a=fmtp:18/);
    expect(text).toContain('a=fmtp:101 0-16');
    expect(text).toContain('m=video 5000 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n');
  });

  it('answers with the relay port, one codec and telephone-event', () => {
    const answer = earlyAnswer({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101 }, '127.0.0.1', 30000, '42');
    expect(sdpMediaAddress(answer)).toEqual({ host: '127.0.0.1', port: 30000, held: false });
    expect(sdpAudioCodec(answer, (n) => n)).toEqual({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101 });
    expect(answer.toString()).toContain('m=audio 30000 RTP/AVP 8 101\r\n');
  });
});
