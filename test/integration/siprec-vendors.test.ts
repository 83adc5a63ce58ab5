/**
 * Every published message of a real SRC (`shared/testdata/siprec-vendors`, README there) replayed
 * against a running callseal: 200 with every audio stream received, RTP with a distinct tone per
 * stream, re-INVITEs and UPDATEs as published, BYE. The files are judged by ffprobe and sox (codec,
 * channels, duration, which tone is on which channel), the parties and direction by `_info.txt`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ffprobe, freeUdpBlock, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { STREAM_TONES_HZ, VendorReplay, type Step } from '../helpers/vendors.ts';
import { RawSrc, RtpSender } from '../helpers/src.ts';
import { ALICE, BOB, rsMetadata } from '../helpers/sipp.ts';
import { linearToAlaw, linearToUlaw, tone } from '../helpers/g711.ts';
import { SipCapture } from '../helpers/tshark.ts';
import { parseInfo } from '../../src/recording/index.ts';

let cs: CallsealProcess;
/** Every answer callseal gives the vendors' messages, for tshark's verdict at the end. */
let capture: SipCapture;
beforeAll(async () => {
  cs = await startCallseal({ config: { recording: { channels: 'stereo' } } });
  capture = await SipCapture.start(cs.sipPort);
});
afterAll(async () => {
  await capture.stop();
  await cs.stop();
});

/** Power of each test tone in one channel of a recording (Goertzel over the samples ffmpeg decodes at 8 kHz). */
function tonePower(path: string, channel: number): number[] {
  // sox reads neither G.729 nor Ogg Opus; ffmpeg decodes all of them.
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-af', `pan=mono|c0=c${channel - 1}`, '-ar', '8000', '-f', 's16le', '-'], { maxBuffer: 64 * 1024 * 1024 });
  const samples = new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2));
  return STREAM_TONES_HZ.map((hz) => {
    const k = 2 * Math.cos((2 * Math.PI * hz) / 8000);
    let s1 = 0;
    let s2 = 0;
    for (const x of samples) {
      const s0 = x / 32768 + k * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / Math.max(1, samples.length);
  });
}

/** The m-line index whose tone dominates a channel; -1 for silence. Fails when two tones are mixed. */
function toneOf(path: string, channel: number): number {
  const p = tonePower(path, channel);
  const max = Math.max(...p);
  if (max < 1) return -1;
  const index = p.indexOf(max);
  // Never mixed together (B1): every other tone is far weaker.
  for (const [i, v] of p.entries()) if (i !== index) expect(v * 50, `channel ${channel} of ${path}: ${p.join(', ')}`).toBeLessThan(max);
  return index;
}

interface Case {
  readonly name: string;
  readonly transport: 'UDP' | 'TCP';
  readonly run: (r: VendorReplay) => Promise<void>;
  /** Answer payload type per offered m-line (undefined: refused with port 0). */
  readonly answerPts: readonly (number | undefined)[];
  readonly layout: 'stereo' | 'mono' | 'separate';
  readonly codec: 'pcm_mulaw' | 'pcm_alaw' | 'opus' | 'g729';
  readonly caller: string;
  readonly callee: string;
  /** As the metadata states it; otherwise as the policy determines it (`external` without a directory). */
  readonly direction: string;
  /** m-line index whose tone is each party's; undefined when that party has no stream. */
  readonly callerStream: number | undefined;
  readonly calleeStream: number | undefined;
  readonly metadataVersions: number;
  /** Audio sent per stream, in ms (the WAV is at least this long). */
  readonly mediaMs: number;
  /** What decided who called (logged when the recording starts). */
  readonly callerBy: string;
  /** Quirks callseal logs as accepted for this SRC. */
  readonly quirks?: readonly string[];
}

const body = (file: string, headers?: string[]) => async (r: VendorReplay): Promise<void> => {
  const res = await r.inviteWithBody(file, headers);
  expect(res?.status, `${res?.status} ${res?.reason}`).toBe(200);
  r.ack();
  await r.media(1500);
  expect((await r.bye()).status).toBe(200);
};

const scenario = (steps: Step[]) => async (r: VendorReplay): Promise<void> => {
  await r.run(steps);
};

const CASES: Case[] = [
  {
    name: 'Oracle/Acme Packet (apkt:callingParty)', transport: 'UDP', run: body('drachtio__acme-siprec-offer.txt'),
    answerPts: [0, 0], layout: 'stereo', codec: 'pcm_mulaw', caller: '9000', callee: '1002', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'callingParty extension',
  },
  {
    name: 'Oracle SBC for Avaya (apkt:ucid, tabs; m2 lists PCMA without rtpmap)', transport: 'UDP', run: body('drachtio__avaya-siprec-offer.txt'),
    answerPts: [8, 8], layout: 'stereo', codec: 'pcm_alaw', caller: '31624895902', callee: '33187164021', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'callingParty extension',
  },
  {
    name: 'Avaya SBCE format (boundary foobar, labels 10/20, placeholder callee)', transport: 'UDP', run: body('drachtio__broadworks-offer-2.txt'),
    answerPts: [8, 8], layout: 'stereo', codec: 'pcm_alaw', caller: '9878942259', callee: 'ASBCE', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'document order',
  },
  {
    name: 'Cisco CUBE (application/gtd part, no closing delimiter after it)', transport: 'UDP', run: body('drachtio__cisco-siprec-offer.txt'),
    answerPts: [0, 0], layout: 'stereo', codec: 'pcm_mulaw', caller: '7301', callee: '7300', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'document order', quirks: ['multipart-unterminated'],
  },
  {
    name: 'OpenSIPS (m1 0 8 3, m2 8 0: one codec for both)', transport: 'UDP', run: body('drachtio__connectel-offer.txt'),
    answerPts: [0, 0], layout: 'stereo', codec: 'pcm_mulaw', caller: '0771121212', callee: '0760516936', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'document order',
  },
  {
    name: 'Intrado VIPER (complete INVITE over TCP, Accept without application/sdp, role calling)', transport: 'TCP',
    run: async (r) => {
      const res = await r.completeInvite('drachtio__intrado-siprec-invite.txt');
      expect(res?.status, `${res?.status} ${res?.reason}`).toBe(200);
      r.ack();
      await r.media(1500);
      expect((await r.bye()).status).toBe(200);
    },
    answerPts: [0], layout: 'mono', codec: 'pcm_mulaw', caller: '4058327108', callee: '', direction: 'external',
    callerStream: 0, calleeStream: undefined, metadataVersions: 1, mediaMs: 1500, callerBy: 'role element', quirks: ['accept-without-sdp'],
  },
  {
    name: 'SEMS (a_leg/b_leg, a=direction:both, no closing delimiter)', transport: 'UDP', run: body('drachtio__procomm-siprec-offer.txt'),
    answerPts: [8, 8], layout: 'stereo', codec: 'pcm_alaw', caller: '016190200', callee: 'Extension-016190619', direction: 'external',
    callerStream: 0, calleeStream: 1, metadataVersions: 1, mediaMs: 1500, callerBy: 'document order', quirks: ['multipart-unterminated'],
  },
  {
    name: 'Ribbon/Sonus (caller on label 2 by callData, no closing delimiter)', transport: 'UDP', run: body('drachtio__sonus-siprec-offer.txt'),
    answerPts: [0, 0], layout: 'stereo', codec: 'pcm_mulaw', caller: '2249888500', callee: '2249888012', direction: 'external',
    callerStream: 1, calleeStream: 0, metadataVersions: 1, mediaMs: 1500, callerBy: 'callData extension (fromhdr)', quirks: ['multipart-unterminated'],
  },
  {
    name: 'Avaya SBCE inbound (one m-line, placeholder callee, then an UPDATE with metadata)', transport: 'UDP',
    run: scenario([
      { send: 'miarec__avaya_sbce_inbound.msg0.txt' }, { send: 'miarec__avaya_sbce_inbound.msg1.txt' }, { media: 800 },
      { send: 'miarec__avaya_sbce_inbound.msg2.txt' }, { media: 800 }, { send: 'miarec__avaya_sbce_inbound.msg3.txt' },
    ]),
    answerPts: [0], layout: 'mono', codec: 'pcm_mulaw', caller: '13035381001', callee: '7204541001', direction: 'external',
    callerStream: 0, calleeStream: undefined, metadataVersions: 2, mediaMs: 1600, callerBy: 'document order',
  },
  {
    name: 'BroadWorks (one mixed stream, termCall, pause and resume with c=0.0.0.0)', transport: 'UDP',
    run: scenario([
      { send: 'miarec__broadworks_pause_resume.msg0.txt' }, { send: 'miarec__broadworks_pause_resume.msg1.txt' }, { media: 800 },
      { send: 'miarec__broadworks_pause_resume.msg2.txt' }, { send: 'miarec__broadworks_pause_resume.msg3.txt' }, { pause: 600 },
      { send: 'miarec__broadworks_pause_resume.msg4.txt' }, { send: 'miarec__broadworks_pause_resume.msg5.txt' }, { media: 800 },
      // The published BYE says `CSeq: 604674516 INVITE` and has no To tag (a copy-paste slip in the
      // scenario): callseal answers it 400 as RFC 3261 section 8.2 asks, then the same BYE with
      // its method and the dialog's To tag ends the call.
      { send: 'miarec__broadworks_pause_resume.msg6.txt', expectStatus: 400 },
      { send: 'miarec__broadworks_pause_resume.msg6.txt', fix: (t) => t.replace(/^(CSeq: \d+) INVITE/m, '$1 BYE').replace(/^(To:.*>)$/m, '$1[peer_tag_param]') },
    ]),
    answerPts: [8], layout: 'mono', codec: 'pcm_alaw', caller: '+19015783200', callee: '8638254725', direction: 'in',
    callerStream: undefined, calleeStream: 0, metadataVersions: 1, mediaMs: 1600, callerBy: 'termCall extension (callingPartyNumber)',
  },
  {
    name: 'Cisco Webex Calling (Opus first and recorded as Ogg Opus; label 1 is the callee)', transport: 'UDP',
    run: scenario([
      { send: 'miarec__cisco_webex_calling_inbound_01.msg0.txt' }, { send: 'miarec__cisco_webex_calling_inbound_01.msg1.txt' }, { media: 1500 },
      { send: 'miarec__cisco_webex_calling_inbound_01.msg2.txt' },
    ]),
    answerPts: [111], layout: 'mono', codec: 'opus', caller: '7711', callee: 'kculs9klre', direction: 'in',
    callerStream: undefined, calleeStream: 0, metadataVersions: 1, mediaMs: 1500, callerBy: 'termCall extension (callingPartyNumber)',
  },
  {
    name: 'Metaswitch (G.729 first and recorded as G.729; SDP update, hold, resume with metadata)', transport: 'UDP',
    run: scenario([
      { send: 'miarec__metaswitch_16g_basic_call_hold.msg0.txt' }, { send: 'miarec__metaswitch_16g_basic_call_hold.msg1.txt' }, { media: 600 },
      { send: 'miarec__metaswitch_16g_basic_call_hold.msg2.txt' }, { send: 'miarec__metaswitch_16g_basic_call_hold.msg3.txt' }, { media: 600 },
      { send: 'miarec__metaswitch_16g_basic_call_hold.msg4.txt' }, { send: 'miarec__metaswitch_16g_basic_call_hold.msg5.txt' }, { pause: 600 },
      { send: 'miarec__metaswitch_16g_basic_call_hold.msg6.txt' }, { send: 'miarec__metaswitch_16g_basic_call_hold.msg7.txt' }, { media: 600 },
      { send: 'miarec__metaswitch_16g_basic_call_hold.msg8.txt' },
    ]),
    answerPts: [18], layout: 'mono', codec: 'g729', caller: '7602922411', callee: '7602922410', direction: 'in',
    callerStream: 0, calleeStream: 0, metadataVersions: 4, mediaMs: 1800, callerBy: 'callingPartyNumber extension',
  },
  {
    name: 'Oracle SBC outbound (tranport= typo in Contact; stray second SDP in the published body)', transport: 'UDP',
    run: scenario([
      { send: 'miarec__oracle_sbc_basic_calls_outbound.msg0.txt' }, { send: 'miarec__oracle_sbc_basic_calls_outbound.msg1.txt' }, { media: 1500 },
      { send: 'miarec__oracle_sbc_basic_calls_outbound.msg2.txt' },
    ]),
    answerPts: [8, 8], layout: 'separate', codec: 'pcm_alaw', caller: '1001', callee: '2002', direction: 'external',
    callerStream: 0, calleeStream: undefined, metadataVersions: 1, mediaMs: 1500, callerBy: 'callingParty extension',
  },
];

describe('published SRC messages record correctly', () => {
  it.each(CASES)('$name', async (c) => {
    const base = await freeUdpBlock(29000, 32600, 6, 2);
    const replay = await VendorReplay.connect(c.transport, cs.sipPort, base);
    try {
      await c.run(replay);
    } finally {
      replay.close();
    }
    const res = replay.result();
    // 200 to the INVITE, every audio stream received (port > 0), one codec that was offered.
    expect(res.finals[0]?.status).toBe(200);
    const answer = res.answers[0] ?? '';
    expect(answer).toMatch(/^o=callseal \d+ \d+ IN IP4 /m);
    const pts = [...answer.matchAll(/^m=audio (\d+) \S+ (\d+)/gm)].map((m) => (Number(m[1]) > 0 ? Number(m[2]) : undefined));
    expect(pts).toEqual(c.answerPts);
    expect(res.finals.every((f) => f.status === 200), res.finals.map((f) => `${f.status} ${f.reason}`).join(', ')).toBe(true);

    const started = await cs.waitForLog((l) => l['msg'] === 'recording started' && l['callId'] === res.callId);
    expect(started['callerBy']).toBe(c.callerBy);
    const quirks = cs.logs.filter((l) => l['msg'] === 'SRC quirks accepted' && l['callId'] === res.callId).flatMap((l) => l['quirks'] as string[]);
    expect(quirks).toEqual(c.quirks ?? []);

    const done = await cs.waitForLog((l) => l['msg'] === 'recording finished' && l['callId'] === res.callId, 20000);
    const dir = String(done['dir']);
    const files = (done['files'] as string[]).map((f) => f.split('/').pop() ?? f);
    const wavs = files.filter((f) => f.endsWith('.wav') || f.endsWith('.opus'));
    const infoName = files.find((f) => f.endsWith('_info.txt')) ?? '';
    const info = parseInfo(readFileSync(join(dir, infoName), 'utf8'));
    const one = (k: string): string => info.get(k)?.[0] ?? '';

    expect([one('caller-number'), one('callee-number'), one('direction')]).toEqual([c.caller, c.callee, c.direction]);
    expect(one('channels')).toBe(c.layout);
    // The file says which source decided who called, as the log did.
    expect(one('caller-by')).toBe(c.callerBy);
    expect(one('channels-by')).toBe(started['channelsBy']);
    // Every metadata version is kept (initial INVITE, UPDATE, re-INVITEs with metadata).
    expect(one('metadata-files').split(' ').filter(Boolean)).toHaveLength(c.metadataVersions);
    const durationSec = Number(one('duration-ms')) / 1000;

    if (c.layout === 'separate') expect(wavs.length).toBeGreaterThan(1);
    else expect(wavs).toHaveLength(1);
    for (const wav of wavs) {
      const probe = ffprobe(join(dir, wav));
      expect(probe.codec).toBe(c.codec);
      expect(probe.sampleRate).toBe(c.codec === 'opus' ? 48000 : 8000);
      expect(probe.channels).toBe(c.layout === 'stereo' ? 2 : 1);
      // The file covers the recording session, and holds at least the audio sent.
      expect(Math.abs(probe.durationSec - durationSec)).toBeLessThan(0.2);
      expect(probe.durationSec).toBeGreaterThan(c.mediaMs / 1000);
    }
    const wavPath = join(dir, wavs[0] ?? '');
    if (c.layout === 'stereo') {
      // Left = caller, right = callee (B1), each its own stream's tone.
      expect([toneOf(wavPath, 1), toneOf(wavPath, 2)]).toEqual([c.callerStream, c.calleeStream]);
    } else if (c.layout === 'mono') {
      expect(toneOf(wavPath, 1)).toBe(c.callerStream ?? c.calleeStream);
    } else {
      const callerWav = wavs.find((w) => w.endsWith('_caller.wav')) ?? '';
      expect(toneOf(join(dir, callerWav), 1)).toBe(c.callerStream);
    }
  });
});

describe('codec across re-INVITEs', () => {
  it('keeps writing each file in one codec: a re-INVITE that drops the recorded codec starts a new file', async () => {
    const src = await RawSrc.connect('UDP', cs.sipPort);
    try {
      const first = await src.invite([{ label: '1', payloadType: 0, codec: 'PCMU' }, { label: '2', payloadType: 0, codec: 'PCMU' }], rsMetadata(ALICE, BOB));
      expect(first.response.status).toBe(200);
      const a = first.ports.map((p) => new RtpSender(p, 0));
      await Promise.all(a.map((r, i) => r.play(tone(STREAM_TONES_HZ[i] ?? 440, 0.6, linearToUlaw))));
      // The SRC now offers A-law only.
      const second = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
      expect(second.response.status).toBe(200);
      expect([...second.answer.matchAll(/^m=audio \d+ \S+ (\d+)/gm)].map((m) => m[1])).toEqual(['8', '8']);
      const b = second.ports.map((p) => new RtpSender(p, 8));
      await Promise.all(b.map((r, i) => r.play(tone(STREAM_TONES_HZ[i] ?? 440, 0.6, linearToAlaw))));
      expect((await src.bye()).status).toBe(200);
      for (const r of [...a, ...b]) r.close();
    } finally {
      src.close();
    }
    const done = await cs.waitForLog((l) => l['msg'] === 'recording finished' && l['callId'] === src.callId, 20000);
    const wavs = (done['files'] as string[]).filter((f) => f.endsWith('.wav'));
    const codecs = wavs.map((w) => ffprobe(join(String(done['dir']), w.split('/').pop() ?? w)).codec).sort();
    // The µ-law part merged into the stereo file, the A-law part in its own files: never mixed up.
    expect(codecs).toContain('pcm_mulaw');
    expect(codecs).toContain('pcm_alaw');
  });
});

describe('an outside parser', () => {
  it('tshark\'s SIP and SDP dissectors find nothing malformed in callseal\'s answers to every vendor', async () => {
    await capture.stop();
    expect(capture.sent().filter((l) => l.startsWith('SIP/2.0 200 OK')).length).toBeGreaterThan(CASES.length);
    expect(capture.findings()).toEqual([]);
  });
});
