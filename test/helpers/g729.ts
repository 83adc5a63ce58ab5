/**
 * A G.729 encoder for tests: ffmpeg has no G.729 encoder, so a tiny C program around Debian's
 * bcg729 library (libbcg729-dev, installed by scripts/test-deps.sh) turns 8 kHz 16-bit PCM into
 * the ITU G.729 bitstream (10 bytes per 10 ms frame, the RTP payload format of RFC 3551 section 4.5.6).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = `#include <stdio.h>
#include <stdint.h>
#include <bcg729/encoder.h>
int main(void) {
  bcg729EncoderChannelContextStruct *ctx = initBcg729EncoderChannel(0);
  int16_t in[80]; uint8_t out[10]; uint8_t len;
  while (fread(in, 2, 80, stdin) == 80) { bcg729Encoder(ctx, in, out, &len); fwrite(out, 1, len, stdout); }
  closeBcg729EncoderChannel(ctx);
  return 0;
}
`;

let binary: string | undefined;

function encoder(): string {
  if (binary && existsSync(binary)) return binary;
  const dir = mkdtempSync(join(tmpdir(), 'callseal-g729-'));
  writeFileSync(join(dir, 'enc.c'), SOURCE);
  execFileSync('gcc', ['-O2', '-o', join(dir, 'enc'), join(dir, 'enc.c'), '-lbcg729']);
  binary = join(dir, 'enc');
  return binary;
}

/** Encodes 8 kHz mono s16le PCM to G.729 frames (10 bytes each; a trailing partial frame is dropped). */
export function encodeG729(pcm: Buffer): Buffer {
  return execFileSync(encoder(), [], { input: pcm, maxBuffer: 64 * 1024 * 1024 });
}

/** `seconds` of a sine at `hz` (8 kHz, amplitude 0.5), as s16le PCM. */
export function sinePcm(hz: number, seconds: number): Buffer {
  const n = Math.round(seconds * 8000);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(16383 * Math.sin((2 * Math.PI * hz * i) / 8000)), i * 2);
  return b;
}
