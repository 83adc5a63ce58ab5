/**
 * A re-INVITE's 2xx goes through the session's dialog (RFC 3261 sections 13.3.1.4 and 14.2): sipp
 * as the SRC sends a re-INVITE and withholds its ACK. callseal retransmits the very same 200 with
 * T1 doubling towards T2, and after 64*T1 without the ACK sends BYE with `Reason: SIP;cause=408`;
 * the recording is finished with end-reason `no-ack`. T1 is shortened (`sip.t1Ms`) so 64*T1 is seconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, reinviteWithoutAckScenario, rsMetadata, runSipp } from '../helpers/sipp.ts';
import { parseInfo } from '../../src/recording/index.ts';

const T1_MS = 100;

let cs: CallsealProcess | undefined;
afterEach(async () => {
  await cs?.stop();
  cs = undefined;
});

/** Times (ms) at which sipp received messages that `pick` selects, from its message trace. */
function receivedAt(trace: string, pick: (text: string) => boolean): number[] {
  const times: number[] = [];
  for (const block of trace.split(/^-{10,} /m)) {
    if (!/message received/.test(block) || !pick(block)) continue;
    const stamp = /^(\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(block)?.[1];
    if (stamp) times.push(Date.parse(stamp.replace(/\s+/, 'T')));
  }
  return times;
}

describe('re-INVITE without ACK (sipp)', () => {
  it('retransmits the re-INVITE\'s 200 until 64*T1, then BYE with Reason 408, and the recording ends with no-ack', async () => {
    cs = await startCallseal({ config: { sip: { t1Ms: T1_MS } } });
    const dir = mkdtempSync(join(tmpdir(), 'callseal-reinvite-'));
    const traceFile = join(dir, 'messages.log');
    const r = await runSipp(dir, reinviteWithoutAckScenario(rsMetadata(ALICE, BOB), 20_000), `127.0.0.1:${cs.sipPort}`, {
      extra: ['-trace_msg', '-message_file', traceFile], timeoutSec: 40,
    });
    expect(r.code, `${r.errors}\n${r.stderr}\n${r.stdout}`).toBe(0);

    const trace = readFileSync(traceFile, 'utf8');
    const times = receivedAt(trace, (m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq:\s*2 INVITE/im.test(m));
    const byeAt = receivedAt(trace, (m) => /^BYE /m.test(m))[0] ?? 0;
    // Sent at 0, T1, 3*T1, 7*T1, 15*T1, 31*T1, 63*T1 (T2 is 4 s): seven copies before 64*T1, then the BYE.
    expect(times.length, times.join(', ')).toBeGreaterThanOrEqual(5);
    expect(times.length, times.join(', ')).toBeLessThanOrEqual(7);
    expect(byeAt - (times[0] ?? 0)).toBeGreaterThanOrEqual(64 * T1_MS - 30);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    // Each gap at least the doubled interval (a loaded machine only delays a send, never brings it forward).
    gaps.forEach((gap, i) => { expect(gap, gaps.join(', ')).toBeGreaterThanOrEqual(T1_MS * 2 ** i - 30); });

    const done = await cs.waitForLog((l) => l['msg'] === 'recording finished', 20_000);
    const files = (done['files'] as string[]).map((f) => f.split('/').pop() ?? f);
    const info = parseInfo(readFileSync(join(String(done['dir']), files.find((f) => f.endsWith('_info.txt')) ?? ''), 'utf8'));
    expect(info.get('end-reason')).toEqual(['no-ack']);
  }, 90_000);
});
