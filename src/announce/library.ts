/**
 * The announcement library (C1, C2): uploads decoded once, at upload, to 8 kHz and 16 kHz mono
 * 16-bit PCM, stored as WAV files under `<home>/announcements/<id>/` beside the file as uploaded,
 * each with its SHA-256 in the `announcements` row. Settings name an announcement by its id, so a
 * setting keeps its announcement across upgrades and renames. `payloads()` encodes the PCM to 20 ms
 * frames of the call's codec, checked against the stored hash and cached.
 *
 * It must not decide which announcement a call gets (the policy's settings and the b2bua do), and
 * must not delete an announcement a setting uses.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { CallsealError, InvalidStateError, ParseError, errorMessage } from '../common/errors.ts';
import { fsyncPath } from '../common/fsync.ts';
import type { Logger } from '../common/log.ts';
import { WAV_HEADER_SIZE, wavHeader } from '../media/index.ts';
import { AnnouncementRepository, type AnnouncementRow } from '../store/index.ts';
import { decodeUpload } from './decode.ts';
import { encodeFrames, sourceRateHz, type AnnouncementCodec } from './frames.ts';
import { resample } from './resample.ts';

/** One announcement as the library lists it. */
export type Announcement = AnnouncementRow;

/** Default upper bound of an upload's size. */
export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
/** Default upper bound of an announcement's duration. */
export const DEFAULT_MAX_DURATION_MS = 5 * 60 * 1000;
/** Encoded announcements kept in memory (id and codec); the oldest goes first. */
const CACHE_ENTRIES = 64;
const RATES = [8000, 16000] as const;

/** Options of {@link AnnouncementLibrary}. */
export interface AnnouncementLibraryOptions {
  readonly db: DatabaseSync;
  /** Folder of the library's files (`<home>/announcements`). */
  readonly root: string;
  readonly log: Logger;
  /** The ids of the settings that use an announcement; a used one cannot be deleted. */
  readonly usedBy: (announcementId: string) => readonly string[];
  readonly maxUploadBytes?: number;
  readonly maxDurationMs?: number;
  readonly now?: () => number;
}

/** What an upload is. */
export interface AnnouncementUpload {
  readonly name: string;
  readonly bytes: Buffer;
  /** Who uploaded it (the account name and address). */
  readonly by: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function pcmWav(pcm: Int16Array, rateHz: number): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const header = wavHeader({ formatTag: 1, channels: 1, sampleRateHz: rateHz, byteRate: rateHz * 2, blockAlign: 2, bitsPerSample: 16 }, data.length);
  return Buffer.concat([header, data]);
}

/** The announcement library. */
export class AnnouncementLibrary {
  readonly #repo: AnnouncementRepository;
  readonly #o: AnnouncementLibraryOptions;
  readonly #cache = new Map<string, Promise<readonly Buffer[]>>();
  readonly maxUploadBytes: number;
  readonly maxDurationMs: number;

  constructor(o: AnnouncementLibraryOptions) {
    this.#o = o;
    this.#repo = new AnnouncementRepository(o.db);
    this.maxUploadBytes = o.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    this.maxDurationMs = o.maxDurationMs ?? DEFAULT_MAX_DURATION_MS;
    // An upload cut short by a crash leaves its staging folder: it never got a row, so it goes.
    if (existsSync(o.root)) {
      for (const name of readdirSync(o.root)) if (name.startsWith('.upload-')) rmSync(join(o.root, name), { recursive: true, force: true });
    }
  }

  /** Every announcement, oldest first. */
  list(): Announcement[] {
    return this.#repo.list();
  }

  /** One announcement. */
  get(id: string): Announcement | undefined {
    return this.#repo.get(id);
  }

  /** The ids of every announcement (settings are checked against them). */
  ids(): Set<string> {
    return this.#repo.ids();
  }

  /**
   * Decodes and stores an upload. Throws ParseError CS_ANNOUNCE_INVALID (not a decodable WAV or
   * MP3) or CS_ANNOUNCE_TOO_LARGE (size or duration above the limits).
   */
  async upload(u: AnnouncementUpload): Promise<Announcement> {
    if (u.bytes.length > this.maxUploadBytes) throw new ParseError('CS_ANNOUNCE_TOO_LARGE', `upload of ${String(u.bytes.length)} bytes is above the ${String(this.maxUploadBytes)} allowed`);
    const audio = await decodeUpload(u.bytes, this.maxDurationMs);
    const pcm = await Promise.all(RATES.map((rate) => resample(audio.samples, audio.sampleRateHz, rate)));
    const files = RATES.map((rate, i) => pcmWav(pcm[i] as Int16Array, rate));
    const id = randomUUID();
    const staging = join(this.#o.root, `.upload-${id}`);
    const final = join(this.#o.root, id);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      await writeFile(join(staging, `original.${audio.format}`), u.bytes, { mode: 0o600 });
      for (const [i, rate] of RATES.entries()) await writeFile(join(staging, `${String(rate)}.wav`), files[i] as Buffer, { mode: 0o600 });
      for (const name of [`original.${audio.format}`, ...RATES.map((r) => `${String(r)}.wav`)]) await fsyncPath(join(staging, name));
      await rename(staging, final);
      await fsyncPath(this.#o.root);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw new CallsealError('CS_ANNOUNCE_IO', `announcement files could not be written [announcement:${id}]: ${errorMessage(err)}`, { cause: err });
    }
    const row: Announcement = {
      id, name: u.name, format: audio.format, sha256: sha256(u.bytes), sizeBytes: u.bytes.length,
      durationMs: Math.round((audio.samples.length / audio.sampleRateHz) * 1000), sourceRateHz: audio.sampleRateHz, sourceChannels: audio.sourceChannels,
      pcm8kSha256: sha256(files[0] as Buffer), pcm16kSha256: sha256(files[1] as Buffer), uploadedBy: u.by, uploadedMs: (this.#o.now ?? Date.now)(),
    };
    try {
      this.#repo.add(row);
    } catch (err) {
      await rm(final, { recursive: true, force: true });
      throw err;
    }
    this.#o.log.info({ announcement: id, name: u.name, format: audio.format, durationMs: row.durationMs, sha256: row.sha256 }, 'announcement uploaded');
    return row;
  }

  /**
   * Deletes an announcement and its files. Throws InvalidStateError CS_ANNOUNCE_IN_USE while a
   * setting uses it, CallsealError CS_ANNOUNCE_UNKNOWN when there is none.
   */
  async delete(id: string): Promise<void> {
    if (!this.#repo.get(id)) throw new CallsealError('CS_ANNOUNCE_UNKNOWN', `no announcement "${id}"`);
    // The check and the delete run in one synchronous step: no setting can be saved between them.
    const users = this.#o.usedBy(id);
    if (users.length > 0) throw new InvalidStateError('CS_ANNOUNCE_IN_USE', `announcement "${id}" is used by the settings ${users.map((s) => `"${s}"`).join(', ')}`);
    this.#repo.delete(id);
    for (const key of [...this.#cache.keys()]) if (key.startsWith(`${id}/`)) this.#cache.delete(key);
    await rm(join(this.#o.root, id), { recursive: true, force: true });
    this.#o.log.info({ announcement: id }, 'announcement deleted');
  }

  /**
   * The stored WAV file of an announcement at 8 or 16 kHz, checked against its SHA-256. Throws
   * CS_ANNOUNCE_UNKNOWN or CS_ANNOUNCE_DAMAGED.
   */
  async wav(id: string, rateHz: 8000 | 16000): Promise<Buffer> {
    const row = this.#repo.get(id);
    if (!row) throw new CallsealError('CS_ANNOUNCE_UNKNOWN', `no announcement "${id}"`);
    const path = join(this.#o.root, id, `${String(rateHz)}.wav`);
    let file: Buffer;
    try {
      file = await readFile(path);
    } catch (err) {
      throw new CallsealError('CS_ANNOUNCE_DAMAGED', `announcement file is missing [announcement:${id}, file:${path}]: ${errorMessage(err)}`, { cause: err });
    }
    const expected = rateHz === 8000 ? row.pcm8kSha256 : row.pcm16kSha256;
    if (sha256(file) !== expected) throw new CallsealError('CS_ANNOUNCE_DAMAGED', `announcement file does not match its SHA-256 [announcement:${id}, file:${path}]`);
    return file;
  }

  /**
   * The announcement as 20 ms payloads of `codec`, cached. Throws CS_ANNOUNCE_UNKNOWN or
   * CS_ANNOUNCE_DAMAGED. The buffers are shared between callers: they must not be changed.
   */
  payloads(id: string, codec: AnnouncementCodec): Promise<readonly Buffer[]> {
    const key = `${id}/${codec}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const work = this.#encode(id, codec);
    this.#cache.set(key, work);
    if (this.#cache.size > CACHE_ENTRIES) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    // A failed encoding is not kept: the next call reads the file again.
    work.catch(() => { if (this.#cache.get(key) === work) this.#cache.delete(key); });
    return work;
  }

  async #encode(id: string, codec: AnnouncementCodec): Promise<readonly Buffer[]> {
    const rate = sourceRateHz(codec);
    const file = await this.wav(id, rate);
    const data = file.subarray(WAV_HEADER_SIZE);
    const pcm = new Int16Array(data.length >> 1);
    for (let i = 0; i < pcm.length; i++) pcm[i] = data.readInt16LE(i * 2);
    return Object.freeze(encodeFrames(pcm, codec));
  }
}
