/**
 * Cuts an announcement's PCM into 20 ms RTP payloads of one codec: PCMA and PCMU from the 8 kHz
 * PCM (160 samples, 160 bytes), G.722 from the 16 kHz PCM (320 samples, 160 bytes; RFC 3551
 * section 4.5.2: its RTP clock runs at 8 kHz). The last frame is filled with silence. No I/O.
 */
import { G722Encoder } from '../media/index.ts';
import { encodeG711, linearToAlaw, linearToUlaw } from './g711.ts';

/** The codecs announcements are played in. */
export type AnnouncementCodec = 'PCMA' | 'PCMU' | 'G722';

/** Every codec announcements are played in. */
export const ANNOUNCEMENT_CODECS: readonly AnnouncementCodec[] = ['PCMA', 'PCMU', 'G722'];

/** Length of one payload. */
export const FRAME_MS = 20;

/** The PCM rate a codec is encoded from. */
export function sourceRateHz(codec: AnnouncementCodec): 8000 | 16000 {
  return codec === 'G722' ? 16000 : 8000;
}

function padded(pcm: Int16Array, samplesPerFrame: number): Int16Array {
  const frames = Math.max(1, Math.ceil(pcm.length / samplesPerFrame));
  if (frames * samplesPerFrame === pcm.length) return pcm;
  const out = new Int16Array(frames * samplesPerFrame);
  out.set(pcm);
  return out;
}

/** The 20 ms payloads of `pcm` (at {@link sourceRateHz} of `codec`). */
export function encodeFrames(pcm: Int16Array, codec: AnnouncementCodec): Buffer[] {
  const samplesPerFrame = (sourceRateHz(codec) * FRAME_MS) / 1000;
  const whole = padded(pcm, samplesPerFrame);
  let encoded: Buffer;
  if (codec === 'G722') encoded = new G722Encoder().encode(whole);
  else encoded = encodeG711(whole, codec === 'PCMA' ? linearToAlaw : linearToUlaw);
  const bytesPerFrame = encoded.length / (whole.length / samplesPerFrame);
  const frames: Buffer[] = [];
  for (let at = 0; at < encoded.length; at += bytesPerFrame) frames.push(encoded.subarray(at, at + bytesPerFrame));
  return frames;
}
