/**
 * Ogg Opus pages and the packet writers, judged by libogg (through ffmpeg's files and decoder) and
 * by ffprobe: CRCs, lacing, granule positions, and gaps kept on the wall clock.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OGG_BOS, OGG_EOS, OggOpusWriter, oggPage, opusPacketSamples, readOggPages } from './ogg.ts';
import { openLegWriter } from './writers.ts';
import { G729, G729_SILENCE_FRAME, OPUS, OPUS_SILENCE_FRAME } from './codecs.ts';
import { Timeline, emptyStats } from '../rtp/index.ts';
import { ParseError } from '../common/errors.ts';
import { readWavInfo } from './wav.ts';

const dir = mkdtempSync(join(tmpdir(), 'callseal-ogg-'));

function probe(path: string): Record<string, string> {
  const text = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,channels,sample_rate:format=duration,format_name', '-of', 'default=nw=1', path], { encoding: 'utf8' });
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split('=') as [string, string]));
}

/** Opus packets that libopus made from a tone (20 ms, mono, VoIP mode), read from ffmpeg's Ogg file. */
function libopusPackets(seconds: number): Buffer[] {
  const path = join(dir, `tone-${seconds}.opus`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=48000`, '-ac', '1', '-c:a', 'libopus', '-application', 'voip', '-frame_duration', '20', '-b:a', '24k', path]);
  const pages = readOggPages(readFileSync(path));
  // libogg wrote them: every CRC must match callseal's CRC.
  expect(pages.every((p) => p.crcOk)).toBe(true);
  expect(pages[0]?.headerType).toBe(OGG_BOS);
  return pages.flatMap((p) => p.packets).slice(2);
}

describe('Ogg pages', () => {
  it('reads libogg pages with matching CRCs and writes pages that read back the same', () => {
    const packets = libopusPackets(1);
    // 1 s plus libopus's 312-sample encoder delay.
    expect(packets.length).toBe(51);
    const page = oggPage({ headerType: OGG_EOS, granulePosition: 48000n, serial: 7, sequence: 3, packets: [...packets.slice(0, 3), Buffer.alloc(600, 1)] });
    const [back] = readOggPages(page);
    expect(back?.crcOk).toBe(true);
    expect(back?.granulePosition).toBe(48000n);
    expect(back?.packets.map((p) => p.length)).toEqual([...packets.slice(0, 3).map((p) => p.length), 600]);
  });

  it('refuses a truncated page at every offset', () => {
    const page = oggPage({ headerType: 0, granulePosition: 0n, serial: 1, sequence: 0, packets: [Buffer.alloc(300, 2)] });
    for (let n = 1; n < page.length; n++) expect(() => readOggPages(page.subarray(0, n))).toThrow(ParseError);
  });

  it('reads Opus packet durations from the TOC (RFC 6716 section 3.1)', () => {
    expect(opusPacketSamples(OPUS_SILENCE_FRAME)).toBe(960);
    expect(opusPacketSamples(Buffer.from([0x08 << 3]))).toBe(480);
    expect(opusPacketSamples(Buffer.from([(3 << 3) | 1, 0, 0]))).toBe(5760);
    expect(opusPacketSamples(Buffer.from([(19 << 3) | 3, 3]))).toBe(2880);
    expect(opusPacketSamples(Buffer.from([(19 << 3) | 3, 0]))).toBeUndefined();
    expect(opusPacketSamples(Buffer.from([(3 << 3) | 3, 3]))).toBeUndefined();
    expect(opusPacketSamples(Buffer.alloc(0))).toBeUndefined();
  });

  it('writes original packets into an Ogg Opus file that ffmpeg decodes without complaint', () => {
    const packets = libopusPackets(3);
    const path = join(dir, 'rewrap.opus');
    const w = new OggOpusWriter(path, { serial: 42 });
    for (const p of packets) w.write(p, opusPacketSamples(p) ?? 0);
    w.close();
    const pages = readOggPages(readFileSync(path));
    expect(pages[0]?.packets[0]?.toString('latin1', 0, 8)).toBe('OpusHead');
    expect(pages[1]?.packets[0]?.toString('latin1', 0, 8)).toBe('OpusTags');
    expect(pages.at(-1)?.headerType).toBe(OGG_EOS);
    expect(pages.at(-1)?.granulePosition).toBe(BigInt(packets.length * 960));
    expect(pages.flatMap((p) => p.packets).slice(2)).toEqual(packets);
    expect(probe(path)).toMatchObject({ codec_name: 'opus', channels: '1', sample_rate: '48000', format_name: 'ogg', duration: (packets.length * 0.02).toFixed(6) });
    const errors = execFileSync('bash', ['-c', `ffmpeg -v error -i "${path}" -f null - 2>&1`], { encoding: 'utf8' });
    expect(errors).toBe('');
  });
});

describe('packet leg writers', () => {
  it('Opus: a lost packet and a late start become silence frames, so the duration follows the wall clock', () => {
    const packets = libopusPackets(2);
    const start = 1_000_000;
    const path = join(dir, 'leg.wav');
    const writer = openLegWriter(path, OPUS);
    expect(writer.path).toBe(join(dir, 'leg.opus'));
    const tl = new Timeline({ startMs: start, clockRateHz: 48000, bytesPerTick: 1, reorderMs: 60 });
    const apply = (ws: ReturnType<Timeline['push']>): void => { for (const x of ws) { if (x.kind === 'audio') writer.write(x.bytes); else if (x.kind === 'silence') writer.fill(x.count); else writer.truncate(x.length); } };
    // First packet 500 ms after the recording started; packet 10 lost; call ends 600 ms after the last packet.
    packets.forEach((payload, i) => {
      if (i === 10) return;
      apply(tl.push({ ssrc: 1, sequenceNumber: i, timestamp: 90000 + i * 960, payload }, start + 500 + i * 20));
    });
    const endMs = 500 + packets.length * 20 + 600;
    apply(tl.finish(start + endMs));
    writer.close();
    const stats = writer.adjustStats(tl.stats);
    expect(stats.lost).toBe(1);
    expect(stats.audioBytes).toBe(packets.reduce((a, p, i) => a + (i === 10 ? 0 : p.length), 0));
    expect(stats.silenceBytes).toBe(((500 + 20 + 600) / 20) * OPUS_SILENCE_FRAME.length);
    const out = readOggPages(readFileSync(writer.path));
    expect(out.at(-1)?.granulePosition).toBe(BigInt(endMs * 48));
    expect(probe(writer.path)).toMatchObject({ codec_name: 'opus', duration: (endMs / 1000).toFixed(6) });
  });

  it('G.729: frames kept whole, a gap filled with silence frames, an Annex B SID frame written as one silence frame', () => {
    const start = 2_000_000;
    const writer = openLegWriter(join(dir, 'g729.wav'), G729);
    const tl = new Timeline({ startMs: start, clockRateHz: 8000, bytesPerTick: 1, reorderMs: 60 });
    const apply = (ws: ReturnType<Timeline['push']>): void => { for (const x of ws) { if (x.kind === 'audio') writer.write(x.bytes); else if (x.kind === 'silence') writer.fill(x.count); else writer.truncate(x.length); } };
    const frame = Buffer.from('0123456789abcdef0123', 'hex');
    // 20 ms packets (two frames) for 1 s, one lost; then a 12-byte packet (frame + SID) and 1 s of silence suppression.
    for (let i = 0; i < 50; i++) {
      if (i === 20) continue;
      apply(tl.push({ ssrc: 9, sequenceNumber: i, timestamp: i * 160, payload: Buffer.concat([frame, frame]) }, start + i * 20));
    }
    apply(tl.push({ ssrc: 9, sequenceNumber: 50, timestamp: 50 * 160, payload: Buffer.concat([frame, Buffer.from([1, 2])]) }, start + 1000));
    apply(tl.finish(start + 2020));
    writer.close();
    const info = readWavInfo(writer.path);
    expect(info.format.formatTag).toBe(0x0083);
    expect(info.declaredDataBytes).toBe(2020 / 10 * 10);
    const data = readFileSync(writer.path).subarray(info.dataOffset);
    expect(data.subarray(400, 410)).toEqual(G729_SILENCE_FRAME);
    expect(data.subarray(1000, 1010)).toEqual(frame);
    expect(data.subarray(1010, 1020)).toEqual(G729_SILENCE_FRAME);
    expect(probe(writer.path)).toMatchObject({ codec_name: 'g729', channels: '1', sample_rate: '8000', duration: '2.020000' });
    expect(writer.adjustStats(emptyStats()).malformed).toBe(0);
  });

  it('cuts a leg back to the call: Opus by the last page granule (RFC 7845 end trimming), G.729 at a frame', () => {
    const packets = libopusPackets(1);
    const opus = openLegWriter(join(dir, 'cut.wav'), OPUS);
    for (const p of packets) {
      opus.write(p);
      opus.fill((opusPacketSamples(p) ?? 960) - p.length);
    }
    // The call ended 200 ms (the most the timeline runs ahead) before the newest packet's end.
    const cut = packets.length * 960 - 9600;
    opus.truncate(cut);
    opus.close();
    expect(readOggPages(readFileSync(opus.path)).at(-1)?.granulePosition).toBe(BigInt(cut));
    expect(Number(probe(opus.path)['duration'])).toBeCloseTo(cut / 48000, 2);

    const g729 = openLegWriter(join(dir, 'cut-g729.wav'), G729);
    const frame = Buffer.from('0123456789abcdef0123', 'hex');
    for (let i = 0; i < 50; i++) {
      g729.write(Buffer.concat([frame, frame]));
      g729.fill(160 - 20);
    }
    g729.truncate(4000);
    g729.close();
    expect(readWavInfo(g729.path).declaredDataBytes).toBe(500);
    expect(probe(g729.path)).toMatchObject({ codec_name: 'g729', duration: '0.500000' });
  });
});
