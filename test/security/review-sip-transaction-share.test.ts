/**
 * One SRC must not be able to take the whole server transaction table. The table is bounded
 * (`sip.maxTransactions`), and a non-INVITE transaction over UDP stays in it for 64×T1 after its
 * final response (Timer J), but nothing limits how many entries one source holds: OPTIONS are not
 * rate-limited per source (only session-opening INVITEs are). A single allowed host that sends
 * OPTIONS faster than the table drains (20,000 per 32 s with the defaults) makes every other SRC's
 * INVITE a stateless 503, so calls of other SRCs go unrecorded while it keeps going.
 * Shown with `sip.maxTransactions` 100 and 130 OPTIONS.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc } from '../helpers/src.ts';

let cs: CallsealProcess | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await cs?.stop();
  cs = undefined;
});

describe('server transaction table shared between SRCs', () => {
  it('an OPTIONS flood from one allowed source does not turn away another SRC\'s INVITE', async () => {
    cs = await startCallseal({ config: { sip: { maxTransactions: 100 } } });
    const flooder = dgram.createSocket('udp4');
    closers.push(() => { flooder.close(); });
    await new Promise<void>((r) => { flooder.bind(0, '127.0.0.2', () => { r(); }); });
    const port = flooder.address().port;
    for (let i = 0; i < 130; i++) {
      const id = randomBytes(8).toString('hex');
      flooder.send(Buffer.from([
        'OPTIONS sip:srs@127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.2:${port};branch=z9hG4bK${id}`,
        `From: <sip:probe@127.0.0.2>;tag=${id}`, 'To: <sip:srs@127.0.0.1>', `Call-ID: ${id}@flood`, 'CSeq: 1 OPTIONS',
        'Max-Forwards: 70', 'Content-Length: 0', '', '',
      ].join('\r\n')), cs.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 500));
    const src = await RawSrc.connect('UDP', cs.sipPort);
    closers.push(() => { src.close(); });
    const { response } = await src.invite([
      { label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' },
    ], rsMetadata(ALICE, BOB));
    expect(response.status).toBe(200);
    expect((await src.bye()).status).toBe(200);
  }, 60_000);
});
