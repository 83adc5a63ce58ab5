/**
 * SIPREC end to end with sipp as the SRC: a call with two labelled streams and metadata, real RTP
 * for both streams from a pcap (stream 1 to port B, stream 2 to B+2), BYE. The files are judged by
 * ffprobe and sox, not by callseal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCallseal, ffprobe, run, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, listFiles, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { linearToAlaw, linearToUlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';
import { SipCapture } from '../helpers/tshark.ts';
import { parseInfo } from '../../src/recording/index.ts';

let cs: CallsealProcess | undefined;
/** Loopback capture of callseal's SIP port, for tshark's verdict on what callseal sent. */
let capture: SipCapture | undefined;
afterEach(async () => {
  await capture?.stop();
  capture = undefined;
  await cs?.stop();
  cs = undefined;
});

function workdir(): string {
  return mkdtempSync(join(tmpdir(), 'callseal-sipp-'));
}

function soxStat(path: string, channel: 1 | 2): Record<string, number> {
  // sox prints `stat` to stderr; run it through a shell to capture.
  const text = run('bash', ['-c', `sox "${path}" -n remix ${channel} stat 2>&1`]);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(.+?):\s+(-?[\d.]+)/.exec(line);
    if (m?.[1] && m[2]) out[m[1].trim()] = Number(m[2]);
  }
  return out;
}

async function recordedCall(dir: string, codec: 'PCMA' | 'PCMU', channels: 'stereo' | 'separate'): Promise<{ files: string[]; root: string; sentMs: number }> {
  cs = await startCallseal({ config: { recording: { channels } } });
  capture = await SipCapture.start(cs.sipPort);
  const encode = codec === 'PCMA' ? linearToAlaw : linearToUlaw;
  const pt = codec === 'PCMA' ? 8 : 0;
  const pcap = join(dir, 'two-tones.pcap');
  // 3 s of 440 Hz from the caller (port B) and 3 s of 1000 Hz from the callee (port B+2).
  const { durationMs } = writeRtpPcap(pcap, [
    { dstPort: 6000, payloadType: pt, ssrc: 0x11111111, audio: tone(440, 3, encode) },
    { dstPort: 6002, payloadType: pt, ssrc: 0x22222222, audio: tone(1000, 3, encode, 12000) },
  ]);
  const scenario = siprecScenario({ codec, metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 });
  const result = await runSipp(dir, scenario, `127.0.0.1:${cs.sipPort}`);
  expect(result.code, `${result.stdout}\n${result.stderr}\n${result.errors}`).toBe(0);
  await cs.waitForLog((l) => l['msg'] === 'recording finished');
  const root = join(cs.home, 'recordings');
  return { files: listFiles(root), root, sentMs: durationMs };
}

describe('SIPREC call from sipp', () => {
  it('records a two-stream A-law call into one stereo WAV (pcm_alaw, 2 ch, 8 kHz) with a metadata file', async () => {
    const dir = workdir();
    const { files, root } = await recordedCall(dir, 'PCMA', 'stereo');
    const wav = files.filter((f) => f.endsWith('.wav'));
    const info = files.filter((f) => f.endsWith('_info.txt'));
    expect(wav).toHaveLength(1);
    expect(info).toHaveLength(1);
    const wavPath = join(root, wav[0] ?? '');
    // D2: default template $Y/$M/$D; D1: timestamp first, both numbers in the name.
    expect(wav[0]).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{8}-\d{6}-\d{3}_\+4930123456_\+4989765432_[0-9a-f]+\.wav$/);
    const probe = ffprobe(wavPath);
    expect(probe.codec).toBe('pcm_alaw');
    expect(probe.channels).toBe(2);
    expect(probe.sampleRate).toBe(8000);

    const meta = parseInfo(readFileSync(join(root, info[0] ?? ''), 'utf8'));
    const one = (k: string): string => meta.get(k)?.[0] ?? '';
    expect(one('caller-number')).toBe('+4930123456');
    expect(one('caller-name')).toBe('Alice Anders');
    expect(one('caller-aor')).toBe('sip:+4930123456@pbx.example.com');
    expect(one('callee-number')).toBe('+4989765432');
    expect(one('callee-name')).toBe('Bob Berger');
    expect(one('channels')).toBe('stereo');
    expect(one('codec')).toBe('G.711 A-law (pcm_alaw)');
    expect(one('interrupted')).toBe('no');
    // An outside parser reads every answer callseal sent to sipp without complaint.
    await capture?.stop();
    expect(capture?.sent()).toEqual(expect.arrayContaining(['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']));
    expect(capture?.findings()).toEqual([]);
    expect(one('end-reason')).toBe('bye');
    expect(one('setting')).toBe('Record all calls');
    expect(one('siprec-session-id')).toBe('c2Vzc2lvbjE=');
    expect(one('audio-files')).toBe(wav[0]?.split('/').pop());
    expect(one('metadata-files')).toMatch(/_metadata-v1\.xml$/);
    const duration = Number(one('duration-ms')) / 1000;
    // The file covers the recording session: from INVITE to BYE.
    expect(Math.abs(probe.durationSec - duration)).toBeLessThan(0.1);
    // Both streams arrived complete: 150 packets of 20 ms each.
    expect(one('stats-caller')).toMatch(/expected=150 received=150 lost=0 late=0 duplicated=0/);
    expect(one('stats-callee')).toMatch(/expected=150 received=150 lost=0 late=0 duplicated=0/);

    // Left = caller (440 Hz, quieter), right = callee (1000 Hz, louder): never mixed.
    const left = soxStat(wavPath, 1);
    const right = soxStat(wavPath, 2);
    expect(left['Rough   frequency'] ?? left['Rough frequency']).toBeGreaterThan(300);
    expect(left['Rough   frequency'] ?? left['Rough frequency']).toBeLessThan(600);
    expect(right['Rough   frequency'] ?? right['Rough frequency']).toBeGreaterThan(800);
    expect(right['Rough   frequency'] ?? right['Rough frequency']).toBeLessThan(1200);
    // Sealed (E1, E2, E5): sha256sum and verify.sh judge, in the recording's folder.
    const base = wavPath.replace(/\.wav$/, '');
    const folder = join(wavPath, '..');
    expect(run('sha256sum', ['-c', `${base.split('/').pop() ?? ''}_hash.txt`], folder)).toMatch(/_info\.txt: OK/);
    expect(run(join(import.meta.dirname, '../../tools/verify.sh'), [base])).toContain('OK:');
    expect(one('chain-sequence')).toBe('1');
    expect(one('previous-recording')).toBe('genesis');
    expect(one('previous-signature')).toBe(`public-key-sha256:${one('public-key-sha256')}`);
    // Audio duration sent (3 s) is what was written for each channel, the rest is silence.
    const audioBytes = /audio-bytes=(\d+)/.exec(one('stats-caller'))?.[1];
    expect(Number(audioBytes) / 8000).toBeCloseTo(3, 1);
  });
});
