/**
 * Announcements and the consent IVR of in-line calls (C1-C3) with a real phone: baresip calls in
 * from the trunk side (127.0.0.1; its RTP sockets are bound to any address, so its media comes
 * from 127.0.0.1 whatever its SIP address) through callseal to sipp as the PBX (127.0.0.2). The caller
 * hears the announcement as early media (a 1 kHz sine, found in what baresip wrote to its
 * snd_path), presses the key by RFC 4733 (`sndcode`), and the outcome decides the recording; the
 * outcome, key and time are in the metadata file and the decision log. A CANCEL during the
 * announcement ends the call with nothing offered to the PBX.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { listFiles } from '../helpers/sipp.ts';
import { apiCall, until } from '../helpers/api.ts';
import { startBaresip, type Baresip } from '../helpers/baresip.ts';
import { messagesStarting, recvRequest, scenario, sideSdp, startSipp, uasAnswer, uasRecvInvite, type SippRun } from '../helpers/inline.ts';
import { parseInfo } from '../../src/recording/index.ts';

const TOKEN = 'inline-ivr-token';
const closers: (() => Promise<unknown> | undefined)[] = [];
let cs: CallsealProcess | undefined;
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cs?.stop();
  cs = undefined;
});

/** The announcement: 1.5 s of a 1 kHz sine. */
const TONE_HZ = 1000;
const ANNOUNCEMENT_SEC = 1.5;

interface Setup { readonly cs: CallsealProcess; readonly inlinePort: number; readonly pbxPort: number; readonly dir: string }

/** callseal with the in-line section on, one setting recording all calls with the announcement and the consent mode given. */
async function setUp(consent: Record<string, unknown>, extra: Record<string, unknown> = {}, pbxExtra: Record<string, unknown> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-inline-ivr-'));
  const inlinePort = await freePort();
  const pbxPort = await freePort(27000, 28999);
  const c = await startCallseal({
    env: { CALLSEAL_API_TOKEN: TOKEN },
    config: {
      inline: {
        enabled: true, host: '127.0.0.1', port: inlinePort, tcp: false,
        pbx: { addresses: ['127.0.0.2'], hop: { host: '127.0.0.2', port: pbxPort }, ...pbxExtra },
        trunk: { addresses: ['127.0.0.1'], hop: { host: '127.0.0.1', port: 5999 } },
      },
    },
  });
  cs = c;
  const wav = join(dir, 'notice.wav');
  run('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', wav, 'synth', String(ANNOUNCEMENT_SEC), 'sine', String(TONE_HZ), 'vol', '0.5']);
  const res = await fetch(`http://127.0.0.1:${c.httpPort}/api/announcements?name=notice`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'audio/wav' }, body: new Uint8Array(readFileSync(wav)),
  });
  const uploaded = await res.json() as { id: string };
  expect(res.status, JSON.stringify(uploaded)).toBe(201);
  const put = await apiCall(c.httpPort, TOKEN, 'PUT', '/api/policy', {
    settings: [{ id: 'all', name: 'All calls', scope: { kind: 'all' }, announcementIncoming: uploaded.id, consent, ...extra }],
  });
  expect(put.status, JSON.stringify(put.json)).toBe(200);
  return { cs: c, inlinePort, pbxPort, dir };
}

/** sipp as the PBX answering the call and waiting for the BYE. */
async function pbxAnswering(s: Setup): Promise<SippRun> {
  const pbx = await startSipp(s.dir, 'pbx', scenario('pbx', [
    uasRecvInvite(), uasAnswer(200, 'OK', { body: sideSdp('[local_ip]') }), recvRequest('ACK'), recvRequest('BYE'), uasAnswer(200, 'OK'),
  ]), { ip: '127.0.0.2', port: s.pbxPort });
  closers.push(() => { pbx.child.kill(); return undefined; });
  return pbx;
}

async function caller(s: Setup, accountParams = '', sipTrace = false): Promise<Baresip> {
  const b = await startBaresip(join(s.dir, 'baresip'), { ip: '127.0.0.1', accountParams, sipTrace });
  closers.push(() => b.stop());
  return b;
}

/** The dominant frequency of the first `seconds` of a WAV (sox's rough estimate). */
function frequency(path: string, fromSec: number, seconds: number): number {
  const text = run('bash', ['-c', `sox "${path}" -n trim ${fromSec} ${seconds} stat 2>&1`]);
  return Number(/Rough\s+frequency:\s+(\d+)/.exec(text)?.[1] ?? 0);
}

/** Where the sine starts in what the caller received (first 20 ms window loud enough), in seconds. */
function toneStartSec(path: string): number {
  const raw = run('bash', ['-c', `sox "${path}" -t s16 -r 8000 -c 1 - | od -An -v -td2 -w2`]).trim().split(/\s+/).map(Number);
  for (let i = 0; i + 160 <= raw.length; i += 160) {
    let peak = 0;
    for (let j = i; j < i + 160; j++) peak = Math.max(peak, Math.abs(raw[j] ?? 0));
    if (peak > 8000) return i / 8000;
  }
  return -1;
}

/** The consent IVR's decision log entries of the one call. */
async function consentDecisions(c: CallsealProcess): Promise<{ event: string; record: boolean; consent?: { mode: string; outcome: string; key?: string; atMs: number } }[]> {
  const r = await apiCall(c.httpPort, TOKEN, 'GET', '/api/decisions?limit=20');
  return (r.json as { event: string; record: boolean; consent?: { mode: string; outcome: string; key?: string; atMs: number } }[]).filter((d) => d.event === 'consent');
}

function recordings(c: CallsealProcess): string[] {
  return listFiles(join(c.home, 'recordings')).filter((f) => f.endsWith('.wav')).map((f) => join(c.home, 'recordings', f));
}

/** The caller dials; the announcement plays (the IVR then waits); `key` pressed when given; the PBX answers; the caller hangs up after 1 s. */
async function ivrCall(s: Setup, key: string | undefined, accountParams = ''): Promise<{ phone: Baresip; pbx: SippRun }> {
  const pbx = await pbxAnswering(s);
  const phone = await caller(s, accountParams);
  await phone.command('dial', `sip:201@127.0.0.1:${s.inlinePort}`);
  await s.cs.waitForLog((l) => l['msg'] === 'consent IVR waiting for the key', 30_000);
  if (key !== undefined) await phone.command('sndcode', key);
  await s.cs.waitForLog((l) => l['msg'] === 'consent IVR decided', 30_000);
  await new Promise((r) => setTimeout(r, 2000));
  await phone.command('hangup');
  const done = await pbx.done;
  expect(done.code, `pbx: ${done.out}`).toBe(0);
  return { phone, pbx };
}

describe('announcements and the consent IVR of in-line calls (baresip as the caller)', () => {
  it('opt-in: the caller hears the announcement, presses 1 and is recorded from the outcome on; outcome, key and time in the metadata and the decision log', async () => {
    const s = await setUp({ mode: 'opt-in', key: '1', timeoutMs: 5000 });
    const { phone, pbx } = await ivrCall(s, '1');
    // The caller heard the sine as early media.
    const heard = phone.received();
    expect(heard.length, phone.output.join('\n')).toBeGreaterThan(0);
    const file = heard[0] ?? '';
    const start = toneStartSec(file);
    expect(start).toBeGreaterThanOrEqual(0);
    const f = frequency(file, start + 0.1, ANNOUNCEMENT_SEC - 0.3);
    expect(f).toBeGreaterThan(TONE_HZ * 0.9);
    expect(f).toBeLessThan(TONE_HZ * 1.1);
    // The PBX was offered the codec the announcement was played in (and telephone-event) only.
    const offer = messagesStarting(pbx.messages(), 'INVITE')[0] ?? '';
    expect(offer).toMatch(/m=audio \d+ RTP\/AVP 8 101\r?\n/);
    await s.cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    const wavs = recordings(s.cs);
    expect(wavs).toHaveLength(1);
    const info = parseInfo(readFileSync((wavs[0] ?? '').replace(/\.wav$/, '_info.txt'), 'utf8'));
    const consent = info.get('consent')?.[0] ?? '';
    expect(consent).toMatch(/mode=opt-in recorded=yes outcome=key key=1 at=\S+ at-ms=\d+/);
    const atMs = Number(/at-ms=(\d+)/.exec(consent)?.[1]);
    // B3 with an announcement: the recording starts after it, at the outcome.
    expect(Number(info.get('start-ms')?.[0])).toBeGreaterThanOrEqual(atMs);
    const logged = await consentDecisions(s.cs);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.consent).toMatchObject({ mode: 'opt-in', outcome: 'key', key: '1', atMs });
  }, 120_000);

  it('opt-in with no key in 5 s: not recorded, the time-out in the decision log', async () => {
    const s = await setUp({ mode: 'opt-in', key: '1', timeoutMs: 5000 });
    await ivrCall(s, undefined);
    await s.cs.waitForLog((l) => l['msg'] === 'in-line call not recorded: consent IVR', 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(recordings(s.cs)).toHaveLength(0);
    const logged = await consentDecisions(s.cs);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.consent).toMatchObject({ mode: 'opt-in', outcome: 'timeout' });
    expect(logged[0]?.record).toBe(false);
    expect(logged[0]?.consent?.key).toBeUndefined();
  }, 120_000);

  it('opt-out with the key: not recorded', async () => {
    const s = await setUp({ mode: 'opt-out', key: '5', timeoutMs: 5000 });
    await ivrCall(s, '5');
    await s.cs.waitForLog((l) => l['msg'] === 'in-line call not recorded: consent IVR', 30_000);
    expect(recordings(s.cs)).toHaveLength(0);
    expect((await consentDecisions(s.cs))[0]?.consent).toMatchObject({ mode: 'opt-out', outcome: 'key', key: '5' });
  }, 120_000);

  it('CANCEL during the announcement: 487, nothing offered to the PBX, no recording', async () => {
    const s = await setUp({ mode: 'opt-in', key: '1', timeoutMs: 5000 });
    const pbx = await pbxAnswering(s);
    const phone = await caller(s, '', true);
    await phone.command('dial', `sip:201@127.0.0.1:${s.inlinePort}`);
    await until('the 183 with the announcement', () => phone.output.some((l) => l.includes('SIP/2.0 183 Session Progress')), 30_000);
    // The announcement lasts 1.5 s: the caller hangs up (CANCEL) while it plays.
    await new Promise((r) => setTimeout(r, 700));
    await phone.command('hangup');
    await until('the caller got 487', () => phone.output.some((l) => l.includes('SIP/2.0 487 ')), 30_000).catch((err: unknown) => {
      throw new Error(phone.output.join('\n'), { cause: err });
    });
    expect(phone.output.some((l) => l.startsWith('CANCEL '))).toBe(true);
    await new Promise((r) => setTimeout(r, 2500));
    expect(messagesStarting(pbx.messages(), 'INVITE')).toHaveLength(0);
    expect(recordings(s.cs)).toHaveLength(0);
    expect(await consentDecisions(s.cs)).toHaveLength(0);
    expect(s.cs.logs.some((l) => l['msg'] === 'consent IVR decided')).toBe(false);
  }, 120_000);

  it('an SRTP caller (srtp-mand) hears the announcement over SRTP; opt-out without a key: recorded, the PBX leg plain RTP', async () => {
    // The PBX is offered plain RTP (inline.pbx.srtp), whatever the caller speaks.
    const s = await setUp({ mode: 'opt-out', key: '1', timeoutMs: 2000 }, {}, { srtp: 'rtp' });
    const { phone, pbx } = await ivrCall(s, undefined, ';mediaenc=srtp-mand');
    const file = phone.received()[0] ?? '';
    const start = toneStartSec(file);
    expect(start, phone.output.join('\n')).toBeGreaterThanOrEqual(0);
    const f = frequency(file, start + 0.1, ANNOUNCEMENT_SEC - 0.3);
    expect(f).toBeGreaterThan(TONE_HZ * 0.9);
    expect(f).toBeLessThan(TONE_HZ * 1.1);
    const offer = messagesStarting(pbx.messages(), 'INVITE')[0] ?? '';
    expect(offer).toMatch(/m=audio \d+ RTP\/AVP 8 101\r?\n/);
    expect(offer).not.toContain('a=crypto');
    await s.cs.waitForLog((l) => l['msg'] === 'recording finished', 30_000);
    const wavs = recordings(s.cs);
    expect(wavs).toHaveLength(1);
    const info = parseInfo(readFileSync((wavs[0] ?? '').replace(/\.wav$/, '_info.txt'), 'utf8'));
    expect(info.get('consent')?.[0]).toMatch(/mode=opt-out recorded=yes outcome=timeout /);
    expect(info.get('stats-caller')?.[0]).toMatch(/received=[1-9]\d*/);
  }, 120_000);
});
