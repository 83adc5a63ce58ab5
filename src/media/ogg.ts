/**
 * Ogg Opus (RFC 7845 on RFC 3533): the original Opus packets of an RTP stream, one Opus packet per
 * Ogg packet, never decoded or re-encoded (B2). Pure page and packet functions, plus a writer that
 * streams pages to disk with sync I/O for the media workers. Must not transcode, and must not hold
 * more than one page of audio in memory.
 *
 * Ogg page header (RFC 3533 section 6), little-endian:
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * | capture_pattern "OggS"                                        |  0
 * | version = 0   | header_type   | granule_position (64 bits)    |  4
 * |                                                               |  8
 * |                               | bitstream_serial_number       | 12
 * |                               | page_sequence_number          | 16
 * |                               | CRC_checksum                  | 20
 * |                               | page_segments | segment_table | 24
 * ```
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { ParseError } from '../common/errors.ts';

const CAPTURE = 'OggS';
const PAGE_HEADER_SIZE = 27;
const GRANULE_OFFSET = 6;
const SERIAL_OFFSET = 14;
const SEQUENCE_OFFSET = 18;
const CRC_OFFSET = 22;
const SEGMENTS_OFFSET = 26;

/** header_type flags (RFC 3533 section 6). */
export const OGG_CONTINUED = 0x01;
export const OGG_BOS = 0x02;
export const OGG_EOS = 0x04;

/** Opus granule positions and RTP timestamps count 48 kHz samples (RFC 7845 section 4, RFC 7587 section 4.1). */
export const OPUS_RATE_HZ = 48_000;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = (r & 0x80000000) !== 0 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** The Ogg CRC-32 (RFC 3533 section 6: polynomial 0x04C11DB7, initial value 0, no reflection, no final XOR). */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ b) & 0xff] ?? 0)) >>> 0;
  return crc;
}

/** One Ogg page to build. Packets must be complete: callseal never splits a packet across pages. */
export interface OggPageSpec {
  readonly headerType: number;
  readonly granulePosition: bigint;
  readonly serial: number;
  readonly sequence: number;
  readonly packets: readonly Buffer[];
}

/** Lacing values of one packet (RFC 3533 section 5): 255s, then the remainder (which may be 0). */
function lacing(length: number): number[] {
  const out = new Array<number>(Math.floor(length / 255)).fill(255);
  out.push(length % 255);
  return out;
}

/** Segments a packet takes in a page's segment table. */
export function segmentsOf(packet: Buffer): number {
  return Math.floor(packet.length / 255) + 1;
}

/** Serializes one page with its CRC. Throws RangeError if the packets need more than 255 segments. */
export function oggPage(spec: OggPageSpec): Buffer {
  const table = spec.packets.flatMap((p) => lacing(p.length));
  if (table.length > 255) throw new RangeError(`an Ogg page holds at most 255 segments, not ${table.length}`);
  const header = Buffer.alloc(PAGE_HEADER_SIZE + table.length);
  header.write(CAPTURE, 0, 'latin1');
  header[4] = 0;
  header[5] = spec.headerType;
  header.writeBigInt64LE(spec.granulePosition, GRANULE_OFFSET);
  header.writeUInt32LE(spec.serial >>> 0, SERIAL_OFFSET);
  header.writeUInt32LE(spec.sequence >>> 0, SEQUENCE_OFFSET);
  header[SEGMENTS_OFFSET] = table.length;
  Buffer.from(table).copy(header, PAGE_HEADER_SIZE);
  const page = Buffer.concat([header, ...spec.packets]);
  page.writeUInt32LE(oggCrc(page), CRC_OFFSET);
  return page;
}

/** A page as read back. */
export interface OggPage extends OggPageSpec {
  /** Whether the stored CRC matches the page. */
  readonly crcOk: boolean;
  /** Whether the last packet goes on in the next page (last lacing value 255). */
  readonly lastPacketOpen: boolean;
}

/** Reads every page of an Ogg stream (one logical stream; continued packets are joined). Throws CS_OGG_INVALID. */
export function readOggPages(data: Buffer): OggPage[] {
  const pages: OggPage[] = [];
  let pos = 0;
  let carry: Buffer | undefined;
  while (pos < data.length) {
    if (pos + PAGE_HEADER_SIZE > data.length) throw new ParseError('CS_OGG_INVALID', `truncated Ogg page header at ${pos}`, pos);
    if (data.toString('latin1', pos, pos + 4) !== CAPTURE) throw new ParseError('CS_OGG_INVALID', `no Ogg capture pattern at ${pos}`, pos);
    const count = data[pos + SEGMENTS_OFFSET] ?? 0;
    const tableEnd = pos + PAGE_HEADER_SIZE + count;
    if (tableEnd > data.length) throw new ParseError('CS_OGG_INVALID', `truncated Ogg segment table at ${pos}`, pos);
    const table = data.subarray(pos + PAGE_HEADER_SIZE, tableEnd);
    const bodyBytes = table.reduce((a, b) => a + b, 0);
    if (tableEnd + bodyBytes > data.length) throw new ParseError('CS_OGG_INVALID', `truncated Ogg page body at ${pos}`, pos);
    const page = Buffer.from(data.subarray(pos, tableEnd + bodyBytes));
    const stored = page.readUInt32LE(CRC_OFFSET);
    page.writeUInt32LE(0, CRC_OFFSET);
    const crcOk = oggCrc(page) === stored;
    const packets: Buffer[] = [];
    let body = tableEnd;
    let start = body;
    for (const seg of table) {
      body += seg;
      if (seg < 255) {
        const piece = data.subarray(start, body);
        packets.push(carry ? Buffer.concat([carry, piece]) : Buffer.from(piece));
        carry = undefined;
        start = body;
      }
    }
    const lastPacketOpen = start < body;
    if (lastPacketOpen) carry = Buffer.concat([carry ?? Buffer.alloc(0), data.subarray(start, body)]);
    pages.push({
      headerType: data[pos + 5] ?? 0, granulePosition: data.readBigInt64LE(pos + GRANULE_OFFSET), serial: data.readUInt32LE(pos + SERIAL_OFFSET),
      sequence: data.readUInt32LE(pos + SEQUENCE_OFFSET), packets, crcOk, lastPacketOpen,
    });
    pos = tableEnd + bodyBytes;
  }
  return pages;
}

/** Frame sizes in 48 kHz samples per TOC config (RFC 6716 section 3.1, table 2). */
const FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, // SILK NB, MB, WB: 10, 20, 40, 60 ms
  480, 960, 480, 960, // Hybrid SWB, FB: 10, 20 ms
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, // CELT: 2.5, 5, 10, 20 ms
];

/**
 * Samples (at 48 kHz) one Opus packet decodes to, from its TOC byte and frame count (RFC 6716
 * section 3.1 and 3.2), or undefined when the packet is malformed (R1: empty; R5: code 3 without
 * a frame count byte, or M = 0; and at most 120 ms per packet).
 */
export function opusPacketSamples(packet: Buffer): number | undefined {
  const toc = packet[0];
  if (toc === undefined) return undefined;
  const perFrame = FRAME_SAMPLES[toc >> 3] ?? 0;
  const code = toc & 0x03;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    const m = packet[1];
    if (m === undefined) return undefined;
    frames = m & 0x3f;
    if (frames === 0) return undefined;
  }
  const samples = perFrame * frames;
  return samples > 5760 ? undefined : samples;
}

/** Whether an Opus packet is coded stereo (the TOC `s` bit, RFC 6716 section 3.1). */
export function opusPacketStereo(packet: Buffer): boolean {
  return ((packet[0] ?? 0) & 0x04) !== 0;
}

/** The identification header (RFC 7845 section 5.1), channel mapping family 0. */
export function opusHead(channels: 1 | 2, preSkip: number, inputRateHz: number): Buffer {
  const h = Buffer.alloc(19);
  h.write('OpusHead', 0, 'latin1');
  h[8] = 1;
  h[9] = channels;
  h.writeUInt16LE(preSkip, 10);
  h.writeUInt32LE(inputRateHz, 12);
  h.writeInt16LE(0, 16);
  h[18] = 0;
  return h;
}

/** The comment header (RFC 7845 section 5.2). */
export function opusTags(vendor: string, comments: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from('OpusTags', 'latin1')];
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  };
  str(vendor);
  const n = Buffer.alloc(4);
  n.writeUInt32LE(comments.length);
  parts.push(n);
  for (const c of comments) str(c);
  return Buffer.concat(parts);
}

/** Options of {@link OggOpusWriter}. */
export interface OggOpusWriterOptions {
  /** Bitstream serial number; random by default. */
  readonly serial?: number;
  /** A page is closed once it holds this much audio (RFC 7845 section 6 suggests about one second). */
  readonly pageMs?: number;
  /**
   * The newest audio kept back from a closed page (default 0): a call's end may cut up to this much
   * (the timeline runs at most 200 ms ahead of the wall clock), and end trimming only reaches into
   * the last page.
   */
  readonly holdBackMs?: number;
  /** Free-form comments for OpusTags, `KEY=value`. */
  readonly comments?: readonly string[];
}

/**
 * Streams Opus packets into an Ogg Opus file. The two header pages are written when the first audio
 * packet arrives (its TOC gives the channel count) or at close. Granule positions count the 48 kHz
 * samples of every packet written; the caller keeps them on the wall clock by writing silence frames
 * for gaps. Pre-skip is 0: the packets come from a running encoder mid-stream, so there is no
 * encoder delay of this file to trim, and sample 0 stays the start of the recording.
 */
export class OggOpusWriter {
  readonly path: string;
  readonly #serial: number;
  readonly #pageSamples: number;
  readonly #holdBackSamples: number;
  readonly #comments: readonly string[];
  #fd: number | undefined;
  #position = 0;
  #sequence = 0;
  #headersWritten = false;
  #granule = 0n;
  #pending: Buffer[] = [];
  #pendingSegments = 0;
  #pendingSamples = 0;
  #fileBytes = 0;
  /** Granule position of the last page written (end trimming may not go below it). */
  #pageGranule = 0n;
  /** Samples the stream ends at, when cut back (RFC 7845 section 4.5: end trimming). */
  #endSamples: bigint | undefined;

  /** Creates (truncates) the file. */
  constructor(path: string, options: OggOpusWriterOptions = {}) {
    this.path = path;
    this.#serial = (options.serial ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
    this.#pageSamples = Math.round(((options.pageMs ?? 1000) * OPUS_RATE_HZ) / 1000);
    this.#holdBackSamples = Math.round(((options.holdBackMs ?? 0) * OPUS_RATE_HZ) / 1000);
    this.#comments = options.comments ?? [];
    this.#fd = openSync(path, 'w');
  }

  /** 48 kHz samples written so far (the granule position after the last packet). */
  get samples(): number {
    return Number(this.#granule);
  }

  /** Samples of packets not yet written as a page. */
  get pendingSamples(): number {
    return this.#pendingSamples;
  }

  /** Bytes in pages already written to the file. */
  get writtenBytes(): number {
    return this.#fileBytes;
  }

  /**
   * Ends the stream at `samples`: pending packets that start at or after it are dropped, and the
   * last page's granule position trims the rest (RFC 7845 section 4.5), never below a page already
   * written.
   */
  trimEnd(samples: number): void {
    const end = BigInt(Math.max(0, Math.floor(samples)));
    if (end >= this.#granule) return;
    let start = this.#granule - BigInt(this.#pendingSamples);
    const kept: Buffer[] = [];
    let keptSamples = 0;
    for (const packet of this.#pending) {
      if (start >= end) break;
      const n = opusPacketSamples(packet) ?? 0;
      kept.push(packet);
      keptSamples += n;
      start += BigInt(n);
    }
    this.#pending = kept;
    this.#pendingSegments = kept.reduce((a, p) => a + segmentsOf(p), 0);
    this.#pendingSamples = keptSamples;
    this.#granule = this.#pageGranule + BigInt(keptSamples);
    this.#endSamples = end > this.#pageGranule ? end : this.#pageGranule;
  }

  /** After a write error: forgets the packets not yet written as a page. */
  dropPending(): void {
    this.#granule -= BigInt(this.#pendingSamples);
    this.#pending = [];
    this.#pendingSegments = 0;
    this.#pendingSamples = 0;
  }

  /** Bytes of the file so far, pages written or pending. */
  get fileBytes(): number {
    return this.#fileBytes + this.#pending.reduce((a, p) => a + p.length, 0);
  }

  #writePage(page: Buffer): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, page, 0, page.length, this.#position);
    this.#position += page.length;
    this.#fileBytes += page.length;
  }

  #writeHeaders(channels: 1 | 2): void {
    if (this.#headersWritten) return;
    this.#headersWritten = true;
    // RFC 7845 section 3: the identification header alone on the first page (BOS), the comment header on the next.
    this.#writePage(oggPage({ headerType: OGG_BOS, granulePosition: 0n, serial: this.#serial, sequence: this.#sequence++, packets: [opusHead(channels, 0, OPUS_RATE_HZ)] }));
    this.#writePage(oggPage({ headerType: 0, granulePosition: 0n, serial: this.#serial, sequence: this.#sequence++, packets: [opusTags('callseal', this.#comments)] }));
  }

  #closePage(last: boolean): void {
    if (this.#pending.length === 0 && !last) return;
    if (!last && this.#holdBackSamples > 0) {
      // Keep the newest packets (at least the hold-back) for the next page, so a cut at the end of
      // the call still falls into the last page.
      let keptSamples = 0;
      let split = this.#pending.length;
      while (split > 0 && keptSamples < this.#holdBackSamples) {
        split--;
        keptSamples += opusPacketSamples(this.#pending[split] ?? Buffer.alloc(0)) ?? 0;
      }
      if (split === 0) return;
      const page = this.#pending.slice(0, split);
      const granule = this.#granule - BigInt(keptSamples);
      this.#writePage(oggPage({ headerType: 0, granulePosition: granule, serial: this.#serial, sequence: this.#sequence++, packets: page }));
      this.#pageGranule = granule;
      this.#pending = this.#pending.slice(split);
      this.#pendingSegments = this.#pending.reduce((a, p) => a + segmentsOf(p), 0);
      this.#pendingSamples = keptSamples;
      return;
    }
    const trimmed = last && this.#endSamples !== undefined && this.#endSamples < this.#granule ? this.#endSamples : this.#granule;
    this.#writePage(oggPage({ headerType: last ? OGG_EOS : 0, granulePosition: trimmed, serial: this.#serial, sequence: this.#sequence++, packets: this.#pending }));
    this.#pageGranule = this.#granule;
    this.#pending = [];
    this.#pendingSegments = 0;
    this.#pendingSamples = 0;
  }

  /** Appends one Opus packet lasting `samples` (48 kHz). */
  write(packet: Buffer, samples: number): void {
    if (this.#fd === undefined) return;
    this.#writeHeaders(opusPacketStereo(packet) ? 2 : 1);
    if (this.#pendingSegments + segmentsOf(packet) > 255) this.#closePage(false);
    this.#pending.push(Buffer.from(packet));
    this.#pendingSegments += segmentsOf(packet);
    this.#pendingSamples += samples;
    this.#granule += BigInt(samples);
    if (this.#pendingSamples >= this.#pageSamples) this.#closePage(false);
  }

  /** Writes the pending packets as a page now (crash safety: what is on disk is a valid stream). */
  flush(): void {
    this.#closePage(false);
  }

  /** Writes the last page (EOS), fsyncs and closes. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    this.#writeHeaders(1);
    this.#closePage(true);
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
