/**
 * bench/playback: how fast callseal decodes recordings for the browser (H3), as a multiple of real
 * time and as a ratio to ffmpeg decoding the same file in the same run. One hour of G.711 stereo and
 * one hour of G.722 mono, made by ffmpeg.
 *
 * Usage: npm run bench -- playback
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { playback } from '../src/media/playback.ts';

async function drain(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of playback(path).stream) n += (chunk as Buffer).length;
  return n;
}

export async function playbackBench(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'callseal-bench-playback-'));
  const seconds = 3600;
  const files = {
    alaw: join(dir, 'alaw.wav'),
    g722: join(dir, 'g722.wav'),
  };
  const src = ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=16000`];
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...src, '-ar', '8000', '-ac', '2', '-c:a', 'pcm_alaw', files.alaw]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...src, '-ar', '16000', '-ac', '1', '-c:a', 'g722', files.g722]);
  const result: Record<string, number> = {};
  console.log('\nplayback (one hour of audio each)');
  for (const [name, file] of Object.entries(files)) {
    let t = performance.now();
    await drain(file);
    const mine = (performance.now() - t) / 1000;
    t = performance.now();
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', '/dev/null']);
    const ff = (performance.now() - t) / 1000;
    result[`${name}Sec`] = Number(mine.toFixed(2));
    result[`${name}RealtimeX`] = Math.round(seconds / mine);
    result[`${name}RatioToFfmpeg`] = Number((ff / mine).toFixed(2));
    console.log(`  ${name.padEnd(5)} callseal ${mine.toFixed(2)} s (${Math.round(seconds / mine)}x real time), ffmpeg ${ff.toFixed(2)} s — ratio ${(ff / mine).toFixed(2)}`);
  }
  mkdirSync(resolve(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(resolve(import.meta.dirname, 'out/playback.json'), JSON.stringify(result, null, 2));
  return result;
}
