/**
 * Writes classic libpcap files of RTP over UDP/IPv4/Ethernet, so sipp's `play_pcap_audio` can
 * send two streams: stream 1 to port B and stream 2 to B+2 (sipp keeps the offsets).
 */
import { writeFileSync } from 'node:fs';
import { buildRtp } from '../../src/rtp/index.ts';
import { linearToAlaw, tone } from './g711.ts';

/** One RTP stream to put in the capture. */
export interface PcapStream {
  readonly dstPort: number;
  readonly payloadType: number;
  readonly ssrc: number;
  /** Encoded audio, one byte per 8 kHz tick (G.711). */
  readonly audio: Buffer;
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function frame(srcPort: number, dstPort: number, payload: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([127, 0, 0, 1]).copy(ip, 12);
  Buffer.from([127, 0, 0, 1]).copy(ip, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([eth, ip, udp, payload]);
}

/**
 * The libpcap global header: magic (microsecond timestamps, little endian), version 2.4, zone and
 * accuracy 0, snapshot length 65535, link type 1 (Ethernet).
 */
function globalHeader(): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20);
  return global;
}

/** The pcap record header of a `length`-byte frame captured at `tUs` microseconds. */
function recordHeader(tUs: number, length: number): Buffer {
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(Math.floor(tUs / 1e6), 0);
  rec.writeUInt32LE(tUs % 1e6, 4);
  rec.writeUInt32LE(length, 8);
  rec.writeUInt32LE(length, 12);
  return rec;
}

/** Writes a pcap with the streams interleaved, 20 ms (160 bytes) per packet. */
export function writeRtpPcap(path: string, streams: readonly PcapStream[], packetMs = 20): { packets: number; durationMs: number } {
  const parts: Buffer[] = [globalHeader()];
  const bytesPerPacket = (8000 * packetMs) / 1000;
  const count = Math.max(...streams.map((s) => Math.ceil(s.audio.length / bytesPerPacket)));
  let packets = 0;
  for (let i = 0; i < count; i++) {
    const tUs = i * packetMs * 1000;
    for (const s of streams) {
      const chunk = s.audio.subarray(i * bytesPerPacket, (i + 1) * bytesPerPacket);
      if (chunk.length === 0) continue;
      const rtp = buildRtp({ payloadType: s.payloadType, sequenceNumber: (1000 + i) & 0xffff, timestamp: 16000 + i * bytesPerPacket, ssrc: s.ssrc, marker: i === 0, payload: chunk });
      const f = frame(s.dstPort + 1000, s.dstPort, rtp);
      parts.push(recordHeader(tUs, f.length), f);
      packets++;
    }
  }
  writeFileSync(path, Buffer.concat(parts));
  return { packets, durationMs: count * packetMs };
}

/**
 * The usual two-party call: A-law, 440 Hz from the caller (port B) and 1000 Hz from the callee
 * (port B+2), `seconds` long. Returns the duration in milliseconds.
 */
export function twoTonePcap(path: string, seconds: number): number {
  return writeRtpPcap(path, [
    { dstPort: 6000, payloadType: 8, ssrc: 1, audio: tone(440, seconds, linearToAlaw) },
    { dstPort: 6002, payloadType: 8, ssrc: 2, audio: tone(1000, seconds, linearToAlaw) },
  ]).durationMs;
}

/** One RTP stream of whole packets (any codec) to put in a capture. */
export interface PcapPacketStream {
  readonly dstPort: number;
  readonly payloadType: number;
  readonly ssrc: number;
  /** RTP payloads, one per packet, sent `packetMs` apart. */
  readonly payloads: readonly Buffer[];
  /** RTP timestamp advance per packet (960 for 20 ms of Opus, 160 for 20 ms of G.729). */
  readonly ticksPerPacket: number;
  /** Packet indexes to leave out (loss). */
  readonly drop?: ReadonlySet<number>;
}

/** Writes a pcap of whole RTP payloads (Opus, G.729), the streams interleaved, `packetMs` apart. */
export function writePacketPcap(path: string, streams: readonly PcapPacketStream[], packetMs = 20): { packets: number; durationMs: number } {
  const parts: Buffer[] = [globalHeader()];
  const count = Math.max(...streams.map((s) => s.payloads.length));
  let packets = 0;
  for (let i = 0; i < count; i++) {
    const tUs = i * packetMs * 1000;
    for (const s of streams) {
      const payload = s.payloads[i];
      if (!payload || s.drop?.has(i)) continue;
      const rtp = buildRtp({ payloadType: s.payloadType, sequenceNumber: (1000 + i) & 0xffff, timestamp: (16000 + i * s.ticksPerPacket) >>> 0, ssrc: s.ssrc, marker: i === 0, payload });
      const f = frame(s.dstPort + 1000, s.dstPort, rtp);
      parts.push(recordHeader(tUs, f.length), f);
      packets++;
    }
  }
  writeFileSync(path, Buffer.concat(parts));
  return { packets, durationMs: count * packetMs };
}
