import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { silentLogger } from '../common/log.ts';
import { openDatabase } from '../store/index.ts';
import { ALAW_TABLE, ULAW_TABLE } from '../media/playback.ts';
import { G722Decoder } from '../media/g722.ts';
import { InvalidStateError } from '../common/errors.ts';
import { AnnouncementLibrary } from './library.ts';

let dir: string;
let db: DatabaseSync;
let used: Map<string, string[]>;
let lib: AnnouncementLibrary;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-lib-'));
  db = openDatabase(join(dir, 'callseal.db'));
  used = new Map();
  lib = new AnnouncementLibrary({ db, root: join(dir, 'announcements'), log: silentLogger(), usedBy: (id) => used.get(id) ?? [], now: () => 1_700_000_000_000 });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function tone(seconds: number, rate = 44100): Buffer {
  const path = join(dir, `tone-${String(seconds)}.wav`);
  execFileSync('sox', ['-D', '-n', '-r', String(rate), '-c', '1', '-b', '16', path, 'synth', String(seconds), 'sine', '1000', 'vol', '0.5']);
  return readFileSync(path);
}

/** RMS level of 16-bit samples. */
function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / pcm.length);
}

describe('the announcement library (C1)', () => {
  it('stores an upload with its SHA-256, duration and uploader, and lists it', async () => {
    const bytes = tone(1.01);
    const a = await lib.upload({ name: 'Welcome', bytes, by: 'admin@127.0.0.1' });
    expect(a).toMatchObject({ name: 'Welcome', format: 'wav', sizeBytes: bytes.length, durationMs: 1010, sourceRateHz: 44100, sourceChannels: 1, uploadedBy: 'admin@127.0.0.1', uploadedMs: 1_700_000_000_000 });
    expect(a.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(lib.list().map((x) => x.id)).toEqual([a.id]);
    const stored = join(dir, 'announcements', a.id);
    expect(readFileSync(join(stored, 'original.wav')).equals(bytes)).toBe(true);
    expect(createHash('sha256').update(readFileSync(join(stored, '8000.wav'))).digest('hex')).toBe(a.pcm8kSha256);
  });

  it('gives 20 ms payloads in PCMA, PCMU and G.722 that decode back to the tone', async () => {
    const a = await lib.upload({ name: 'Tone', bytes: tone(1.01), by: 'admin' });
    for (const codec of ['PCMA', 'PCMU', 'G722'] as const) {
      const frames = await lib.payloads(a.id, codec);
      // 1010 ms is 50.5 frames: the last one is filled with silence.
      expect(frames.length, codec).toBe(51);
      for (const f of frames) expect(f.length).toBe(160);
      const bytes = Buffer.concat(frames);
      const pcm = codec === 'G722'
        ? new Int16Array(new G722Decoder().decode(bytes).buffer.slice(0))
        : Int16Array.from(bytes, (c) => (codec === 'PCMA' ? ALAW_TABLE : ULAW_TABLE).readInt16LE(c * 2));
      // vol 0.5 of a sine is an RMS of 0.354 of full scale (11,585).
      expect(rms(pcm.subarray(800, 8000)), codec).toBeGreaterThan(10_500);
      expect(rms(pcm.subarray(800, 8000)), codec).toBeLessThan(12_500);
    }
    expect(await lib.payloads(a.id, 'PCMA')).toBe(await lib.payloads(a.id, 'PCMA'));
  });

  it('refuses to delete an announcement a setting uses, and deletes it with its files once free', async () => {
    const a = await lib.upload({ name: 'Notice', bytes: tone(0.2), by: 'admin' });
    used.set(a.id, ['sales']);
    await expect(lib.delete(a.id)).rejects.toThrow(InvalidStateError);
    await expect(lib.delete(a.id)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_IN_USE' });
    used.clear();
    await lib.delete(a.id);
    expect(lib.get(a.id)).toBeUndefined();
    expect(existsSync(join(dir, 'announcements', a.id))).toBe(false);
    await expect(lib.delete(a.id)).rejects.toMatchObject({ code: 'CS_ANNOUNCE_UNKNOWN' });
    await expect(lib.payloads(a.id, 'PCMU')).rejects.toMatchObject({ code: 'CS_ANNOUNCE_UNKNOWN' });
  });

  it('does not play a stored file whose SHA-256 changed or that is gone', async () => {
    const a = await lib.upload({ name: 'Notice', bytes: tone(0.2), by: 'admin' });
    const file = join(dir, 'announcements', a.id, '8000.wav');
    const b = readFileSync(file);
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
    writeFileSync(file, b);
    await expect(lib.payloads(a.id, 'PCMA')).rejects.toMatchObject({ code: 'CS_ANNOUNCE_DAMAGED' });
    rmSync(file);
    await expect(lib.payloads(a.id, 'PCMA')).rejects.toMatchObject({ code: 'CS_ANNOUNCE_DAMAGED' });
  });

  it('removes the staging folder of an upload a crash cut short, and keeps stored announcements', async () => {
    const a = await lib.upload({ name: 'Kept', bytes: tone(0.2), by: 'admin' });
    const staging = join(dir, 'announcements', '.upload-0000');
    mkdirSync(staging);
    writeFileSync(join(staging, 'original.wav'), 'half');
    const again = new AnnouncementLibrary({ db, root: join(dir, 'announcements'), log: silentLogger(), usedBy: () => [] });
    expect(existsSync(staging)).toBe(false);
    expect((await again.payloads(a.id, 'PCMA')).length).toBe(10);
  });

  it('refuses an upload above the size limit before decoding it', async () => {
    const small = new AnnouncementLibrary({ db, root: join(dir, 'a2'), log: silentLogger(), usedBy: () => [], maxUploadBytes: 1000 });
    await expect(small.upload({ name: 'big', bytes: tone(0.2), by: 'admin' })).rejects.toMatchObject({ code: 'CS_ANNOUNCE_TOO_LARGE' });
    expect(small.list()).toEqual([]);
  });
});
