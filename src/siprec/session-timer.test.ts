import { describe, expect, it } from 'vitest';
import { parseMessage } from '../sip/index.ts';
import { judgeSessionTimer, sessionExpiryByeDelayMs, sessionTimerHeaders } from './session-timer.ts';

function invite(headers: string[]): ReturnType<typeof parseMessage> & { kind: 'request' } {
  const msg = parseMessage(Buffer.from([
    'INVITE sip:srs@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1',
    'To: <sip:srs@127.0.0.1>', 'Call-ID: st@x', 'CSeq: 1 INVITE', ...headers, 'Content-Length: 0', '', ''].join('\r\n')));
  if (msg.kind !== 'request') throw new Error('not a request');
  return msg;
}

describe('RFC 4028 session timer as UAS', () => {
  it('has no timer when the request asks for none', () => {
    expect(judgeSessionTimer(invite(['Supported: timer']), 90)).toEqual({ kind: 'none', why: 'not-requested' });
  });

  it('answers refresher=uac with Require: timer when the SRC supports timer', () => {
    const v = judgeSessionTimer(invite(['Supported: timer, siprec', 'Session-Expires: 1800']), 90);
    expect(v).toEqual({ kind: 'uac-refreshes', intervalSec: 1800 });
    expect(sessionTimerHeaders(v)).toEqual([{ name: 'session-expires', value: '1800;refresher=uac' }, { name: 'require', value: 'timer' }]);
    expect(judgeSessionTimer(invite(['k: timer', 'x: 120;refresher=uac']), 90)).toEqual({ kind: 'uac-refreshes', intervalSec: 120 });
  });

  it('answers 422 with the larger Min-SE when the interval is below the minimum', () => {
    expect(judgeSessionTimer(invite(['Supported: timer', 'Session-Expires: 60']), 90)).toEqual({ kind: 'too-small', minSeSec: 90, requestedSec: 60 });
    expect(judgeSessionTimer(invite(['Supported: timer', 'Session-Expires: 60', 'Min-SE: 120']), 90)).toEqual({ kind: 'too-small', minSeSec: 120, requestedSec: 60 });
  });

  it('leaves Session-Expires out (no timer) when the SRC does not support timer or asks callseal to refresh', () => {
    const a = judgeSessionTimer(invite(['Session-Expires: 1800;refresher=uas']), 90);
    expect(a).toEqual({ kind: 'none', why: 'uac-does-not-support-timer' });
    expect(sessionTimerHeaders(a)).toEqual([]);
    expect(judgeSessionTimer(invite(['Supported: timer', 'Session-Expires: 1800;refresher=uas']), 90)).toEqual({ kind: 'none', why: 'uas-refresher-requested' });
  });

  it('reads a malformed Session-Expires as absent', () => {
    expect(judgeSessionTimer(invite(['Supported: timer', 'Session-Expires: soon']), 90)).toEqual({ kind: 'none', why: 'not-requested' });
  });

  it('sends the BYE min(32 s, interval/3) before expiry (RFC 4028 section 10)', () => {
    expect(sessionExpiryByeDelayMs(1800)).toBe(1_768_000);
    expect(sessionExpiryByeDelayMs(90)).toBe(60_000);
    expect(sessionExpiryByeDelayMs(3)).toBe(2000);
  });
});
