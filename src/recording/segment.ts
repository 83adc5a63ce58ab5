/**
 * One recording segment of a call: its id, its legs in the media engine and their RTP port blocks,
 * the leg results, and its metadata files in the spool. A `Recorder` holds one at a time; a stop
 * and a later start make a new segment, which is a new recording. It does not decide when to open
 * or close anything, and emits nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import type { LegChange, LegResult } from '../media/index.ts';
import type { Spool, SpoolLeg } from './spool.ts';
import type { RecorderLeg, RecorderMedia, StreamSpec } from './recorder-model.ts';

/** What every segment of a call shares. */
export interface SegmentOptions {
  readonly callId: string;
  readonly media: RecorderMedia;
  readonly spool: Spool;
  readonly log: Logger;
  /** The media worker of the call: the legs of one call stay in one worker. */
  readonly workerIndex: number;
  readonly rtpHost: string;
  readonly reorderMs: number;
}

interface Leg {
  /** `leg-<n>`; the media engine knows it as `<segment id>/leg-<n>`. */
  readonly legId: string;
  readonly label: string;
  readonly port: number;
  readonly codec: string;
  payloadType: number;
  crypto: string | undefined;
  readonly localCrypto: string | undefined;
  open: boolean;
}

/** The files, legs and ports of one recording. */
export class Segment {
  /** The recording id: spool folder, file names and the media engine's leg ids. */
  readonly id = randomBytes(6).toString('hex');
  /** Position 0 of every leg, on the wall clock. */
  readonly startMs: number;
  readonly #o: SegmentOptions;
  readonly #legs: Leg[] = [];
  readonly #results = new Map<string, LegResult>();
  readonly #metadataFiles: string[] = [];
  #portBlocks: [number, number][] = [];
  #legCount = 0;

  constructor(startMs: number, options: SegmentOptions) {
    this.startMs = startMs;
    this.#o = options;
  }

  /** Base port of the first block. */
  get basePort(): number | undefined { return this.#portBlocks[0]?.[0]; }

  /** Metadata file names in the spool, oldest first. */
  get metadataFiles(): readonly string[] { return [...this.#metadataFiles]; }

  /** Open legs. */
  legs(): RecorderLeg[] {
    return this.#legs.filter((l) => l.open).map((l) => view(l));
  }

  /** The stream label of a media engine leg id of this segment. */
  labelOf(legId: string): string | undefined {
    return this.#legs.find((l) => this.#engineId(l) === legId)?.label;
  }

  /** Media engine ids of every leg, open or closed (their activity counts). */
  engineLegIds(): string[] {
    return this.#legs.map((l) => this.#engineId(l));
  }

  /** Creates the spool folder. */
  async create(): Promise<void> {
    await this.#o.spool.create(this.id);
  }

  /** Keeps one metadata version in the spool. */
  async saveMetadata(raw: Buffer): Promise<void> {
    this.#metadataFiles.push(await this.#o.spool.saveMetadata(this.id, this.#metadataFiles.length + 1, raw));
  }

  /** Takes a block of `streams` contiguous port pairs; returns its base port. Throws CS_PORTS_EXHAUSTED. */
  allocate(streams: number): number {
    const base = this.#o.media.ports.allocate(streams);
    this.#portBlocks.push([base, streams]);
    return base;
  }

  /** Opens a leg on `port`; resolves when its socket is bound and its file created. */
  async openLeg(stream: StreamSpec, port: number): Promise<RecorderLeg> {
    const leg: Leg = {
      legId: `leg-${++this.#legCount}`, label: stream.label, port, codec: stream.codec, payloadType: stream.payloadType,
      crypto: stream.srtpCrypto, localCrypto: stream.localCrypto, open: true,
    };
    await this.#o.media.openLeg(this.#o.workerIndex, {
      legId: this.#engineId(leg), host: this.#o.rtpHost, port, codec: stream.codec, audioPayloadType: stream.payloadType,
      ...(stream.dtmfPayloadType !== undefined ? { dtmfPayloadType: stream.dtmfPayloadType } : {}),
      ...(stream.srtpCrypto !== undefined ? { srtpCrypto: stream.srtpCrypto } : {}),
      path: this.#o.spool.legPath(this.id, leg.legId), startMs: this.startMs, reorderMs: this.#o.reorderMs,
      // Invariant 4: the worker records media only from the address the SRC's SDP names.
      ...(stream.remote ? { remoteAddress: stream.remote.address, remotePort: stream.remote.port } : {}),
      ...(stream.tap ? { tap: stream.tap } : {}),
    });
    // Only a leg that opened has a file for the spool state to name.
    this.#legs.push(leg);
    return view(leg);
  }

  /** Applies a change to the open leg of `label`; returns the leg, or undefined when none is open. */
  updateLeg(label: string, change: LegChange): RecorderLeg | undefined {
    const leg = this.#open(label);
    if (!leg) return undefined;
    if (change.audioPayloadType !== undefined) leg.payloadType = change.audioPayloadType;
    if (change.srtpCrypto !== undefined) leg.crypto = change.srtpCrypto;
    this.#o.media.updateLeg(this.#engineId(leg), change);
    return view(leg);
  }

  /** Closes the open leg of `label`, padded to `endMs`; false when none was open. A failure is logged, the file kept. */
  async closeLeg(label: string, endMs: number): Promise<boolean> {
    const leg = this.#open(label);
    if (!leg) return false;
    await this.#close(leg, endMs);
    return true;
  }

  /** Closes every open leg, padded to `endMs`, and returns the ports. */
  async closeAll(endMs: number): Promise<void> {
    await Promise.all(this.#legs.filter((l) => l.open).map((l) => this.#close(l, endMs)));
    this.releasePorts();
  }

  /** Returns every port block to the pool. */
  releasePorts(): void {
    for (const [base, n] of this.#portBlocks) this.#o.media.ports.release(base, n);
    this.#portBlocks = [];
  }

  /** Every leg as the spool state lists it. */
  spoolLegs(): SpoolLeg[] {
    return this.#legs.map((l) => ({ legId: this.#engineId(l), label: l.label, codec: l.codec, path: this.#o.spool.legPath(this.id, l.legId) }));
  }

  /** Results of the closed legs, by media engine leg id. */
  results(): Map<string, LegResult> {
    return new Map(this.#results);
  }

  /** Packets received and lost so far over the open legs, and the latest packet time of any leg. */
  activity(): { packets: number; lost: number; lastPacketAtMs: number | undefined } {
    let packets = 0;
    let lost = 0;
    let lastPacketAtMs: number | undefined;
    for (const l of this.#legs) {
      const a = this.#o.media.activity(this.#engineId(l));
      if (!a) continue;
      if (l.open) {
        packets += a.received;
        lost += a.lost;
      }
      lastPacketAtMs = Math.max(lastPacketAtMs ?? a.lastPacketAtMs, a.lastPacketAtMs);
    }
    return { packets, lost, lastPacketAtMs };
  }

  #open(label: string): Leg | undefined {
    return this.#legs.find((l) => l.open && l.label === label);
  }

  #engineId(leg: Leg): string {
    return `${this.id}/${leg.legId}`;
  }

  async #close(leg: Leg, endMs: number): Promise<void> {
    leg.open = false;
    try {
      this.#results.set(this.#engineId(leg), await this.#o.media.closeLeg(this.#engineId(leg), endMs));
    } catch (err) {
      this.#o.log.error({ callId: this.#o.callId, label: leg.label, err: errorMessage(err) }, 'closing a leg failed');
    }
  }
}

function view(l: Leg): RecorderLeg {
  return { label: l.label, codec: l.codec, payloadType: l.payloadType, crypto: l.crypto, localCrypto: l.localCrypto, port: l.port };
}
