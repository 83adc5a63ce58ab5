/**
 * The file writer of one recorded leg, chosen by codec when the leg opens: the media worker hands
 * it the timeline's writes (audio, or a gap) and never needs to know the container. Keeps the
 * original codec bytes (B2) and the wall-clock alignment (B7). Must not decode or transcode.
 *
 * `bytes` codecs (G.711, G.722) append the timeline's bytes to a WAV and fill gaps with the codec's
 * silence pattern. `packets` codecs (Opus, G.729) run the timeline in RTP ticks (one "byte" per
 * tick). The timeline then places every payload at its RTP position, so the position of an audio
 * write is the sum of all writes before it; the writer keeps each payload whole, and fills the
 * distance between where its file ends and where the next payload starts with silence frames.
 * This relies on a payload never being longer in bytes than the ticks to the next packet (the
 * timeline trims an overlap): true for G.729 (10 bytes per 80 ticks) and for Opus at telephony
 * rates (a 20 ms packet would need more than 960 bytes, 384 kbit/s).
 */
import { WavWriter } from './wav.ts';
import { OggOpusWriter, opusPacketSamples } from './ogg.ts';
import { codecFilePath, type Codec } from './codecs.ts';
import type { StreamStats } from '../rtp/index.ts';

/** What the worker needs from a leg's file writer. */
export interface LegWriter {
  /** The file being written. */
  readonly path: string;
  /** File bytes of audio written so far (headers not counted). */
  readonly dataBytes: number;
  /** Bytes that reached the file itself (not counting what is still buffered). */
  readonly flushedBytes: number;
  /**
   * The timeline's statistics as the file has them: for `packets` codecs, where the timeline counts
   * ticks, the bytes of original audio and of inserted silence really written, and payloads that
   * could not be written as they were (replaced by silence) added to `malformed`. A copy.
   */
  adjustStats(stats: Readonly<StreamStats>): StreamStats;
  /** Appends audio released by the timeline. */
  write(bytes: Buffer): void;
  /** Appends a gap of `count` timeline units (bytes for `bytes` codecs, ticks for `packets` codecs). */
  fill(count: number): void;
  /**
   * Cuts the leg back to `length` timeline units (the wall-clock bound at the end of a call). A
   * container of whole packets cuts at a packet boundary at or after `length` (Ogg Opus: the last
   * page's granule position trims the rest, RFC 7845 section 4.5).
   */
  truncate(length: number): void;
  /** After a write error: forgets what is buffered, so the file and `dataBytes` agree. */
  dropBuffered(): void;
  /** Pushes buffered audio to the file (called every 100 ms). */
  flush(): void;
  /** Writes the final header or page, fsyncs and closes. Idempotent. */
  close(): void;
}

/**
 * A mono WAV of one codec's bytes: what the G.711/G.722 leg writer and the G.729 sink share (the
 * file's path and sizes, dropping what is buffered, flushing, closing).
 */
abstract class WavBacked {
  protected readonly wav: WavWriter;

  constructor(path: string, codec: Codec, byteRate: number) {
    this.wav = new WavWriter(path, {
      formatTag: codec.formatTag, channels: 1, sampleRateHz: codec.sampleRateHz, bitsPerSample: codec.bitsPerSample,
      byteRate, blockAlign: codec.blockAlign,
    });
  }

  get path(): string {
    return this.wav.path;
  }

  get dataBytes(): number {
    return this.wav.dataBytes;
  }

  get flushedBytes(): number {
    return this.wav.flushedBytes;
  }

  dropBuffered(): void {
    this.wav.dropBuffered();
  }

  flush(): void {
    this.wav.flush();
  }

  close(): void {
    this.wav.close();
  }
}

/** G.711 and G.722: timeline bytes straight into a WAV. */
class ByteWavLegWriter extends WavBacked implements LegWriter {
  readonly #silence: Buffer;

  constructor(path: string, codec: Codec) {
    super(path, codec, codec.clockRateHz * codec.bytesPerTick);
    this.#silence = codec.silence;
  }

  adjustStats(stats: Readonly<StreamStats>): StreamStats {
    return { ...stats };
  }

  truncate(length: number): void {
    this.wav.truncate(length);
  }

  write(bytes: Buffer): void {
    this.wav.write(bytes);
  }

  fill(count: number): void {
    this.wav.fill(this.#silence, count);
  }
}

/** Where frames go once placed: a container of whole packets. */
interface FrameSink {
  readonly path: string;
  readonly dataBytes: number;
  readonly flushedBytes: number;
  /** Writes one payload; returns the ticks it lasts, or undefined when it is malformed (nothing written). */
  packet(payload: Buffer): number | undefined;
  /** Cuts the audio back to `ticks`; returns the ticks the file now holds. */
  truncate(ticks: number, writtenTicks: number): number;
  dropBuffered(): void;
  flush(): void;
  close(): void;
}

/** Places whole packets by their timeline position and fills gaps with silence frames. */
class PacketLegWriter implements LegWriter {
  readonly #sink: FrameSink;
  readonly #silence: Buffer;
  readonly #silenceTicks: number;
  /** Timeline position in ticks: the sum of every write so far. */
  #tick = 0;
  /** Ticks of audio in the file. */
  #written = 0;
  #audioBytes = 0;
  #silenceBytes = 0;
  #malformed = 0;

  constructor(sink: FrameSink, codec: Codec) {
    this.#sink = sink;
    this.#silence = codec.silence;
    this.#silenceTicks = codec.silenceFrameTicks;
  }

  get path(): string {
    return this.#sink.path;
  }

  get dataBytes(): number {
    return this.#sink.dataBytes;
  }

  get flushedBytes(): number {
    return this.#sink.flushedBytes;
  }

  truncate(length: number): void {
    if (length >= this.#tick) return;
    this.#tick = length;
    if (length < this.#written) this.#written = this.#sink.truncate(length, this.#written);
  }

  dropBuffered(): void {
    this.#sink.dropBuffered();
  }

  adjustStats(stats: Readonly<StreamStats>): StreamStats {
    return { ...stats, audioBytes: this.#audioBytes, silenceBytes: this.#silenceBytes, malformed: stats.malformed + this.#malformed };
  }

  /** Silence frames until the file reaches `tick` (within one frame). */
  #fillTo(tick: number): void {
    while (this.#written + this.#silenceTicks <= tick) {
      this.#written += this.#sink.packet(this.#silence) ?? this.#silenceTicks;
      this.#silenceBytes += this.#silence.length;
    }
  }

  write(bytes: Buffer): void {
    // The packet starts at the timeline position; a gap before it (loss, silence suppression) is filled first.
    this.#fillTo(this.#tick);
    this.#tick += bytes.length;
    const ticks = this.#sink.packet(bytes);
    if (ticks === undefined) {
      // Unusable as it is: counted, and its place is filled with silence by the next write (B9).
      this.#malformed++;
      return;
    }
    this.#written += ticks;
    this.#audioBytes += bytes.length;
  }

  fill(count: number): void {
    this.#tick += count;
    this.#fillTo(this.#tick);
  }

  flush(): void {
    this.#sink.flush();
  }

  close(): void {
    this.#fillTo(this.#tick);
    this.#sink.close();
  }
}

/** G.729 in a WAV of 10-byte frames. */
class G729Sink extends WavBacked implements FrameSink {
  readonly #silence: Buffer;

  constructor(path: string, codec: Codec) {
    super(path, codec, codec.clockRateHz / 8);
    this.#silence = codec.silence;
  }

  truncate(ticks: number): number {
    // 10 bytes per 80 ticks (10 ms at 8 kHz); the cut falls on a frame boundary.
    const frames = Math.ceil(ticks / 80);
    this.wav.truncate(frames * 10);
    return frames * 80;
  }

  packet(payload: Buffer): number | undefined {
    // RFC 3551 section 4.5.6: 10-byte frames, optionally followed by one 2-byte Annex B SID frame.
    const frames = Math.floor(payload.length / 10);
    const sid = payload.length % 10 === 2;
    if (payload.length === 0 || (payload.length % 10 !== 0 && !sid)) return undefined;
    this.wav.write(payload.subarray(0, frames * 10));
    if (sid) this.wav.write(this.#silence);
    return (frames + (sid ? 1 : 0)) * 80;
  }
}

/** Opus packets in Ogg. */
class OpusSink implements FrameSink {
  readonly #ogg: OggOpusWriter;

  constructor(path: string) {
    this.#ogg = new OggOpusWriter(path, { holdBackMs: 250, comments: ['ENCODER=callseal: original RTP packets (RFC 7587), not re-encoded'] });
  }

  get path(): string {
    return this.#ogg.path;
  }

  get dataBytes(): number {
    return this.#ogg.fileBytes;
  }

  get flushedBytes(): number {
    return this.#ogg.writtenBytes;
  }

  truncate(ticks: number, writtenTicks: number): number {
    this.#ogg.trimEnd(ticks);
    return Math.min(writtenTicks, Math.max(ticks, this.#ogg.samples - this.#ogg.pendingSamples));
  }

  dropBuffered(): void {
    this.#ogg.dropPending();
  }

  packet(payload: Buffer): number | undefined {
    const samples = opusPacketSamples(payload);
    if (samples === undefined) return undefined;
    this.#ogg.write(payload, samples);
    return samples;
  }

  flush(): void {
    // Pages are closed once they hold a second of audio; writing a page every 100 ms would add
    // 27 bytes of header per five packets for little gain in crash safety.
  }

  close(): void {
    this.#ogg.close();
  }
}

/**
 * Opens the writer for a leg of `codec`. `path` is the leg's spool path; its extension is replaced
 * by the codec's (`.opus` for Opus), see {@link codecFilePath}.
 */
export function openLegWriter(path: string, codec: Codec): LegWriter {
  const file = codecFilePath(path, codec);
  switch (codec.name) {
    case 'PCMA':
    case 'PCMU':
    case 'G722':
      return new ByteWavLegWriter(file, codec);
    case 'G729':
      return new PacketLegWriter(new G729Sink(file, codec), codec);
    case 'OPUS':
      return new PacketLegWriter(new OpusSink(file), codec);
  }
}
