/**
 * Playback decoding checked against ffmpeg: a G.722 file ffmpeg encoded, and an A-law file, are
 * decoded by callseal for the browser; the PCM must be what ffmpeg decodes from the same file, and
 * any byte range must be exactly that slice of the whole.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { OGG_OPUS_TYPE, playable, playback } from './playback.ts';
import { WavWriter } from './wav.ts';
import { G729 } from './codecs.ts';
import { encodeG729, sinePcm } from '../../test/helpers/g729.ts';

const dir = mkdtempSync(join(tmpdir(), 'callseal-playback-'));

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

async function collect(p: ReturnType<typeof playback>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of p.stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Speech-like test signal: a tone under noise, 3 s at 16 kHz. */
function source(): string[] {
  return ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=16000', '-f', 'lavfi', '-i', 'anoisesrc=d=3:r=16000:a=0.3:seed=7', '-filter_complex', 'amix=inputs=2'];
}

describe('playback decoding', () => {
  for (const [name, codec, rate] of [['G.722', 'g722', '16000'], ['A-law', 'pcm_alaw', '8000']] as const) {
    it(`decodes ${name} exactly as ffmpeg does, whole and in byte ranges`, async () => {
      const file = join(dir, `${codec}.wav`);
      ffmpeg(...source(), '-ar', rate, '-ac', '1', '-c:a', codec, file);
      const reference = join(dir, `${codec}.raw`);
      ffmpeg('-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', reference);
      expect(playable(file)).toBe(true);
      const whole = await collect(playback(file));
      expect(whole.readUInt32LE(24)).toBe(Number(rate));
      expect(whole.subarray(44).equals(readFileSync(reference))).toBe(true);
      // Seeking: ranges across the header, odd offsets, the very end.
      for (const [start, end] of [[0, 10], [30, 1000], [1001, 5000], [whole.length - 7, whole.length - 1], [12_345, undefined]] as const) {
        const p = playback(file, { start, ...(end !== undefined ? { end } : {}) });
        expect(p.totalBytes).toBe(whole.length);
        const part = await collect(p);
        expect(part.equals(whole.subarray(start, (end ?? whole.length - 1) + 1)), `${start}-${String(end)}`).toBe(true);
      }
    });
  }

  it('decodes G.729 through ffmpeg exactly as ffmpeg does, whole and in byte ranges', async () => {
    const file = join(dir, 'g729.wav');
    const w = new WavWriter(file, { formatTag: G729.formatTag, channels: 1, sampleRateHz: 8000, bitsPerSample: 0, byteRate: 1000, blockAlign: 10 });
    w.write(encodeG729(sinePcm(440, 2)));
    w.close();
    const reference = join(dir, 'g729.raw');
    ffmpeg('-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', reference);
    expect(playable(file)).toBe(true);
    const p = playback(file);
    expect(p.contentType).toBe('audio/wav');
    const whole = await collect(p);
    expect(whole.length).toBe(44 + 2 * 8000 * 2);
    expect(whole.subarray(44).equals(readFileSync(reference))).toBe(true);
    for (const [start, end] of [[0, 10], [30, 1000], [whole.length - 7, whole.length - 1], [12_345, undefined]] as const) {
      const part = await collect(playback(file, { start, ...(end !== undefined ? { end } : {}) }));
      expect(part.equals(whole.subarray(start, (end ?? whole.length - 1) + 1)), `${start}-${String(end)}`).toBe(true);
    }
  });

  it('ends a G.729 response with its last byte, so the HTTP server can close its keep-alive connection', async () => {
    // Regression: the response ended only when ffmpeg exited, after the client had every byte;
    // the keep-alive connection then stayed open and the server's close() never returned.
    const file = join(dir, 'g729-close.wav');
    const w = new WavWriter(file, { formatTag: G729.formatTag, channels: 1, sampleRateHz: 8000, bitsPerSample: 0, byteRate: 1000, blockAlign: 10 });
    w.write(encodeG729(sinePcm(440, 1)));
    w.close();
    const app = Fastify();
    app.get('/a', (req, reply) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      const p = playback(file, m ? { start: Number(m[1]), end: Number(m[2]) } : undefined);
      return reply.header('content-length', p.end - p.start + 1).type(p.contentType).send(p.stream);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}/a`;
    expect((await (await fetch(url)).arrayBuffer()).byteLength).toBe(44 + 16000);
    expect((await (await fetch(url, { headers: { range: 'bytes=100-4099' } })).arrayBuffer()).byteLength).toBe(4000);
    const closed = await Promise.race([app.close().then(() => 'closed'), new Promise((r) => setTimeout(r, 5000, 'still open'))]);
    expect(closed).toBe('closed');
  });

  it('serves Ogg Opus as it is, for the browser to decode', async () => {
    const file = join(dir, 'tone.opus');
    ffmpeg('-f', 'lavfi', '-i', 'sine=duration=1:sample_rate=48000', '-c:a', 'libopus', file);
    expect(playable(file)).toBe(true);
    const p = playback(file, { start: 100, end: 199 });
    expect(p.contentType).toBe(OGG_OPUS_TYPE);
    expect((await collect(p)).equals(readFileSync(file).subarray(100, 200))).toBe(true);
    expect((await collect(playback(file))).equals(readFileSync(file))).toBe(true);
  });

  it('refuses a codec it cannot decode', () => {
    const file = join(dir, 'pcm.wav');
    ffmpeg('-f', 'lavfi', '-i', 'sine=duration=0.2:sample_rate=8000', '-c:a', 'pcm_s16le', file);
    expect(playable(file)).toBe(false);
    expect(() => playback(file)).toThrow(/only G.711, mono G.722/);
  });
});
