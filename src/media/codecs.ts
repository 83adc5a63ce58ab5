/**
 * The codecs callseal records, with their WAV format tags and silence bytes (B2: no transcoding).
 */

/** A recordable codec. */
export interface Codec {
  /** Name as in `a=rtpmap` (upper case). */
  readonly name: 'PCMA' | 'PCMU' | 'G722';
  /** Static RTP payload type (RFC 3551). */
  readonly staticPayloadType: number;
  /** RTP clock rate (8000 for G.722 too, RFC 3551 section 4.5.2). */
  readonly clockRateHz: number;
  /** WAV wFormatTag. */
  readonly formatTag: number;
  /** Audio samples per second in the file. */
  readonly sampleRateHz: number;
  readonly bitsPerSample: number;
  /** Bytes per RTP tick; the timeline works in these. */
  readonly bytesPerTick: number;
  /** One byte of encoded silence, used to fill gaps. */
  readonly silenceByte: number;
  /** Whether two channels can be interleaved byte by byte into one stereo file. */
  readonly stereoByInterleave: boolean;
  /** Name used in the metadata file and by ffprobe. */
  readonly label: string;
}

/** G.711 A-law: WAVE_FORMAT_ALAW (6); 0xD5 is the A-law code of zero. */
export const PCMA: Codec = {
  name: 'PCMA', staticPayloadType: 8, clockRateHz: 8000, formatTag: 6, sampleRateHz: 8000, bitsPerSample: 8,
  bytesPerTick: 1, silenceByte: 0xd5, stereoByInterleave: true, label: 'G.711 A-law (pcm_alaw)',
};

/** G.711 µ-law: WAVE_FORMAT_MULAW (7); 0xFF is the µ-law code of zero. */
export const PCMU: Codec = {
  name: 'PCMU', staticPayloadType: 0, clockRateHz: 8000, formatTag: 7, sampleRateHz: 8000, bitsPerSample: 8,
  bytesPerTick: 1, silenceByte: 0xff, stereoByInterleave: true, label: 'G.711 mu-law (pcm_mulaw)',
};

/**
 * G.722: WAVE_FORMAT_G722_ADPCM (0x028F), 16 kHz audio at 8,000 bytes per second. Sub-band ADPCM
 * cannot be interleaved byte-wise, so G.722 calls are kept as one file per channel. 0xFA is a
 * low-level G.722 code used as filler.
 */
export const G722: Codec = {
  name: 'G722', staticPayloadType: 9, clockRateHz: 8000, formatTag: 0x028f, sampleRateHz: 16000, bitsPerSample: 4,
  bytesPerTick: 1, silenceByte: 0xfa, stereoByInterleave: false, label: 'G.722 (adpcm_g722)',
};

/** Codecs in order of preference when an offer lists several. */
export const CODECS: readonly Codec[] = [PCMA, PCMU, G722];

/** Finds a codec by rtpmap name (case-insensitive) or static payload type. */
export function codecByName(name: string): Codec | undefined {
  return CODECS.find((c) => c.name === name.toUpperCase());
}

/** Finds a codec by static payload type. */
export function codecByStaticType(pt: number): Codec | undefined {
  return CODECS.find((c) => c.staticPayloadType === pt);
}
