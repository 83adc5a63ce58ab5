/**
 * Announcements (C1, C2): the library of uploaded WAV/MP3 files, decoded once and stored with their
 * SHA-256, and their 20 ms payloads in PCMA, PCMU or G.722 for the b2bua to play into a call.
 */
export * from './library.ts';
export { ANNOUNCEMENT_CODECS, FRAME_MS, type AnnouncementCodec } from './frames.ts';
export { sniffFormat } from './decode.ts';
