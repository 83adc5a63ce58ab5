/**
 * Accept headers as SRCs send them: a recorder never refuses a recording over an Accept header
 * it can satisfy in practice (Intrado VIPER lists only `application/rs-metadata`).
 */
import { describe, expect, it } from 'vitest';
import { judgeAccept, type AcceptInput } from './accept.ts';

const input = (accept: string[], extra: Partial<AcceptInput> = {}): AcceptInput => ({ method: 'INVITE', accept, require: [], contact: '<sip:src@192.0.2.1>', ...extra });

describe('judgeAccept', () => {
  it('takes SDP, wildcards, parameters and comma lists', () => {
    for (const a of [[], ['application/sdp'], ['application/SDP;q=0.5'], ['text/plain, application/*'], ['*/*'], ['application/media_control+xml,application/sdp,application/x-broadworks-call-center+xml']]) {
      expect(judgeAccept(input(a))).toBe('ok');
    }
  });

  it('records a SIPREC client whose Accept omits application/sdp, as a quirk (Intrado VIPER)', () => {
    expect(judgeAccept(input(['application/rs-metadata', 'application/rs-metadata-request']))).toBe('quirk-no-sdp');
    expect(judgeAccept(input(['application/rs-metadata+xml']))).toBe('quirk-no-sdp');
    expect(judgeAccept(input(['multipart/mixed']))).toBe('quirk-no-sdp');
    // Any other Accept from a client that says it is a SIPREC SRC.
    expect(judgeAccept(input(['text/plain'], { require: ['siprec'] }))).toBe('quirk-no-sdp');
    expect(judgeAccept(input(['text/plain'], { contact: '<sip:7374@10.106.2.10:5060;transport=TCP>;+sip.src' }))).toBe('quirk-no-sdp');
    expect(judgeAccept(input(['text/plain'], { contact: '<sip:10.0.0.1:5060>;src' }))).toBe('quirk-no-sdp');
  });

  it('refuses a peer that is not SIPREC and accepts nothing callseal sends (RFC 4475 sdp01)', () => {
    expect(judgeAccept(input(['text/nobodyKnowsThis']))).toBe('refuse');
    expect(judgeAccept(input(['application/sdpx']))).toBe('refuse');
  });

  it('judges only INVITE', () => {
    expect(judgeAccept(input(['text/plain'], { method: 'UPDATE' }))).toBe('ok');
  });
});
