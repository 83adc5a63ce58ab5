/**
 * Stereo merge after the call (B1): left = caller, right = callee, byte-interleaved, never mixed.
 * Streams in chunks (bounded memory); the shorter leg is padded with codec silence. Runs with
 * async file I/O so the SIP thread is not blocked for long files.
 */
import { open, rename, rm } from 'node:fs/promises';
import { readWavInfo, wavHeader, WAV_HEADER_SIZE } from './wav.ts';
import type { Codec } from './codecs.ts';

const CHUNK_BYTES = 64 * 1024;


/** Merges two mono files of `codec` into `outPath` (written to a temp name, then renamed). */
export async function mergeStereo(leftPath: string, rightPath: string, outPath: string, codec: Codec): Promise<{ dataBytes: number }> {
  const left = readWavInfo(leftPath);
  const right = readWavInfo(rightPath);
  const leftBytes = left.fileBytes - left.dataOffset;
  const rightBytes = right.fileBytes - right.dataOffset;
  const frames = Math.max(leftBytes, rightBytes);
  // Only byte-interleavable codecs (G.711) are merged; their silence is a single byte.
  const silence = codec.silence[0] ?? 0;
  const tmp = `${outPath}.part`;
  const [l, r, out] = await Promise.all([open(leftPath, 'r'), open(rightPath, 'r'), open(tmp, 'w')]);
  let ok = false;
  try {
    const format = {
      formatTag: codec.formatTag, channels: 2, sampleRateHz: codec.sampleRateHz, bitsPerSample: codec.bitsPerSample,
      byteRate: 2 * codec.clockRateHz * codec.bytesPerTick, blockAlign: 2 * codec.blockAlign,
    };
    await out.write(wavHeader(format, 2 * frames), 0, WAV_HEADER_SIZE, 0);
    const lb = Buffer.alloc(CHUNK_BYTES);
    const rb = Buffer.alloc(CHUNK_BYTES);
    const ob = Buffer.alloc(2 * CHUNK_BYTES);
    for (let done = 0; done < frames; done += CHUNK_BYTES) {
      const n = Math.min(CHUNK_BYTES, frames - done);
      lb.fill(silence, 0, n);
      rb.fill(silence, 0, n);
      if (done < leftBytes) await l.read(lb, 0, Math.min(n, leftBytes - done), left.dataOffset + done);
      if (done < rightBytes) await r.read(rb, 0, Math.min(n, rightBytes - done), right.dataOffset + done);
      for (let i = 0; i < n; i++) {
        ob[2 * i] = lb[i] ?? silence;
        ob[2 * i + 1] = rb[i] ?? silence;
      }
      await out.write(ob, 0, 2 * n, WAV_HEADER_SIZE + 2 * done);
    }
    await out.sync();
    ok = true;
  } finally {
    await Promise.all([l.close(), r.close(), out.close()]);
    // A half-written merge (a full disk) must not hold the space a retry needs.
    if (!ok) await rm(tmp, { force: true });
  }
  await rename(tmp, outPath);
  return { dataBytes: 2 * frames };
}
