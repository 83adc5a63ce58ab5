import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALAW_TABLE, ULAW_TABLE } from '../media/playback.ts';
import { encodeG711, linearToAlaw, linearToUlaw } from './g711.ts';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

/** Every 16-bit value, as sox and the encoders take them. */
function allSamples(): Int16Array {
  const pcm = new Int16Array(65536);
  for (let i = 0; i < pcm.length; i++) pcm[i] = i - 32768;
  return pcm;
}

describe('G.711 encoders (ITU-T G.711)', () => {
  it('map every code decoded by the playback tables back to itself (mu-law: both zeros give 0xFF)', () => {
    for (let code = 0; code < 256; code++) {
      expect(linearToAlaw(ALAW_TABLE.readInt16LE(code * 2)), `A-law ${code.toString(16)}`).toBe(code);
      const ulaw = ULAW_TABLE.readInt16LE(code * 2);
      expect(linearToUlaw(ulaw), `mu-law ${code.toString(16)}`).toBe(code === 0x7f ? 0xff : code);
    }
  });

  it('keep the error of every 16-bit sample within half a quantization step', () => {
    const pcm = allSamples();
    for (const [encode, table] of [[linearToAlaw, ALAW_TABLE], [linearToUlaw, ULAW_TABLE]] as const) {
      for (const s of pcm) {
        const back = table.readInt16LE(encode(s) * 2);
        // The step at |s| is 1/16 of its segment: at most 1024 for the top A-law segment, 1024+ for mu-law.
        const step = Math.max(16, 2 ** Math.ceil(Math.log2(Math.abs(s) + 1)) / 16);
        expect(Math.abs(back - s) <= step, `${String(s)} -> ${String(back)}`).toBe(true);
      }
    }
  });

  it('encode every 16-bit sample as sox does, but where sox rounds to 13/14 bits before the segment search', () => {
    dir = mkdtempSync(join(tmpdir(), 'callseal-g711-'));
    const pcm = allSamples();
    const raw = join(dir, 'in.raw');
    writeFileSync(raw, Buffer.from(pcm.buffer));
    for (const [encoding, encode, table] of [['a-law', linearToAlaw, ALAW_TABLE], ['u-law', linearToUlaw, ULAW_TABLE]] as const) {
      const out = join(dir, `${encoding}.raw`);
      // -D: no dither, so sox encodes each sample as it is.
      execFileSync('sox', ['-D', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', raw, '-t', 'raw', '-e', encoding, '-b', '8', out]);
      const theirs = readFileSync(out);
      const ours = encodeG711(pcm, encode);
      let differing = 0;
      for (let i = 0; i < pcm.length; i++) {
        if (ours[i] === theirs[i]) continue;
        differing++;
        // The G.191 reference truncates to 13 (A-law) or 14 (mu-law) bits; sox rounds. They differ
        // only on samples within one such LSB (8) of a decision level: moved by at most that, ours gives sox's code.
        const s = pcm[i] ?? 0;
        const near = Array.from({ length: 17 }, (_v, k) => s - 8 + k).some((v) => v >= -32768 && v <= 32767 && encode(v) === theirs[i]);
        expect(near, `${encoding} ${String(s)}: ours ${String(table.readInt16LE((ours[i] ?? 0) * 2))}, sox ${String(table.readInt16LE((theirs[i] ?? 0) * 2))}`).toBe(true);
      }
      expect(differing / pcm.length, encoding).toBeLessThan(0.02);
    }
  });
});
