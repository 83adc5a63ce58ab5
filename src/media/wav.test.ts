/**
 * WAV writer: the header golden bytes, streaming, cutting back, write errors, header repair after a
 * crash, and the RF64 upgrade above 4 GiB (checked on the header alone; ffprobe reads both forms in
 * the integration tests).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { WavWriter, wavHeader, readWavInfo, repairWavHeader, WAV_HEADER_SIZE } from './wav.ts';
import { mergeStereo } from './merge.ts';
import { PCMA, PCMU } from './codecs.ts';

const ALAW_MONO = { formatTag: 6, channels: 1, sampleRateHz: 8000, bitsPerSample: 8, byteRate: 8000, blockAlign: 1 };
const dir = (): string => mkdtempSync(join(tmpdir(), 'callseal-wav-'));

describe('wavHeader', () => {
  it('writes the documented 94-byte layout (golden)', () => {
    const h = wavHeader(ALAW_MONO, 8000);
    expect(h.length).toBe(WAV_HEADER_SIZE);
    expect(h.toString('hex')).toBe(
      '52494646' + '961f0000' + '57415645' + // RIFF, 86+8000, WAVE
      '4a554e4b' + '1c000000' + '00'.repeat(28) + // JUNK (room for ds64)
      '666d7420' + '12000000' + '0600' + '0100' + '401f0000' + '401f0000' + '0100' + '0800' + '0000' + // fmt
      '66616374' + '04000000' + '401f0000' + // fact
      '64617461' + '401f0000', // data
    );
  });

  it('turns into RF64 with a ds64 chunk when the sizes pass 4 GiB', () => {
    const big = 5 * 1024 ** 3;
    const h = wavHeader(ALAW_MONO, big);
    expect(h.toString('latin1', 0, 4)).toBe('RF64');
    expect(h.toString('latin1', 12, 16)).toBe('ds64');
    expect(h.readUInt32LE(4)).toBe(0xffffffff);
    expect(Number(h.readBigUInt64LE(28))).toBe(big);
    expect(h.readUInt32LE(90)).toBe(0xffffffff);
  });
});

describe('WavWriter', () => {
  it('streams bytes and silence; ffprobe reads the result', () => {
    const path = join(dir(), 'a.wav');
    const w = new WavWriter(path, ALAW_MONO, 1000);
    w.write(Buffer.alloc(2500, 0x55));
    w.fill(PCMA.silence, 5500);
    w.close();
    w.close();
    const data = readFileSync(path);
    expect(data.length).toBe(WAV_HEADER_SIZE + 8000);
    expect(data[WAV_HEADER_SIZE]).toBe(0x55);
    expect(data[data.length - 1]).toBe(0xd5);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path], { encoding: 'utf8' })) as { streams: { codec_name: string; duration: string }[] };
    expect(probe.streams[0]?.codec_name).toBe('pcm_alaw');
    expect(Number(probe.streams[0]?.duration)).toBeCloseTo(1, 3);
  });

  it('ffprobe reads an RF64 header written by callseal', () => {
    const path = join(dir(), 'rf64.wav');
    writeFileSync(path, Buffer.concat([wavHeader(ALAW_MONO, 16000, true), Buffer.alloc(16000, 0xd5)]));
    const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,duration', '-of', 'csv=p=0', path], { encoding: 'utf8' });
    expect(out.trim()).toBe('pcm_alaw,2.000000');
  });

  it('repairs the header of a file cut off by a crash', () => {
    const path = join(dir(), 'crash.wav');
    const w = new WavWriter(path, ALAW_MONO, 100);
    w.write(Buffer.alloc(800, 1));
    w.flush();
    // The process dies here: the header still says 0 bytes.
    expect(readWavInfo(path).declaredDataBytes).toBe(0);
    appendFileSync(path, Buffer.alloc(200, 2));
    expect(repairWavHeader(path)).toEqual({ dataBytes: 1000, changed: true });
    expect(readWavInfo(path).declaredDataBytes).toBe(1000);
    expect(repairWavHeader(path).changed).toBe(false);
  });
});

describe('mergeStereo', () => {
  it('interleaves left and right, padding the shorter leg with codec silence', async () => {
    const d = dir();
    const l = new WavWriter(join(d, 'l.wav'), { ...ALAW_MONO, formatTag: 7 });
    l.write(Buffer.from([1, 2, 3]));
    l.close();
    const r = new WavWriter(join(d, 'r.wav'), { ...ALAW_MONO, formatTag: 7 });
    r.write(Buffer.from([9]));
    r.close();
    await mergeStereo(join(d, 'l.wav'), join(d, 'r.wav'), join(d, 'out.wav'), PCMU);
    const out = readFileSync(join(d, 'out.wav'));
    expect([...out.subarray(WAV_HEADER_SIZE)]).toEqual([1, 9, 2, 0xff, 3, 0xff]);
    const info = readWavInfo(join(d, 'out.wav'));
    expect(info.format).toMatchObject({ formatTag: 7, channels: 2, blockAlign: 2, byteRate: 16000 });
  });
});

describe('WavWriter cut and write errors', () => {
  it('cuts audio back, in the buffer and in the file, and the header follows', () => {
    const d = dir();
    const inBuffer = new WavWriter(join(d, 'a.wav'), ALAW_MONO);
    inBuffer.write(Buffer.alloc(1000, 1));
    inBuffer.truncate(600);
    inBuffer.close();
    expect(readFileSync(join(d, 'a.wav')).length).toBe(WAV_HEADER_SIZE + 600);
    expect(readWavInfo(join(d, 'a.wav')).declaredDataBytes).toBe(600);
    const flushed = new WavWriter(join(d, 'b.wav'), ALAW_MONO, 256);
    flushed.write(Buffer.alloc(1000, 2));
    flushed.truncate(300);
    flushed.write(Buffer.alloc(10, 3));
    flushed.close();
    const bytes = readFileSync(join(d, 'b.wav'));
    expect(bytes.length).toBe(WAV_HEADER_SIZE + 310);
    expect(bytes[WAV_HEADER_SIZE + 300]).toBe(3);
    expect(readWavInfo(join(d, 'b.wav')).declaredDataBytes).toBe(310);
  });

  it('after dropBuffered, the header names only what reached the file', () => {
    const d = dir();
    const w = new WavWriter(join(d, 'c.wav'), ALAW_MONO, 256);
    w.write(Buffer.alloc(300, 1));
    expect(w.flushedBytes).toBe(256);
    expect(w.dropBuffered()).toBe(44);
    w.close();
    expect(w.dataBytes).toBe(256);
    expect(readWavInfo(join(d, 'c.wav')).declaredDataBytes).toBe(256);
  });
});
