/**
 * The recording policy end to end with sipp as the SRC: a call to a recorded group is recorded;
 * the same call after the member logs out (CLI) is not; an excepted number is not; a private
 * internal call is not; `*1` from the internal participant (sipp's dtmf_2833 pcaps) stops the
 * recording. Checked on disk and in the decision log (API).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { apiCall } from '../helpers/api.ts';
import { startCallseal, ffprobe, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, listFiles, rsMetadata, runSipp, siprecScenario, type MetaParty } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { twoTonePcap } from '../helpers/pcap.ts';
import { parseInfo } from '../../src/recording/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'policy-test-token';
const SIPP_PCAPS = '/usr/share/sip-tester';

let cs: CallsealProcess;
let dir: string;
let pcap: string;
let pcapMs: number;

const SALES_NUMBER: MetaParty = { id: 'cDI=', aor: 'sip:+4989765432@pbx.example.com', name: 'Sales', sends: 'c3Qy' };
const MARIA: MetaParty = { id: 'cDE=', aor: 'sip:301@pbx.example.com', name: 'Maria Member', sends: 'c3Ry' };
const PETER: MetaParty = { id: 'cDI=', aor: 'sip:302@pbx.example.com', name: 'Peter Private', sends: 'c3Qy' };
const PRIVATE_CALLER: MetaParty = { ...ALICE, aor: 'sip:+4930999999@carrier.example.net', name: 'Doctor' };
const CUSTOMER: MetaParty = { id: 'cDI=', aor: 'tel:+4940111222', name: 'Customer', sends: 'c3Qy' };

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return apiCall(cs.httpPort, TOKEN, method, path, body);
}

interface DecisionRow { callId: string; record: boolean; code: string; settingName: string | null; reason: string; direction: string }

async function lastDecision(): Promise<DecisionRow> {
  const r = await api('GET', '/api/decisions?limit=1');
  const rows = r.json as DecisionRow[];
  if (!rows[0]) throw new Error('no decision');
  return rows[0];
}

function wavs(): string[] {
  return listFiles(join(cs.home, 'recordings')).filter((f) => f.endsWith('.wav'));
}

/**
 * One SIPREC call. Calls callseal declines get no media: callseal answers their streams with port 0,
 * and sipp 3.6 stops the scenario ("no m=audio line") when asked to play media to port 0.
 */
async function call(caller: MetaParty, callee: MetaParty, opts: { sequence?: { pcap: string; pauseMs: number }[]; declined?: boolean } = {}): Promise<void> {
  const scenario = opts.sequence
    ? siprecScenario({ metadata: rsMetadata(caller, callee), sequence: opts.sequence })
    : siprecScenario({ metadata: rsMetadata(caller, callee), ...(opts.declined ? {} : { pcap }), holdMs: pcapMs + 300 });
  const r = await runSipp(dir, scenario, `127.0.0.1:${cs.sipPort}`);
  expect(r.code, `${r.errors}\n${r.stderr}\n${r.stdout.slice(-1500)}`).toBe(0);
}

async function settled(): Promise<void> {
  // Sealing runs after the BYE; give the last recording time to land.
  for (let i = 0; i < 50 && cs.logs.filter((l) => l['msg'] === 'recording closed').length > cs.logs.filter((l) => l['msg'] === 'recording finished').length; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cs = await startCallseal({ env: { CALLSEAL_API_TOKEN: TOKEN } });
  dir = mkdtempSync(join(tmpdir(), 'callseal-policy-'));
  pcap = join(dir, 'tones.pcap');
  pcapMs = twoTonePcap(pcap, 1);
  const put = await api('PUT', '/api/policy', {
    users: [
      { id: 'maria', name: 'Maria Member', extensions: ['301'], directNumbers: ['+4989765401'], mobileNumbers: ['+491701234567'] },
      { id: 'peter', name: 'Peter Private', extensions: ['302'] },
    ],
    groups: [{ id: 'sales', name: 'Sales', numbers: ['+4989765432'], members: [{ userId: 'maria', active: true }] }],
    exceptionLists: [{ id: 'private', name: 'Private', entries: [{ kind: 'number', value: '030999999', comment: 'doctor' }] }],
    settings: [{ id: 'sales', name: 'Sales', scope: { kind: 'groups', groupIds: ['sales'] }, excludeInternal: true, exceptionListIds: ['private'], stopCode: '*1' }],
  });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await cs.stop();
});

describe('recording policy with sipp', () => {
  it('refuses API calls without the token', async () => {
    const res = await fetch(`http://127.0.0.1:${cs.httpPort}/api/policy`);
    expect(res.status).toBe(401);
  });

  it('explains the setting', async () => {
    const r = await api('GET', '/api/settings');
    expect((r.json as { explanation: string }[])[0]?.explanation).toBe('Records incoming calls to group Sales and outgoing calls of its active members, except numbers in list Private, not internal calls; both parties in one stereo file; *1 stops the recording.');
  });

  it('records a call to the recorded group while the member is logged in', async () => {
    await call(ALICE, SALES_NUMBER);
    await cs.waitForLog((l) => l['msg'] === 'recording finished');
    expect(wavs()).toHaveLength(1);
    expect(await lastDecision()).toMatchObject({ record: true, code: 'recorded', settingName: 'Sales', direction: 'in' });
  });

  it('does not record the same call after the member logs out (CLI)', async () => {
    const out = spawnSync(join(ROOT, 'bin/callseal'), ['member', 'logout', 'sales', 'maria'], { encoding: 'utf8', env: { ...process.env, CALLSEAL_HOME: cs.home } });
    expect(out.status, out.stderr).toBe(0);
    await call(ALICE, SALES_NUMBER, { declined: true });
    await settled();
    expect(wavs()).toHaveLength(1);
    expect(await lastDecision()).toMatchObject({ record: false, code: 'no-matching-setting' });
    // The SRC was told: every stream of the answer is declined (port 0).
    const declined = cs.logs.filter((l) => l['msg'] === 'call not recorded');
    expect(declined).toHaveLength(1);
    const log = await api('GET', '/api/membership-log');
    expect((log.json as { userId: string; active: boolean }[])[0]).toMatchObject({ userId: 'maria', active: false });
    // Logged in again through the API: recorded again.
    expect((await api('POST', '/api/groups/sales/members/maria/login')).status).toBe(200);
  });

  it('tells the SRC by declining every stream (port 0) in the SDP answer', async () => {
    const { RawSrc } = await import('../helpers/src.ts');
    const src = await RawSrc.connect('UDP', cs.sipPort);
    try {
      const { response, answer } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(PRIVATE_CALLER, SALES_NUMBER));
      expect(response.status).toBe(200);
      expect(answer.match(/^m=audio 0 /gm)).toHaveLength(2);
      expect((await src.bye()).status).toBe(200);
    } finally {
      src.close();
    }
  });

  it('does not record a caller on the exception list', async () => {
    await call(PRIVATE_CALLER, SALES_NUMBER, { declined: true });
    await settled();
    expect(wavs()).toHaveLength(1);
    expect(await lastDecision()).toMatchObject({ record: false, code: 'exception' });
  });

  it('does not record a private internal call', async () => {
    await call(MARIA, PETER, { declined: true });
    await settled();
    expect(wavs()).toHaveLength(1);
    expect(await lastDecision()).toMatchObject({ record: false, direction: 'internal' });
  });

  it('stops recording when the internal participant presses *1, keeps and seals what was recorded', async () => {
    const before = wavs();
    const started = Date.now();
    await call(MARIA, CUSTOMER, {
      sequence: [
        { pcap, pauseMs: pcapMs + 200 },
        { pcap: join(SIPP_PCAPS, 'dtmf_2833_star.pcap'), pauseMs: 400 },
        { pcap: join(SIPP_PCAPS, 'dtmf_2833_1.pcap'), pauseMs: 400 },
        { pcap, pauseMs: pcapMs + 1500 },
      ],
    });
    const callSeconds = (Date.now() - started) / 1000;
    await settled();
    const fresh = wavs().filter((f) => !before.includes(f));
    expect(fresh).toHaveLength(1);
    const wav = join(cs.home, 'recordings', fresh[0] ?? '');
    const info = parseInfo(readFileSync(wav.replace(/\.wav$/, '_info.txt'), 'utf8'));
    expect(info.get('end-reason')?.[0]).toMatch(/^stopped by DTMF \*1 from the caller at /);
    expect(info.get('setting')?.[0]).toBe('Sales');
    expect(info.get('dtmf')?.map((d) => d.split(' ')[0])).toEqual(['*', '1']);
    // The recording ends at the stop: well before the call did.
    const seconds = ffprobe(wav).durationSec;
    expect(seconds).toBeGreaterThan(1);
    expect(seconds).toBeLessThan(callSeconds - 1.5);
    expect(spawnSync(join(ROOT, 'tools/verify.sh'), [wav.replace(/\.wav$/, '')], { encoding: 'utf8' }).status).toBe(0);
    const decisions = await api('GET', `/api/decisions?limit=5`);
    expect((decisions.json as DecisionRow[]).find((d) => d.record)).toMatchObject({ settingName: 'Sales', direction: 'out' });
  });

  it('validates policy changes and names the field', async () => {
    const bad = await api('POST', '/api/exception-lists', { id: 'evil', name: 'Evil', entries: [{ kind: 'regex', value: '(a)\\1', comment: '' }] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('entries.0.value');
    const dangling = await api('POST', '/api/settings', { id: 'x', name: 'X', scope: { kind: 'groups', groupIds: ['nope'] } });
    expect(dangling.status).toBe(400);
    expect(JSON.stringify(dangling.json)).toContain('settings.1.scope.groupIds.0');
  });

  it('duplicates a setting (disabled) and exports the directory as CSV', async () => {
    const dup = await api('POST', '/api/settings/sales/duplicate', { newId: 'sales-copy' });
    expect(dup.status).toBe(201);
    expect(dup.json).toMatchObject({ id: 'sales-copy', name: 'Sales (copy)', enabled: false });
    const csv = await fetch(`http://127.0.0.1:${cs.httpPort}/api/users.csv`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await csv.text()).toContain('maria,Maria Member,301,+4989765401,');
  });

  it('records a group call the PBX forwarded to a member\'s mobile, from the diversion in the SRC\'s metadata (B4)', async () => {
    const { RawSrc } = await import('../helpers/src.ts');
    const mobile: MetaParty = { id: 'cDI=', aor: 'tel:+491701234567', name: 'Maria mobile', sends: 'c3Qy' };
    const metadata = rsMetadata(ALICE, mobile).replace('</recording>', '<extensiondata><callData xmlns="urn:example:vendor"><originalTo>sip:+4989765432@pbx.example.com</originalTo></callData></extensiondata></recording>');
    const src = await RawSrc.connect('UDP', cs.sipPort);
    try {
      const { answer } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], metadata);
      expect(answer.match(/^m=audio [1-9]\d* /gm)).toHaveLength(2);
      expect(await lastDecision()).toMatchObject({ record: true, settingName: 'Sales', direction: 'in' });
      expect((await lastDecision()).reason).toContain('answered by active member Maria Member');
      await src.bye();
    } finally {
      src.close();
    }
  });

  it('follows metadata updates: a transfer brings a call into scope (recorded from then) and out of it (finished and sealed)', async () => {
    const { RawSrc, RtpSender } = await import('../helpers/src.ts');
    const streams = [{ label: '1', payloadType: 8, codec: 'PCMA' as const }, { label: '2', payloadType: 8, codec: 'PCMA' as const }];
    const before = wavs();
    const src = await RawSrc.connect('UDP', cs.sipPort);
    const callId = src.callId;
    try {
      const first = await src.invite(streams, rsMetadata(ALICE, CUSTOMER));
      expect(first.ports).toEqual([0, 0]);
      await new Promise((r) => setTimeout(r, 1500));
      // Transferred to the Sales group: now in scope.
      const into = await src.invite(streams, rsMetadata(ALICE, SALES_NUMBER));
      expect(into.ports.every((p) => p > 0)).toBe(true);
      const decisions = (await api('GET', `/api/decisions?callId=${encodeURIComponent(src.callId)}`)).json as (DecisionRow & { event: string })[];
      expect(decisions.map((d) => [d.event, d.record])).toEqual([['metadata-update', true], ['new-session', false]]);
      const a = new RtpSender(into.ports[0] ?? 0, 8);
      await a.play(tone(440, 0.5, linearToAlaw));
      a.close();
      // Transferred back out: the recording ends here and is sealed.
      const out = await src.invite(streams, rsMetadata(ALICE, CUSTOMER));
      expect(out.ports).toEqual([0, 0]);
      await cs.waitForLog((l) => l['msg'] === 'recording finished' && typeof l['callId'] === 'string' && l['callId'] === src.callId);
      await src.bye();
    } finally {
      src.close();
    }
    // Recordings of this call only (an earlier test's recording may be sealed meanwhile).
    const mine = wavs().filter((f) => !before.includes(f)).filter((f) => {
      const meta = parseInfo(readFileSync(join(cs.home, 'recordings', f.replace(/\.wav$/, '_info.txt')), 'utf8'));
      return meta.get('call-id')?.[0] === callId;
    });
    expect(mine).toHaveLength(1);
    const wav = join(cs.home, 'recordings', mine[0] ?? '');
    const info = parseInfo(readFileSync(wav.replace(/\.wav$/, '_info.txt'), 'utf8'));
    expect(info.get('end-reason')?.[0]).toMatch(/^no longer in scope after a metadata update/);
    // Recorded from the transfer on, not from the first INVITE 1.5 s earlier.
    expect(ffprobe(wav).durationSec).toBeLessThan(1.4);
  });

  it('keeps a declined session without media past the media timeout (no BYE to the SRC)', async () => {
    const quiet = await startCallseal({ env: { CALLSEAL_API_TOKEN: TOKEN }, config: { recording: { mediaTimeoutSec: 5 } } });
    try {
      const put = await apiCall(quiet.httpPort, TOKEN, 'PUT', '/api/policy', { settings: [] });
      expect(put.status).toBe(200);
      const { RawSrc } = await import('../helpers/src.ts');
      const src = await RawSrc.connect('UDP', quiet.sipPort);
      try {
        const { answer } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, SALES_NUMBER));
        expect(answer.match(/^m=audio 0 /gm)).toHaveLength(2);
        await new Promise((r) => setTimeout(r, 8000));
        expect(src.requests).not.toContain('BYE');
        expect((await src.bye()).status).toBe(200);
      } finally {
        src.close();
      }
    } finally {
      await quiet.stop();
    }
  });
});
