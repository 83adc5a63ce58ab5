import { describe, expect, it } from 'vitest';
import { dtmfRelayDigit } from './dtmf-info.ts';
import { sdpAudioCodec } from './sdp-rewrite.ts';

describe('DTMF in SIP INFO', () => {
  it('reads Signal= of application/dtmf-relay bodies', () => {
    expect(dtmfRelayDigit(Buffer.from('Signal=*\r\nDuration=160\r\n'))).toBe('*');
    expect(dtmfRelayDigit(Buffer.from('signal = 1\nDuration=250'))).toBe('1');
    expect(dtmfRelayDigit(Buffer.from('Signal=10\r\n'))).toBe('*');
    expect(dtmfRelayDigit(Buffer.from('Signal=11'))).toBe('#');
  });

  it('names no digit for anything else', () => {
    for (const body of ['Duration=160', 'Signal=x', 'Signal=12', '', `Signal=1${' '.repeat(2000)}`]) expect(dtmfRelayDigit(Buffer.from(body))).toBeUndefined();
  });
});

describe('the first audio codec of an SDP', () => {
  const known = (name: string, pt: number): string | undefined => (name.toUpperCase() === 'PCMA' || pt === 8 ? 'PCMA' : name.toUpperCase() === 'PCMU' || pt === 0 ? 'PCMU' : undefined);
  it('takes the first known codec of the audio m-line and its telephone-event type', () => {
    expect(sdpAudioCodec(Buffer.from('v=0\nm=audio 4000 RTP/AVP 18 8 101\na=rtpmap:18 G729/8000\na=rtpmap:101 telephone-event/8000\n'), known)).toEqual({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101 });
    expect(sdpAudioCodec(Buffer.from('v=0\nm=audio 4000 RTP/AVP 0\n'), known)).toEqual({ codec: 'PCMU', payloadType: 0, dtmfPayloadType: undefined });
    expect(sdpAudioCodec(Buffer.from('v=0\nm=audio 0 RTP/AVP 0\n'), known)).toBeUndefined();
    expect(sdpAudioCodec(Buffer.from('v=0\nm=audio 4000 RTP/AVP 18\n'), known)).toBeUndefined();
  });
});
