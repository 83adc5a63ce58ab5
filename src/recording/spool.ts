/**
 * Lifecycle of recordings on disk. While a call runs, its legs stream into
 * `$CALLSEAL_HOME/spool/<id>/` next to `state.json` (what recovery needs) and the raw SIPREC
 * metadata of every version. When the call ends, `finish` merges or moves the audio into
 * `$CALLSEAL_HOME/recordings/<template>/<base>*` and records `finished.json` in the spool; sealing
 * then writes `<base>_info.txt`, the hash file and the signature, and `complete` removes the spool.
 * After a crash, `recover` returns every recording left in the spool, finished as `interrupted`
 * when its call was still running (invariant 1), for sealing; its end and `last-packet` come from
 * the legs' `.stats` files, which the media workers keep current while the call runs (issue 5).
 * On a full disk, `finishRetrying` waits for space instead of giving up (issue 4).
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import type { Retention } from '../common/retention.ts';
import { errorMessage } from '../common/errors.ts';
import { codecByName, codecFilePath, mergeStereo, readLegStats, repairWavHeader, type LegResult } from '../media/index.ts';
import { emptyStats, type StreamStats } from '../rtp/index.ts';
import { expandTemplate, recordingBaseName, timeParts } from './naming.ts';
import type { ConsentInfo, PartyInfo, RecordingFacts, StreamInfo } from './info.ts';

/** One leg as the spool state records it. */
export interface SpoolLeg {
  readonly legId: string;
  readonly label: string;
  readonly codec: string;
  readonly path: string;
}

/** What `state.json` holds; enough to finish the recording without the process that made it. */
export interface SpoolState {
  readonly id: string;
  readonly callId: string;
  readonly siprecSessionId: string | undefined;
  readonly startMs: number;
  readonly legs: readonly SpoolLeg[];
  readonly metadataFiles: readonly string[];
  readonly caller: PartyInfo;
  readonly callee: PartyInfo;
  readonly callerLabel: string | undefined;
  readonly calleeLabel: string | undefined;
  readonly participants: readonly PartyInfo[];
  readonly direction: 'in' | 'out' | 'internal' | 'external' | 'unknown';
  readonly setting: string;
  readonly channels: 'stereo' | 'separate';
  /** Which source decided who called, as the SIPREC layer resolved it (absent in older spools). */
  readonly callerBy?: string | undefined;
  /** Which source tied streams to parties (absent in older spools). */
  readonly channelsBy?: string | undefined;
  /** Why the channel layout changed (streams recorded in different codecs), if it did. */
  readonly layoutNote?: string | undefined;
  /** Storage targets the sealed recording goes to (F1); none keeps it local (F2). */
  readonly targetIds?: readonly string[];
  /** F6: the setting's retention (absent in older spools: kept). */
  readonly retention?: Retention | undefined;
  /** C3: the consent IVR's outcome of an in-line call that had one. */
  readonly consent?: ConsentInfo | undefined;
}

/** How a recording ended. */
export interface RecordingEnd {
  readonly endMs: number;
  readonly endReason: string;
  readonly interrupted: boolean;
  readonly lastPacketAtMs: number | undefined;
}

/** A recording whose files are complete in the recordings folder. */
export interface FinishedRecording {
  readonly facts: RecordingFacts;
  /** Absolute folder holding the files. */
  readonly dir: string;
  /** Folder relative to the recordings root. */
  readonly relDir: string;
  /** File names (in `dir`): audio files, then metadata XML files. The info file comes with sealing. */
  readonly files: readonly string[];
  readonly infoFile: string;
}

/** Options of {@link Spool}. */
export interface SpoolOptions {
  readonly home: string;
  readonly directoryTemplate: string;
  readonly timeZone: string | undefined;
  readonly instanceId: string;
  readonly recorder: string;
  readonly log: Logger;
  /** First wait before finishing again after a full disk; doubles up to 10 s. */
  readonly retryMs?: number;
}

/** File-system errors that more free space cures. */
function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * The spool, where a running recording's files live until it is finished, and the recordings
 * folder it is finished into.
 */
export class Spool {
  readonly spoolRoot: string;
  readonly recordingsRoot: string;
  readonly #o: SpoolOptions;
  #closed = false;
  readonly #waits = new Set<() => void>();

  constructor(options: SpoolOptions) {
    this.#o = options;
    this.spoolRoot = join(options.home, 'spool');
    this.recordingsRoot = join(options.home, 'recordings');
  }

  /** Creates the spool folder of a new recording. */
  async create(id: string): Promise<string> {
    const dir = this.spoolDir(id);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Spool folder of a recording. */
  spoolDir(id: string): string {
    return join(this.spoolRoot, id);
  }

  /** Path of a leg's file in the spool. */
  legPath(id: string, legId: string): string {
    return join(this.spoolDir(id), `${legId}.wav`);
  }

  /** Writes `state.json` atomically. */
  async saveState(state: SpoolState): Promise<void> {
    const file = join(this.spoolDir(state.id), 'state.json');
    await writeFile(`${file}.tmp`, JSON.stringify(state, null, 1));
    await rename(`${file}.tmp`, file);
  }

  /** Keeps one version of the raw SIPREC metadata; returns its spool file name. */
  async saveMetadata(id: string, version: number, xml: Buffer): Promise<string> {
    const name = `metadata-v${version}.xml`;
    await writeFile(join(this.spoolDir(id), name), xml);
    return name;
  }

  /** Finishes a recording: stereo merge or per-party files, metadata file, spool removed. */
  async finish(state: SpoolState, results: ReadonlyMap<string, LegResult>, end: RecordingEnd): Promise<FinishedRecording> {
    const o = this.#o;
    const parts = timeParts(state.startMs, o.timeZone);
    const relDir = expandTemplate(o.directoryTemplate, parts);
    const dir = join(this.recordingsRoot, relDir);
    await mkdir(dir, { recursive: true });
    const base = recordingBaseName(state.startMs, o.timeZone, state.caller.number, state.callee.number, state.id);
    const spool = this.spoolDir(state.id);

    const roleOf = (leg: SpoolLeg): string => {
      if (leg.label === state.callerLabel) return 'caller';
      if (leg.label === state.calleeLabel) return 'callee';
      return `stream-${leg.label.replace(/[^A-Za-z0-9]/g, '_').slice(0, 16)}`;
    };
    const legs = [...state.legs].sort((a, b) => order(roleOf(a)) - order(roleOf(b)));
    const audioFiles: string[] = [];
    const callerLeg = legs.find((l) => roleOf(l) === 'caller');
    const calleeLeg = legs.find((l) => roleOf(l) === 'callee');
    const callerCodec = callerLeg ? codecByName(callerLeg.codec) : undefined;
    let channels: RecordingFacts['channels'] = state.channels;
    const merged = new Set<SpoolLeg>();
    if (state.channels === 'stereo' && callerLeg && calleeLeg && callerCodec?.stereoByInterleave && callerLeg.codec === calleeLeg.codec) {
      const name = `${base}.wav`;
      await mergeStereo(callerLeg.path, calleeLeg.path, join(dir, name), callerCodec);
      audioFiles.push(name);
      merged.add(callerLeg).add(calleeLeg);
    } else if (legs.length === 1) {
      channels = 'mono';
    } else {
      channels = 'separate';
    }
    const used = new Set(audioFiles);
    for (const leg of legs) {
      if (merged.has(leg)) continue;
      // The extension follows the codec's container: `.wav`, or `.opus` (Ogg Opus, RFC 7845).
      const legCodec = codecByName(leg.codec);
      const ext = legCodec?.extension ?? 'wav';
      let name = legs.length === 1 ? `${base}.${ext}` : `${base}_${roleOf(leg)}.${ext}`;
      // A label that left and came back in a re-INVITE has a second file of the same role.
      for (let n = 2; used.has(name); n++) name = `${base}_${roleOf(leg)}-${n}.${ext}`;
      used.add(name);
      await moveFile(legCodec ? codecFilePath(leg.path, legCodec) : leg.path, join(dir, name));
      audioFiles.push(name);
    }
    const metadataFiles: string[] = [];
    for (const [i, m] of state.metadataFiles.entries()) {
      const name = `${base}_metadata-v${i + 1}.xml`;
      await moveFile(join(spool, m), join(dir, name));
      metadataFiles.push(name);
    }
    const streams: StreamInfo[] = legs.map((leg) => ({
      role: roleOf(leg), label: leg.label, codec: codecByName(leg.codec)?.label ?? leg.codec,
      stats: results.get(leg.legId)?.stats ?? emptyStats(),
    }));
    const dtmf = legs.flatMap((leg) => (results.get(leg.legId)?.dtmf ?? []).map((d) => ({ ...d, role: roleOf(leg) })));
    const codecs = [...new Set(legs.map((l) => codecByName(l.codec)?.label ?? l.codec))];
    const facts: RecordingFacts = {
      id: state.id, baseName: base, callId: state.callId, siprecSessionId: state.siprecSessionId,
      startMs: state.startMs, endMs: end.endMs, endReason: end.endReason, interrupted: end.interrupted,
      lastPacketAtMs: end.lastPacketAtMs, caller: state.caller, callee: state.callee, participants: state.participants,
      direction: state.direction, setting: state.setting, channels, codec: codecs.join(', '), streams,
      audioFiles, metadataFiles, dtmf, recorder: o.recorder, instanceId: o.instanceId, timeZone: o.timeZone,
      targetIds: state.targetIds ?? [], retention: state.retention,
      callerBy: state.callerBy, channelsBy: state.channelsBy, ...(state.consent ? { consent: state.consent } : {}),
      // The note explains why a stereo configuration got separate files; otherwise it says nothing.
      layoutNote: state.channels === 'stereo' && channels === 'separate' ? state.layoutNote : undefined,
    };
    const finished: FinishedRecording = { facts, dir, relDir, files: [...audioFiles, ...metadataFiles], infoFile: `${base}_info.txt` };
    // The audio has left the spool: from here on, recovery seals from this file.
    await writeDurable(join(spool, 'finished.json'), JSON.stringify(finished));
    await rm(join(spool, 'state.json'), { force: true });
    return finished;
  }

  /**
   * Like `finish`, but a full disk (ENOSPC, EDQUOT) is waited out: it tries again every few
   * seconds until there is space, so the recording is sealed as soon as space allows. After
   * `close`, it gives up at once and the spool stays for recovery at the next start.
   */
  async finishRetrying(state: SpoolState, results: ReadonlyMap<string, LegResult>, end: RecordingEnd): Promise<FinishedRecording> {
    let waitMs = this.#o.retryMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.finish(state, results, end);
      } catch (err) {
        if (!isDiskFull(err) || this.#closed) throw err;
        this.#o.log.error({ recordingId: state.id, attempt, err: errorMessage(err) }, 'file system full while finishing a recording; trying again');
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.#waits.delete(done);
          resolve();
        };
        const t = setTimeout(done, waitMs);
        this.#waits.add(done);
      });
      waitMs = Math.min(10_000, waitMs * 2);
    }
  }

  /** Stops waiting for disk space: pending `finishRetrying` calls try once more and then fail. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#waits]) wake();
  }

  /** Removes the spool of a recording once it is sealed. */
  async complete(id: string): Promise<void> {
    await rm(this.spoolDir(id), { recursive: true, force: true });
  }

  /** Removes the spool of a recording that never recorded anything worth keeping (a cancelled call). */
  async discard(id: string): Promise<void> {
    await rm(this.spoolDir(id), { recursive: true, force: true });
  }

  /**
   * Finishes every spool folder left by a previous process (crash or kill -9): repairs the WAV
   * headers, and finishes the recording as interrupted. Its last packet and statistics come from
   * the legs' `.stats` files; its end is the later of the last packet and the end of the audio
   * written. File modification times are not used: repairing a header sets them to now (issue 5).
   */
  async recover(): Promise<FinishedRecording[]> {
    let ids: string[];
    try {
      ids = await readdir(this.spoolRoot);
    } catch {
      return [];
    }
    const done: FinishedRecording[] = [];
    for (const id of ids.sort()) {
      const dir = this.spoolDir(id);
      try {
        if (existsSync(join(dir, 'finished.json'))) {
          // Finished but not (known to be) sealed when the process ended.
          done.push(JSON.parse(await readFile(join(dir, 'finished.json'), 'utf8')) as FinishedRecording);
          continue;
        }
        if (!existsSync(join(dir, 'state.json'))) {
          // Killed before the first state was written: no audio was answered for yet.
          this.#o.log.warn({ recordingId: id }, 'spool folder without state; removed');
          await rm(dir, { recursive: true, force: true });
          continue;
        }
        const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as SpoolState;
        const results = new Map<string, LegResult>();
        let endMs = state.startMs;
        let lastPacketAtMs: number | undefined;
        const legs: SpoolLeg[] = [];
        for (const leg of state.legs) {
          try {
            const codec = codecByName(leg.codec);
            const path = codec ? codecFilePath(leg.path, codec) : leg.path;
            // Ogg pages carry their own lengths and CRCs: an Ogg file needs no header repair.
            const dataBytes = codec?.container === 'ogg' ? (await stat(path)).size : repairWavHeader(path).dataBytes;
            // The stats file sits beside the spool path the leg was opened with (legstats.ts).
            const saved = readLegStats(leg.path);
            const stats: StreamStats = saved?.stats ?? { ...emptyStats(), audioBytes: dataBytes };
            results.set(leg.legId, { stats, dataBytes, dtmf: [] });
            legs.push(leg);
            const last = saved?.stats.lastPacketAtMs;
            if (last !== undefined) lastPacketAtMs = Math.max(lastPacketAtMs ?? last, last);
            if (codec?.framing === 'bytes') endMs = Math.max(endMs, state.startMs + (dataBytes / (codec.clockRateHz * codec.bytesPerTick)) * 1000);
            if (codec?.name === 'G729') endMs = Math.max(endMs, state.startMs + (dataBytes / (codec.clockRateHz / 8)) * 1000);
          } catch (err) {
            this.#o.log.error({ recordingId: id, leg: leg.legId, err: errorMessage(err) }, 'leg file could not be recovered');
          }
        }
        if (lastPacketAtMs !== undefined) endMs = Math.max(endMs, lastPacketAtMs);
        const finished = await this.finish({ ...state, legs }, results, {
          endMs: Math.round(endMs), endReason: 'interrupted (process ended during the call)', interrupted: true,
          lastPacketAtMs: lastPacketAtMs ?? Math.round(endMs),
        });
        this.#o.log.warn({ recordingId: id, dir: finished.dir, base: finished.facts.baseName }, 'interrupted recording recovered');
        done.push(finished);
      } catch (err) {
        this.#o.log.error({ recordingId: id, err: errorMessage(err) }, 'spool folder could not be recovered; left in place');
      }
    }
    return done;
  }
}

function order(role: string): number {
  return role === 'caller' ? 0 : role === 'callee' ? 1 : 2;
}

async function moveFile(from: string, to: string): Promise<void> {
  // Finishing again after a full disk: what an earlier attempt moved is already in place.
  if (!existsSync(from) && existsSync(to)) return;
  try {
    await rename(from, to);
  } catch (err) {
    // A recordings folder on another file system: copy, then remove the spool copy.
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from);
  }
}

/** Writes a file and fsyncs it. */
export async function writeDurable(path: string, text: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}
