/**
 * The in-line B2BUA over TCP (RFC 3261 section 18): sipp as the PBX and as the trunk, both on TCP
 * (`-t t1`), callseal listening on TCP beside UDP and sending to the trunk's hop over TCP
 * (`transport: 'TCP'`). The call is relayed both ways over TCP, its media anchored and recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffprobe, freePort, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { listFiles } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { messagesStarting, pbxInvite, recvRequest, recvResponse, scenario, sideSdp, startSipp, uacInDialog, uasAnswer, uasRecvInvite } from '../helpers/inline.ts';

const closers: (() => Promise<unknown> | undefined)[] = [];
let cs: CallsealProcess | undefined;
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cs?.stop();
  cs = undefined;
});

function play(pcap: string): string {
  return `  <nop>\n    <action>\n      <exec play_pcap_audio="${pcap}"/>\n    </action>\n  </nop>`;
}

/** The trunk's 200 with a Contact that names TCP: a sip: URI without it means UDP (RFC 3263 section 4.1). */
function tcpAnswer(): string {
  return uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }).replace('Contact: <sip:trunk@[local_ip]:[local_port]>', 'Contact: <sip:trunk@[local_ip]:[local_port];transport=tcp>');
}

describe('the in-line B2BUA over TCP', () => {
  it('relays a recorded call over TCP on both legs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-tcp-'));
    const trunkPort = await freePort(27000, 28999);
    const inlinePort = await freePort();
    cs = await startCallseal({
      config: {
        inline: {
          enabled: true, host: '127.0.0.1', port: inlinePort, tcp: true,
          pbx: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: 5999, transport: 'TCP' } },
          trunk: { addresses: ['127.0.0.2'], hop: { host: '127.0.0.2', port: trunkPort, transport: 'TCP' } },
        },
      },
    });
    writeRtpPcap(join(dir, 'caller.pcap'), [{ dstPort: 6000, payloadType: 8, ssrc: 0x11111111, audio: tone(440, 1, linearToAlaw) }]);
    const trunk = await startSipp(dir, 'trunk', scenario('trunk', [
      uasRecvInvite(), tcpAnswer(), recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
    ]), { ip: '127.0.0.2', port: trunkPort, transport: 't1' });
    closers.push(() => { trunk.child.kill(); return undefined; });
    const pbx = await startSipp(dir, 'pbx', scenario('pbx', [
      pbxInvite('+4989765432'), recvResponse(100, { optional: true }), recvResponse(200, { rrs: true }), uacInDialog('ACK', 1),
      play('caller.pcap'), '  <pause milliseconds="1500"/>', uacInDialog('BYE', 2), recvResponse(200),
    ]), { ip: '127.0.0.1', target: `127.0.0.1:${inlinePort}`, transport: 't1' });
    closers.push(() => { pbx.child.kill(); return undefined; });
    const [p, t] = await Promise.all([pbx.done, trunk.done]);
    expect(p.code, `pbx: ${p.out}`).toBe(0);
    expect(t.code, `trunk: ${t.out}`).toBe(0);
    // Every message on both legs went over TCP, with callseal's Via and Contact saying so.
    for (const log of [pbx.messages(), trunk.messages()]) expect(log).not.toMatch(/^UDP message/m);
    const invite = messagesStarting(trunk.messages(), 'INVITE')[0] ?? '';
    expect(invite).toMatch(/^Via: SIP\/2\.0\/TCP /m);
    expect(invite).toMatch(/^Contact: <sip:callseal@[^>]+;transport=tcp>/m);
    expect(messagesStarting(pbx.messages(), 'SIP/2.0 200')[0]).toMatch(/^Contact: <sip:callseal@[^>]+;transport=tcp>/m);

    await cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    const root = join(cs.home, 'recordings');
    const wav = listFiles(root).filter((f) => f.endsWith('.wav'));
    expect(wav).toHaveLength(1);
    expect(ffprobe(join(root, wav[0] ?? '')).durationSec).toBeGreaterThan(1);
  }, 120_000);
});
