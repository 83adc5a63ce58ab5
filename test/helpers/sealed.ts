/**
 * A recording as the recorder hands it to the sealer, written for seal tests: one G.711 A-law
 * WAV (mono or stereo) in `<root>/<relDir>` and the facts that `_info.txt` is made from.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WavWriter } from '../../src/media/index.ts';
import type { FinishedRecording } from '../../src/recording/index.ts';
import { emptyStats } from '../../src/rtp/index.ts';

/** Options of {@link writeTestRecording}. */
export interface TestRecordingOptions {
  readonly relDir: string;
  /** Prefix of the recording id (`t` gives `t0007`). */
  readonly idPrefix: string;
  readonly instanceId: string;
  readonly channels?: 'mono' | 'stereo';
}

/** Writes recording number `n` (its audio file) and returns what the sealer takes. */
export function writeTestRecording(root: string, n: number, o: TestRecordingOptions): FinishedRecording {
  const stereo = o.channels === 'stereo';
  const dir = join(root, o.relDir);
  const id = `${o.idPrefix}${String(n).padStart(4, '0')}`;
  const base = `20261123-1000${String(n).padStart(2, '0')}-000_+4930${n}_+4989${n}_${id}`;
  mkdirSync(dir, { recursive: true });
  const w = new WavWriter(join(dir, `${base}.wav`), { formatTag: 6, channels: stereo ? 2 : 1, sampleRateHz: 8000, bitsPerSample: 8, byteRate: stereo ? 16000 : 8000, blockAlign: stereo ? 2 : 1 });
  w.write(Buffer.alloc(stereo ? 16000 : 800, n & 0xff));
  w.close();
  return {
    dir, relDir: o.relDir, files: [`${base}.wav`], infoFile: `${base}_info.txt`,
    facts: {
      id: `${o.idPrefix}${n}`, baseName: base, callId: `call-${n}`, siprecSessionId: undefined, startMs: 1795000000000 + n * 1000, endMs: 1795000000000 + n * 1000 + (stereo ? 1000 : 500),
      endReason: 'bye', interrupted: false, lastPacketAtMs: undefined, caller: { number: `+4930${n}`, name: 'A', aor: '' },
      callee: { number: `+4989${n}`, name: 'B', aor: '' }, participants: [], direction: 'unknown', setting: stereo ? 'Record all calls' : 'all',
      channels: stereo ? 'stereo' : 'mono', codec: 'G.711 A-law (pcm_alaw)', streams: [{ role: stereo ? 'caller' : 'mixed', label: '1', codec: 'PCMA', stats: emptyStats() }],
      audioFiles: [`${base}.wav`], metadataFiles: [], dtmf: [], recorder: 'callseal test', instanceId: o.instanceId, timeZone: 'UTC',
    },
  };
}
