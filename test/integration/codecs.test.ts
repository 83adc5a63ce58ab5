/**
 * Codecs real SRCs negotiate (B2: original codec, no transcoding), end to end with sipp as the SRC:
 * an Opus call (offer "opus PCMA": with `recording.channels: separate` callseal takes the SRC's
 * first; a stereo setting would take PCMA, which every stream offers and which interleaves) recorded
 * as Ogg Opus, and a G.729 call recorded as G.729 in WAV. The files are judged by ffprobe/ffmpeg and sha256sum, and
 * played through the web API.
 *
 * Test audio: Opus packets are libopus output through ffmpeg; ffmpeg has no G.729 encoder, so the
 * G.729 frames come from Debian's bcg729 (test/helpers/g729.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCallseal, ffprobe, run, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { writePacketPcap } from '../helpers/pcap.ts';
import { encodeG729, sinePcm } from '../helpers/g729.ts';
import { login, type WebClient } from '../helpers/web.ts';
import { until } from '../helpers/api.ts';
import { parseInfo } from '../../src/recording/index.ts';
import { readOggPages } from '../../src/media/index.ts';

const ADMIN_PASSWORD = 'codecs-admin-password-1';
const AUDITOR_PASSWORD = 'codecs-auditor-password-1';

let cs: CallsealProcess;
let dir: string;
let auditor: WebClient;

interface Recorded {
  readonly folder: string;
  readonly files: string[];
  readonly info: Map<string, string[]>;
  readonly sentMs: number;
}

const recorded = new Map<'opus' | 'g729', Recorded>();

/** Opus packets libopus makes from a tone: 20 ms, mono, VoIP mode, read out of ffmpeg's Ogg file. */
function opusPackets(hz: number, seconds: number): Buffer[] {
  const path = join(dir, `tone-${hz}.opus`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}:sample_rate=48000`, '-ac', '1', '-c:a', 'libopus', '-application', 'voip', '-frame_duration', '20', '-b:a', '24k', path]);
  return readOggPages(readFileSync(path)).flatMap((p) => p.packets).slice(2);
}

/** G.729 frames of a tone, two 10 ms frames per 20 ms packet. */
function g729Packets(hz: number, seconds: number): Buffer[] {
  const frames = encodeG729(sinePcm(hz, seconds));
  const out: Buffer[] = [];
  for (let i = 0; i + 20 <= frames.length; i += 20) out.push(frames.subarray(i, i + 20));
  return out;
}

/** The usual SIPREC scenario with the audio m-lines changed to offer `pts` with `rtpmaps`. */
function scenario(pcap: string, holdMs: number, pts: string, rtpmaps: string): string {
  const text = siprecScenario({ codec: 'PCMA', metadata: rsMetadata(ALICE, BOB), pcap, holdMs });
  return text.replaceAll('RTP/AVP 8 101', `RTP/AVP ${pts} 101`).replaceAll('a=rtpmap:8 PCMA/8000', rtpmaps);
}

async function call(kind: 'opus' | 'g729'): Promise<void> {
  const pcap = join(dir, `${kind}.pcap`);
  const streams = kind === 'opus'
    ? [
        // Packet 50 of the caller is lost: the file must stay on the wall clock.
        { dstPort: 6000, payloadType: 111, ssrc: 0x11111111, payloads: opusPackets(440, 3), ticksPerPacket: 960, drop: new Set([50]) },
        { dstPort: 6002, payloadType: 111, ssrc: 0x22222222, payloads: opusPackets(1000, 3), ticksPerPacket: 960 },
      ]
    : [
        { dstPort: 6000, payloadType: 18, ssrc: 0x33333333, payloads: g729Packets(440, 3), ticksPerPacket: 160, drop: new Set([50]) },
        { dstPort: 6002, payloadType: 18, ssrc: 0x44444444, payloads: g729Packets(1000, 3), ticksPerPacket: 160 },
      ];
  const { durationMs } = writePacketPcap(pcap, streams);
  const text = kind === 'opus'
    ? scenario(pcap, durationMs + 300, '111 8', 'a=rtpmap:111 opus/48000/2\na=fmtp:111 useinbandfec=1\na=rtpmap:8 PCMA/8000')
    : scenario(pcap, durationMs + 300, '18 8', 'a=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\na=rtpmap:8 PCMA/8000');
  const before = new Set(listFiles(join(cs.home, 'recordings')));
  const result = await runSipp(dir, text, `127.0.0.1:${cs.sipPort}`);
  expect(result.code, `${result.stdout}\n${result.stderr}\n${result.errors}`).toBe(0);
  await until(`${kind} recording finished`, () => listFiles(join(cs.home, 'recordings')).some((f) => !before.has(f) && f.endsWith('_hash.SHA256withRSA.sig')));
  const files = listFiles(join(cs.home, 'recordings')).filter((f) => !before.has(f));
  const infoName = files.find((f) => f.endsWith('_info.txt')) ?? '';
  const folder = join(cs.home, 'recordings', infoName.split('/').slice(0, -1).join('/'));
  recorded.set(kind, { folder, files: files.map((f) => f.split('/').pop() ?? ''), info: parseInfo(readFileSync(join(cs.home, 'recordings', infoName), 'utf8')), sentMs: durationMs });
}

function one(r: Recorded, key: string): string {
  return r.info.get(key)?.[0] ?? '';
}

/** Peak level of a frequency band in a file, by ffmpeg (bandpass, then volumedetect), in dBFS. */
function bandPeakDb(path: string, hz: number): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-af', `bandpass=f=${hz}:width_type=q:w=8,volumedetect`, '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /max_volume: (-?[\d.]+|-inf) dB/.exec(r.stderr);
  return m?.[1] === undefined || m[1] === '-inf' ? -Infinity : Number(m[1]);
}

beforeAll(async () => {
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD }, config: { recording: { channels: 'separate' } } });
  dir = mkdtempSync(join(tmpdir(), 'callseal-codecs-'));
  const admin = await login(cs.httpPort, 'admin', ADMIN_PASSWORD);
  expect((await admin.call('POST', '/api/accounts', { username: 'audrey', displayName: 'Audrey', roles: ['auditor'], password: AUDITOR_PASSWORD })).status).toBe(201);
  auditor = await login(cs.httpPort, 'audrey', AUDITOR_PASSWORD);
  await call('opus');
  await call('g729');
}, 180_000);

afterAll(async () => {
  await cs.stop();
});

async function recordingId(r: Recorded): Promise<string> {
  const base = (r.files.find((f) => f.endsWith('_hash.txt')) ?? '').replace(/_hash\.txt$/, '');
  const list = (await auditor.call('GET', '/api/recordings')).json as { items: { id: string; baseName: string }[] };
  const item = list.items.find((i) => i.baseName === base);
  if (!item) throw new Error(`recording ${base} not listed`);
  return item.id;
}

describe.each(['opus', 'g729'] as const)('%s call', (kind) => {
  const expected = kind === 'opus'
    ? { ext: '.opus', codec: 'opus', rate: 48000, label: 'Opus (opus)' }
    : { ext: '.wav', codec: 'g729', rate: 8000, label: 'G.729 (g729)' };

  it('is recorded in its original codec, one file per party, both on the wall clock', () => {
    const r = recorded.get(kind);
    if (!r) throw new Error('no recording');
    expect(one(r, 'codec')).toBe(expected.label);
    expect(one(r, 'channels')).toBe('separate');
    const audio = r.files.filter((f) => f.endsWith(expected.ext)).sort();
    expect(audio.map((f) => f.replace(/^.*_(caller|callee)\..*$/, '$1'))).toEqual(['callee', 'caller']);
    const probes = audio.map((f) => ffprobe(join(r.folder, f)));
    for (const p of probes) {
      expect(p).toMatchObject({ codec: expected.codec, channels: 1, sampleRate: expected.rate });
      // The whole call: the 3 s sent plus set-up and the hold before BYE.
      expect(p.durationSec).toBeGreaterThanOrEqual(r.sentMs / 1000);
      expect(p.durationSec).toBeLessThan(r.sentMs / 1000 + 2);
    }
    // The lost caller packet was filled: both parties' files last the same.
    expect(Math.abs((probes[0]?.durationSec ?? 0) - (probes[1]?.durationSec ?? 0))).toBeLessThan(0.05);
    const caller = join(r.folder, audio[1] ?? '');
    const callee = join(r.folder, audio[0] ?? '');
    // The audio is the tones sent (440 Hz caller, 1000 Hz callee), decoded by ffmpeg without errors.
    expect(run('bash', ['-c', `ffmpeg -v error -i "${caller}" -f null - 2>&1`])).toBe('');
    expect(bandPeakDb(caller, 440)).toBeGreaterThan(bandPeakDb(caller, 1000) + 10);
    expect(bandPeakDb(callee, 1000)).toBeGreaterThan(bandPeakDb(callee, 440) + 10);
    expect(one(r, 'stats-caller')).toMatch(/lost=1\b/);
  });

  it('is covered by the hash file (sha256sum -c)', () => {
    const r = recorded.get(kind);
    if (!r) throw new Error('no recording');
    const hashFile = r.files.find((f) => f.endsWith('_hash.txt')) ?? '';
    const listed = readFileSync(join(r.folder, hashFile), 'utf8');
    for (const f of r.files.filter((x) => x.endsWith(expected.ext))) expect(listed).toContain(f);
    expect(run('sha256sum', ['-c', hashFile], r.folder)).toMatch(new RegExp(`${expected.ext.replace('.', '\\.')}: OK`));
  });

  it('plays through the web API as audio the browser can decode', async () => {
    const r = recorded.get(kind);
    if (!r) throw new Error('no recording');
    const id = await recordingId(r);
    const detail = (await auditor.call('GET', `/api/recordings/${id}`)).json as { files: { name: string; playable: boolean }[] };
    const audio = detail.files.filter((f) => f.name.endsWith(expected.ext));
    expect(audio.map((f) => f.playable)).toEqual([true, true]);
    const name = audio.find((f) => f.name.includes('_caller'))?.name ?? '';
    const res = await auditor.call('GET', `/api/recordings/${id}/audio?file=${encodeURIComponent(name)}`);
    expect(res.status).toBe(200);
    const played = join(dir, `played-${kind}${kind === 'opus' ? '.opus' : '.wav'}`);
    writeFileSync(played, res.bytes);
    const original = ffprobe(join(r.folder, name));
    const p = ffprobe(played);
    if (kind === 'opus') {
      // Served as it is: browsers decode Ogg Opus natively.
      expect(res.headers.get('content-type')).toBe('audio/ogg; codecs=opus');
      expect(res.bytes.equals(readFileSync(join(r.folder, name)))).toBe(true);
      expect(p).toMatchObject({ codec: 'opus', channels: 1, sampleRate: 48000 });
    } else {
      // Decoded (by ffmpeg) to 16-bit PCM in a WAV.
      expect(res.headers.get('content-type')).toBe('audio/wav');
      expect(p).toMatchObject({ codec: 'pcm_s16le', channels: 1, sampleRate: 8000 });
    }
    expect(p.durationSec).toBeCloseTo(original.durationSec, 2);
    const part = await auditor.call('GET', `/api/recordings/${id}/audio?file=${encodeURIComponent(name)}`, undefined, { headers: { range: 'bytes=100-4099' } });
    expect(part.status).toBe(206);
    expect(part.bytes.equals(res.bytes.subarray(100, 4100))).toBe(true);
  });
});
