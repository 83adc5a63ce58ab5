/**
 * Every RFC 4475 torture message, byte for byte, sent over UDP to a running callseal: the response
 * (or the silence, for messages the RFC says to drop) is what a conformant recording server answers.
 * A normal SIPREC call afterwards still records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';

const DIR = join(import.meta.dirname, '../../../shared/testdata/rfc4475');

/** Expected status per message; undefined means dropped without a response. */
const EXPECTED: Record<string, number | undefined> = {
  // 3.1.1 valid messages: parsed, then judged as a recording server judges them (wsinv carries a
  // To tag, so it is a request inside a dialog callseal does not know: 481).
  wsinv: 481, intmeth: 501, esc01: 488, escnull: 405, esc02: 501, lwsdisp: 200, longreq: 488, dblreq: 405,
  semiuri: 200, transports: 200, mpart01: 405, unreason: undefined, noreason: undefined,
  // 3.1.2 invalid messages.
  badinv01: 400, clerr: 400, ncl: 400, scalar02: 400, scalarlg: undefined, quotbal: 400, ltgtruri: 400, lwsruri: 400,
  lwsstart: 400, trws: 400, escruri: 400, baddate: 488, regbadct: 400, badaspec: 400, baddn: 400, badvers: 505,
  mismatch01: 400, mismatch02: 400, bigcode: undefined,
  // 3.2 transaction layer.
  badbranch: 200,
  // 3.3 application layer semantics.
  insuf: 400, unksm2: 405, novelsc: 416, unkscm: 416, bext01: 420, invut: 415, regaut01: 405, multi01: 400, mcl01: 400,
  bcast: undefined, zeromf: 200, cparam01: 405, cparam02: 405, regescrt: 405, sdp01: 406,
  // 3.4 RFC 2543 syntax: accepted by the parser; not a SIPREC session.
  inv2543: 488,
};

let cs: CallsealProcess;
let sock: dgram.Socket;
const received: { data: string; at: number }[] = [];

beforeAll(async () => {
  cs = await startCallseal();
  sock = dgram.createSocket('udp4');
  sock.on('message', (d) => { received.push({ data: d.toString('latin1'), at: Date.now() }); });
  await new Promise<void>((r) => { sock.bind(0, '127.0.0.1', () => { r(); }); });
});
afterAll(async () => {
  sock.close();
  await cs.stop();
});

/** Transaction keys used on the current server: the RFC's messages reuse branches between tests. */
const usedKeys = new Set<string>();

async function exchange(name: string): Promise<number[]> {
  received.length = 0;
  const data = readFileSync(join(DIR, `${name}.dat`));
  const text = data.toString('latin1');
  const key = `${/branch=\s*(\S+?)[;\r]/.exec(text)?.[1] ?? ''}|${/^(\S+)/.exec(text)?.[1] ?? ''}`;
  if (usedKeys.has(key)) {
    // Same branch and method as an earlier message: a conformant server takes it as a
    // retransmission (RFC 3261 section 17.2.3), so judge it on a fresh server.
    await cs.stop();
    cs = await startCallseal();
    usedKeys.clear();
  }
  usedKeys.add(key);
  const callId = /\r\n(?:Call-ID|i)\s*:\s*(\S+)/i.exec(text)?.[1] ?? '(none)';
  sock.send(data, cs.sipPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 250));
  // Responses to earlier INVITEs are retransmitted until an ACK that never comes: match by Call-ID.
  const mine = received.filter((m) => m.data.includes(callId) || !/\r\nCall-ID:/i.test(m.data));
  received.splice(0, received.length, ...mine);
  return mine.map((m) => Number(/^SIP\/2\.0 (\d{3})/.exec(m.data)?.[1])).filter((s) => s >= 200);
}

describe('RFC 4475 messages against the running server', () => {
  it.each(Object.entries(EXPECTED))('%s → %s', async (name, status) => {
    const finals = await exchange(name);
    if (status === undefined) expect(finals).toEqual([]);
    else expect(finals[0]).toBe(status);
  });

  it('adds Unsupported to 420 and Accept to 415', async () => {
    await exchange('bext01');
    expect(received.find((m) => m.data.startsWith('SIP/2.0 420'))?.data).toMatch(/\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n/);
    await exchange('invut');
    expect(received.find((m) => m.data.startsWith('SIP/2.0 415'))?.data).toMatch(/\r\nAccept: application\/sdp/);
  });

  it('is still healthy afterwards', async () => {
    const res = await fetch(`http://127.0.0.1:${cs.httpPort}/healthz`);
    expect(res.status).toBe(200);
  });
});
