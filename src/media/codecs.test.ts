/**
 * The silence callseal writes into gaps is what real encoders emit for digital silence, derived
 * again here: ffmpeg's G.722 encoder, Debian's bcg729 G.729 encoder, and libopus through ffmpeg.
 * Each fill, repeated as the writers repeat it, must decode (by ffmpeg) to silence.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { G722, G722_SILENCE, G729, G729_SILENCE_FRAME, OPUS_SILENCE_FRAME, codecByName, codecByStaticType, codecFilePath } from './codecs.ts';
import { WavWriter } from './wav.ts';
import { OggOpusWriter, readOggPages } from './ogg.ts';
import { encodeG729 } from '../../test/helpers/g729.ts';

const dir = mkdtempSync(join(tmpdir(), 'callseal-codecs-'));

/** ffmpeg's `volumedetect` of a file: peak and mean level in dBFS (-Infinity for digital zero). */
function volume(path: string): { maxDb: number; meanDb: number } {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg failed on ${path}: ${r.stderr}`);
  const num = (name: string): number => {
    const m = new RegExp(`${name}: (-?inf|-?[\\d.]+) dB`).exec(r.stderr);
    if (!m?.[1]) throw new Error(`no ${name} in ffmpeg output for ${path}`);
    return m[1].endsWith('inf') ? -Infinity : Number(m[1]);
  };
  return { maxDb: num('max_volume'), meanDb: num('mean_volume') };
}

function wavOf(name: string, codec: typeof G722, fill: (w: WavWriter) => void): string {
  const path = join(dir, name);
  const w = new WavWriter(path, { formatTag: codec.formatTag, channels: 1, sampleRateHz: codec.sampleRateHz, bitsPerSample: codec.bitsPerSample, byteRate: codec.name === 'G729' ? 1000 : 8000, blockAlign: codec.blockAlign });
  fill(w);
  w.close();
  return path;
}

describe('codec table', () => {
  it('finds codecs by rtpmap name and static type, and names files by container', () => {
    expect(codecByName('opus')?.clockRateHz).toBe(48000);
    expect(codecByName('g729')?.staticPayloadType).toBe(18);
    expect(codecByStaticType(18)).toBe(G729);
    expect(codecByStaticType(111)).toBeUndefined();
    expect(codecFilePath('/spool/abc/leg-1.wav', codecByName('OPUS') ?? G722)).toBe('/spool/abc/leg-1.opus');
    expect(codecFilePath('/spool/a.b/leg-1', G729)).toBe('/spool/a.b/leg-1.wav');
  });
});

describe('silence fill', () => {
  it('G.722: the pattern is real encoder output for digital silence, and decodes to silence where 0xFA does not', () => {
    const encoded = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '1', '-c:a', 'g722', '-f', 'g722', 'pipe:1'], { maxBuffer: 1 << 20 });
    expect(encoded.length).toBe(8000);
    expect(encoded.includes(G722_SILENCE)).toBe(true);
    // 3 s of fill in uneven runs, as gaps arrive (each run restarts the pattern).
    const runs = [7, 1601, 333, 160, 20, 19, 4000, 17863];
    const fill = wavOf('g722-fill.wav', G722, (w) => { for (const n of runs) w.fill(G722.silence, n); });
    const constant = wavOf('g722-fa.wav', G722, (w) => { w.fill(0xfa, 24000); });
    expect(volume(fill).maxDb).toBeLessThan(-60);
    expect(volume(constant).maxDb).toBeGreaterThan(-50);
  });

  it('G.729: the frame is what bcg729 encodes for digital silence, and repeated decodes to silence', () => {
    const frames = encodeG729(Buffer.alloc(16000));
    const all = new Set<string>();
    for (let i = 0; i + 10 <= frames.length; i += 10) all.add(frames.subarray(i, i + 10).toString('hex'));
    expect(all.has(G729_SILENCE_FRAME.toString('hex'))).toBe(true);
    const path = wavOf('g729-fill.wav', G729, (w) => { for (let i = 0; i < 300; i++) w.write(G729_SILENCE_FRAME); });
    const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels:format=duration', '-of', 'default=nw=1', path], { encoding: 'utf8' });
    expect(probe).toContain('codec_name=g729');
    expect(probe).toContain('duration=3.000000');
    expect(volume(path).maxDb).toBeLessThan(-60);
  });

  it('Opus: the CELT silence frame decodes to silence, and libopus emits it for silent input', () => {
    const path = join(dir, 'opus-fill.opus');
    const w = new OggOpusWriter(path, { serial: 1 });
    for (let i = 0; i < 150; i++) w.write(OPUS_SILENCE_FRAME, 960);
    w.close();
    const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,channels:format=duration', '-of', 'default=nw=1', path], { encoding: 'utf8' });
    expect(probe).toContain('codec_name=opus');
    expect(probe).toContain('duration=3.000000');
    expect(volume(path).maxDb).toBeLessThan(-80);
    // libopus in CELT-only mode (lowdelay) codes a silent 20 ms frame as these three bytes.
    const ref = join(dir, 'libopus-silence.opus');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '1', '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20', '-b:a', '64k', ref]);
    const packets = readOggPages(readFileSync(ref)).flatMap((p) => p.packets).slice(2);
    expect(packets.some((p) => p.equals(OPUS_SILENCE_FRAME))).toBe(true);
  });
});
