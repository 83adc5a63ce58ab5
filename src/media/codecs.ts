/**
 * The codecs callseal records, with their containers, format tags and silence (B2: the original
 * codec, never transcoded). Pure data: no I/O.
 *
 * Two kinds of codec reach the file writers:
 * - `bytes` codecs (G.711, G.722) have a fixed number of file bytes per RTP tick; the timeline's
 *   writes are appended as they are and a gap is filled with encoded silence.
 * - `packets` codecs (Opus, G.729) have frames whose size is not tied to the tick count; their
 *   writer keeps each RTP payload whole and places it by its RTP timestamp (see `writers.ts`).
 */

/** How the audio of a codec is stored. */
export type Container = 'wav' | 'ogg';

/** A recordable codec. */
export interface Codec {
  /** Name as in `a=rtpmap` (upper case). */
  readonly name: 'PCMA' | 'PCMU' | 'G722' | 'G729' | 'OPUS';
  /** Static RTP payload type (RFC 3551), or undefined for codecs with dynamic types only. */
  readonly staticPayloadType: number | undefined;
  /** The `a=rtpmap` encoding as callseal answers it (RFC 4566 section 6). */
  readonly rtpmap: string;
  /** An `a=fmtp` value for the answer, if any. */
  readonly answerFmtp: string | undefined;
  /** RTP clock rate (8000 for G.722 too, RFC 3551 section 4.5.2; 48000 for Opus, RFC 7587 section 4.1). */
  readonly clockRateHz: number;
  readonly container: Container;
  /** File extension, without the dot. */
  readonly extension: string;
  /** `bytes`: file bytes follow RTP ticks; `packets`: whole RTP payloads placed by timestamp. */
  readonly framing: 'bytes' | 'packets';
  /** WAV wFormatTag (0 for Ogg). */
  readonly formatTag: number;
  /** Audio samples per second in the file. */
  readonly sampleRateHz: number;
  readonly bitsPerSample: number;
  /** WAV nBlockAlign of one channel (0 for Ogg). */
  readonly blockAlign: number;
  /** File bytes per RTP tick for `bytes` codecs; the timeline works in these. 1 for `packets` codecs (ticks). */
  readonly bytesPerTick: number;
  /**
   * Encoded silence used to fill gaps: for `bytes` codecs a pattern repeated byte by byte, for
   * `packets` codecs one frame of {@link Codec.silenceFrameTicks} ticks.
   */
  readonly silence: Buffer;
  /** Ticks one silence frame lasts (`packets` codecs), 1 for `bytes` codecs. */
  readonly silenceFrameTicks: number;
  /** Whether two channels can be interleaved byte by byte into one stereo file. */
  readonly stereoByInterleave: boolean;
  /** Name used in the metadata file and by ffprobe. */
  readonly label: string;
}

/** G.711 A-law: WAVE_FORMAT_ALAW (6); 0xD5 is the A-law code of zero. */
export const PCMA: Codec = {
  name: 'PCMA', staticPayloadType: 8, rtpmap: 'PCMA/8000', answerFmtp: undefined, clockRateHz: 8000, container: 'wav', extension: 'wav',
  framing: 'bytes', formatTag: 6, sampleRateHz: 8000, bitsPerSample: 8, blockAlign: 1, bytesPerTick: 1,
  silence: Buffer.from([0xd5]), silenceFrameTicks: 1, stereoByInterleave: true, label: 'G.711 A-law (pcm_alaw)',
};

/** G.711 µ-law: WAVE_FORMAT_MULAW (7); 0xFF is the µ-law code of zero. */
export const PCMU: Codec = {
  name: 'PCMU', staticPayloadType: 0, rtpmap: 'PCMU/8000', answerFmtp: undefined, clockRateHz: 8000, container: 'wav', extension: 'wav',
  framing: 'bytes', formatTag: 7, sampleRateHz: 8000, bitsPerSample: 8, blockAlign: 1, bytesPerTick: 1,
  silence: Buffer.from([0xff]), silenceFrameTicks: 1, stereoByInterleave: true, label: 'G.711 mu-law (pcm_mulaw)',
};

/**
 * What a real G.722 encoder emits for digital silence once it has settled: 20 bytes (1.25 ms) cut
 * from ffmpeg's `adpcm_g722` encoder output for zero input (`src/media/codecs.test.ts` derives it
 * again). A constant byte is not silence for sub-band ADPCM: 0xFA repeated decodes to a DC level
 * at -44 dBFS, this pattern repeated to below -69 dBFS.
 */
export const G722_SILENCE = Buffer.from('f6fbfbfbdef5f8f8f8f8f5fadcf5f5fadcf3f6df', 'hex');

/**
 * G.722: WAVE_FORMAT_G722_ADPCM (0x028F), 16 kHz audio at 8,000 bytes per second. Sub-band ADPCM
 * cannot be interleaved byte-wise, so G.722 calls are kept as one file per channel.
 */
export const G722: Codec = {
  name: 'G722', staticPayloadType: 9, rtpmap: 'G722/8000', answerFmtp: undefined, clockRateHz: 8000, container: 'wav', extension: 'wav',
  framing: 'bytes', formatTag: 0x028f, sampleRateHz: 16000, bitsPerSample: 4, blockAlign: 1, bytesPerTick: 1,
  silence: G722_SILENCE, silenceFrameTicks: 1, stereoByInterleave: false, label: 'G.722 (adpcm_g722)',
};

/**
 * One 10 ms G.729 frame that the bcg729 encoder emits for digital silence (its most frequent frame
 * for zero input); repeated it decodes to below -80 dBFS. `src/media/codecs.test.ts` derives it.
 */
export const G729_SILENCE_FRAME = Buffer.from('781280a000fac20007d6', 'hex');

/**
 * G.729 / G.729A (RFC 3551 section 4.5.6): 10-byte frames of 10 ms, in a WAV with format tag
 * 0x0083 (WAVE_FORMAT_G729A), the tag ffmpeg maps to its G.729 decoder, so ffmpeg, ffprobe and
 * players built on them open the file without options. Annex B SID frames (2 bytes) are written as
 * a silence frame: a WAV of fixed 10-byte blocks cannot hold them and ffmpeg does not decode them.
 */
export const G729: Codec = {
  name: 'G729', staticPayloadType: 18, rtpmap: 'G729/8000', answerFmtp: 'annexb=no', clockRateHz: 8000, container: 'wav', extension: 'wav',
  framing: 'packets', formatTag: 0x0083, sampleRateHz: 8000, bitsPerSample: 0, blockAlign: 10, bytesPerTick: 1,
  silence: G729_SILENCE_FRAME, silenceFrameTicks: 80, stereoByInterleave: false, label: 'G.729 (g729)',
};

/**
 * A 20 ms CELT frame that decodes to digital silence: TOC 0xF8 (config 31, CELT fullband 20 ms,
 * mono, one frame; RFC 6716 section 3.1) and a range-coded payload whose first symbol is the CELT
 * silence flag (RFC 6716 section 4.3). The same three bytes libopus produces for a silent frame.
 */
export const OPUS_SILENCE_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);

/**
 * Opus (RFC 7587) in Ogg (RFC 7845), the original packets one per Ogg packet. The RTP clock is
 * always 48 kHz, and so are granule positions.
 */
export const OPUS: Codec = {
  name: 'OPUS', staticPayloadType: undefined, rtpmap: 'opus/48000/2', answerFmtp: undefined, clockRateHz: 48000, container: 'ogg', extension: 'opus',
  framing: 'packets', formatTag: 0, sampleRateHz: 48000, bitsPerSample: 0, blockAlign: 0, bytesPerTick: 1,
  silence: OPUS_SILENCE_FRAME, silenceFrameTicks: 960, stereoByInterleave: false, label: 'Opus (opus)',
};

/** Every codec callseal records. The SRC's order decides which one a stream uses (see `siprec/sdp.ts`). */
export const CODECS: readonly Codec[] = [PCMA, PCMU, G722, G729, OPUS];

/** Finds a codec by rtpmap name (case-insensitive). */
export function codecByName(name: string): Codec | undefined {
  return CODECS.find((c) => c.name === name.toUpperCase());
}

/** Finds a codec by static payload type. */
export function codecByStaticType(pt: number): Codec | undefined {
  return CODECS.find((c) => c.staticPayloadType === pt);
}

/** The path of a leg's file for `codec`: `path` with its extension replaced by the codec's. */
export function codecFilePath(path: string, codec: Codec): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const stem = dot > slash ? path.slice(0, dot) : path;
  return `${stem}.${codec.extension}`;
}
