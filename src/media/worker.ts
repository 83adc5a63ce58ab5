/**
 * Media worker (a `worker_threads` thread): owns the RTP sockets of the legs it is given, decrypts
 * SRTP, places packets on each leg's timeline and streams the audio to the leg's WAV file. The SIP
 * thread only sends it open/update/close commands, so media never stalls signalling (design,
 * Processes). A bad packet is counted, never thrown; a packet from a source other than the
 * negotiated one is counted as `foreignSource` and never written (invariant 4). A write error (a
 * full disk) ends only that leg: its socket closes, what reached the file is kept, and the SIP
 * thread is told; it never takes the worker down.
 *
 * In-line mode: the worker also relays calls (`relay.ts`), and a tap leg binds no socket but
 * records what its relay accepted from one side, through the same timeline and writer.
 *
 * Beside each leg's WAV file, `<file>.stats` holds the leg's statistics and last packet time,
 * rewritten in place every second, so crash recovery knows when audio really stopped.
 */
import dgram from 'node:dgram';
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { parseRtp, Timeline, SrtpReceiver, SourceFilter, parseSdesCrypto, DtmfDetector, type RtpPacket, type StreamStats, type TimelineWrite } from '../rtp/index.ts';
import { openLegWriter, type LegWriter } from './writers.ts';
import { codecByName, type Codec } from './codecs.ts';
import type { WorkerCommand, WorkerEvent, LegSpec, LegChange } from './protocol.ts';
import { LEG_STATS_BYTES, legStatsPath, renderLegStats } from './legstats.ts';
import { CallsealError } from '../common/errors.ts';
import { afterQueuedRead, whenQuiet } from './close-drain.ts';
import { addTap, closeAllRelays, initRelays, relayActivity, relayCommand, removeTap } from './relay.ts';

/** How often buffered packets are released and file buffers flushed. */
const TICK_MS = 100;
/** How often activity is reported to the SIP thread. */
const ACTIVITY_MS = 1000;

interface Leg {
  readonly spec: LegSpec;
  /** The leg's RTP socket; none for a tap, which the relay feeds. */
  readonly socket: dgram.Socket | undefined;
  readonly timeline: Timeline;
  readonly writer: LegWriter;
  readonly codec: Codec;
  audioPayloadType: number;
  dtmfPayloadType: number | undefined;
  srtp: SrtpReceiver | undefined;
  readonly dtmf: { digit: string; atMs: number }[];
  readonly dtmfDetector: DtmfDetector;
  readonly source: SourceFilter;
  /** Descriptor of the `.stats` file, or undefined when it could not be created. */
  statsFd: number | undefined;
  /** Last packet time written to the `.stats` file. */
  savedPacketAtMs: number | undefined;
  /** Set when a write failed: the leg records nothing more and waits for its close. */
  failed: string | undefined;
  /** Datagrams read from the socket, so a closing leg can tell whether its queue is empty. */
  datagrams: number;
}

const legs = new Map<string, Leg>();
const port = parentPort;

/**
 * Test-only (`CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS`, passed by the engine to a slot's first
 * worker): after this many packets the worker throws from its socket handler, a real uncaught
 * exception that takes the thread down, so the supervision is tested against a real failure.
 */
const data: unknown = workerData;
const armed: unknown = typeof data === 'object' && data !== null && 'crashAfterPackets' in data ? data.crashAfterPackets : undefined;
const crashAfterPackets = typeof armed === 'number' ? armed : undefined;
let packetsSeen = 0;

function post(event: WorkerEvent): void {
  port?.postMessage(event);
}

function apply(leg: Leg, writes: readonly TimelineWrite[]): void {
  for (const w of writes) {
    if (w.kind === 'audio') leg.writer.write(w.bytes);
    else if (w.kind === 'silence') leg.writer.fill(w.count);
    else leg.writer.truncate(w.length);
  }
}

/** Ends a leg's recording after a write error; the file keeps what reached the disk. */
function failLeg(leg: Leg, err: unknown): void {
  if (leg.failed !== undefined) return;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  const file = basename(leg.spec.path);
  leg.failed = full ? `file system full (${code}) writing ${file}` : `write error${code ? ` (${code})` : ''} on ${file}: ${String(err)}`;
  stopInput(leg);
  leg.writer.dropBuffered();
  post({ op: 'failed', legId: leg.spec.legId, error: leg.failed, code: full ? 'CS_RECORDING_DISK_FULL' : 'CS_RECORDING_IO' });
}

/** Applies writes; a write error ends the leg instead of escaping into the socket handler. */
function applySafe(leg: Leg, writes: readonly TimelineWrite[]): void {
  if (writes.length === 0 || leg.failed !== undefined) return;
  try {
    apply(leg, writes);
  } catch (err) {
    failLeg(leg, err);
  }
}

function saveStats(leg: Leg, final: boolean): void {
  const s = leg.timeline.stats;
  if (leg.statsFd === undefined || (!final && s.lastPacketAtMs === leg.savedPacketAtMs)) return;
  try {
    // Rewritten in place within the bytes allocated at open, so a full disk does not stop it.
    writeSync(leg.statsFd, renderLegStats(leg.writer.adjustStats(s), leg.writer.flushedBytes), 0, LEG_STATS_BYTES, 0);
    leg.savedPacketAtMs = s.lastPacketAtMs;
  } catch (err) {
    post({ op: 'warning', legId: leg.spec.legId, error: `stats file: ${String(err)}` });
    closeStats(leg);
  }
}

function closeStats(leg: Leg): void {
  if (leg.statsFd === undefined) return;
  const fd = leg.statsFd;
  leg.statsFd = undefined;
  try {
    closeSync(fd);
  } catch (err) {
    post({ op: 'warning', legId: leg.spec.legId, error: `stats file: ${String(err)}` });
  }
}

/** Stops a leg's input: its socket closes, or a tap leaves its relay. */
function stopInput(leg: Leg): void {
  if (leg.socket) leg.socket.close();
  else if (leg.spec.tap) removeTap(leg.spec.legId, leg.spec.tap);
}

function countPacket(): void {
  if (crashAfterPackets !== undefined && ++packetsSeen > crashAfterPackets) {
    throw new CallsealError('CS_MEDIA_TEST_CRASH', `test-only crash after ${crashAfterPackets} packets (CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS)`);
  }
}

function onPacket(leg: Leg, data: Buffer, rinfo: dgram.RemoteInfo): void {
  countPacket();
  const stats = leg.timeline.stats;
  if (leg.failed !== undefined) return;
  // A foreign packet costs one comparison, before SRTP or parsing.
  const now = Date.now();
  if (!leg.source.matches(rinfo.address, rinfo.port, now)) {
    stats.foreignSource++;
    return;
  }
  let packet = data;
  if (leg.srtp) {
    try {
      packet = leg.srtp.unprotect(data);
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'CS_SRTP_AUTH') stats.authFailures++;
      else stats.malformed++;
      return;
    }
  }
  let rtp;
  try {
    rtp = parseRtp(packet);
  } catch {
    // Counted as evidence (B9); the packet itself is unusable.
    stats.malformed++;
    return;
  }
  // Only a packet that parsed (and authenticated, for SRTP) chooses the source.
  leg.source.accept(rinfo.address, rinfo.port, now);
  onRtp(leg, rtp, now);
}

/** A packet that passed the source check and SRTP: from the leg's socket, or from its relay for a tap. */
function onRtp(leg: Leg, rtp: RtpPacket, now: number): void {
  if (leg.failed !== undefined) return;
  if (rtp.payloadType === leg.audioPayloadType) {
    applySafe(leg, leg.timeline.push(rtp, now));
    return;
  }
  leg.timeline.stats.otherPayload++;
  const digit = rtp.payloadType === leg.dtmfPayloadType ? leg.dtmfDetector.push(rtp) : undefined;
  if (digit !== undefined) {
    if (leg.dtmf.length < 1000) leg.dtmf.push({ digit, atMs: now });
    post({ op: 'dtmf', legId: leg.spec.legId, digit, atMs: now });
  }
}

function open(spec: LegSpec): void {
  const codec = codecByName(spec.codec);
  if (!codec) {
    post({ op: 'opened', legId: spec.legId, error: `unsupported codec ${spec.codec}` });
    return;
  }
  let writer: LegWriter;
  try {
    // The container follows the codec (WAV, or Ogg for Opus); see writers.ts.
    writer = openLegWriter(spec.path, codec);
  } catch (err) {
    post({ op: 'opened', legId: spec.legId, error: `cannot create ${spec.path}: ${String(err)}` });
    return;
  }
  let srtp: SrtpReceiver | undefined;
  try {
    srtp = spec.srtpCrypto ? new SrtpReceiver(parseSdesCrypto(spec.srtpCrypto)) : undefined;
  } catch (err) {
    writer.close();
    post({ op: 'opened', legId: spec.legId, error: `bad SRTP key: ${String(err)}` });
    return;
  }
  let statsFd: number | undefined;
  try {
    statsFd = openSync(legStatsPath(spec.path), 'w');
    writeSync(statsFd, renderLegStats(undefined, 0), 0, LEG_STATS_BYTES, 0);
  } catch (err) {
    if (statsFd !== undefined) closeSync(statsFd);
    writer.close();
    post({ op: 'opened', legId: spec.legId, error: `cannot create ${legStatsPath(spec.path)}: ${String(err)}` });
    return;
  }
  const socket = spec.tap ? undefined : dgram.createSocket({ type: spec.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1024 * 1024 });
  const leg: Leg = {
    spec, socket, writer, codec, srtp,
    timeline: new Timeline({ startMs: spec.startMs, clockRateHz: codec.clockRateHz, bytesPerTick: codec.bytesPerTick, reorderMs: spec.reorderMs }),
    audioPayloadType: spec.audioPayloadType,
    dtmfPayloadType: spec.dtmfPayloadType,
    dtmf: [],
    dtmfDetector: new DtmfDetector(),
    source: new SourceFilter(spec.sourceCheck ?? 'sdp', spec.remoteAddress, spec.remotePort),
    statsFd, savedPacketAtMs: undefined, failed: undefined, datagrams: 0,
  };
  if (!socket) {
    openTap(leg);
    return;
  }
  socket.on('message', (data, rinfo) => {
    leg.datagrams++;
    onPacket(leg, data, rinfo);
  });
  socket.once('error', (err) => {
    if (!legs.has(spec.legId)) {
      writer.close();
      closeStats(leg);
      post({ op: 'opened', legId: spec.legId, error: `cannot bind ${spec.host}:${spec.port}: ${err.message}` });
    }
  });
  socket.bind(spec.port, spec.host, () => {
    legs.set(spec.legId, leg);
    post({ op: 'opened', legId: spec.legId });
  });
}

/** A tap leg records what its relay hands it; it opens only beside an open relay in this worker. */
function openTap(leg: Leg): void {
  const { legId, tap } = leg.spec;
  if (!tap || !addTap(legId, tap)) {
    leg.writer.close();
    closeStats(leg);
    post({ op: 'opened', legId, error: `relay ${tap?.relayId ?? '?'} is not open in this worker` });
    return;
  }
  legs.set(legId, leg);
  post({ op: 'opened', legId });
}

/**
 * Closes a leg: with `drain`, only once its socket has been quiet for the reorder window (RTP
 * still in flight when the stream ended) and the datagrams already queued for it are read, so
 * neither late packets nor a worker that fell behind lose any of the call's audio; at exit at once.
 */
function close(legId: string, endMs: number, drain: boolean): void {
  const leg = legs.get(legId);
  if (!leg) {
    post({ op: 'closed', legId, error: 'unknown leg' });
    return;
  }
  legs.delete(legId);
  if (!drain || leg.failed !== undefined) {
    finishLeg(leg, endMs);
    return;
  }
  const read = (): number => leg.datagrams;
  const finish = (): void => { finishLeg(leg, endMs); };
  // A tap has no socket of its own: what its relay accepted has already been handed to it.
  if (!leg.socket) afterQueuedRead(read, finish);
  else whenQuiet(read, leg.spec.reorderMs, () => { afterQueuedRead(read, finish); });
}

function finishLeg(leg: Leg, endMs: number): void {
  const legId = leg.spec.legId;
  if (leg.failed === undefined) stopInput(leg);
  let error = leg.failed;
  // A failed leg is not padded: its file ends where the disk stopped it.
  if (leg.failed === undefined) applySafe(leg, leg.timeline.finish(endMs));
  if (leg.failed !== undefined) {
    error = leg.failed;
    leg.writer.dropBuffered();
  }
  try {
    leg.writer.close();
  } catch (err) {
    leg.writer.dropBuffered();
    error = `closing ${leg.spec.path}: ${String(err)}`;
  }
  saveStats(leg, true);
  closeStats(leg);
  post({ op: 'closed', legId, stats: leg.writer.adjustStats(leg.timeline.stats), dataBytes: leg.writer.dataBytes, dtmf: leg.dtmf, ...(error !== undefined ? { error } : {}) });
}

function update(legId: string, change: LegChange): void {
  const leg = legs.get(legId);
  if (!leg) return;
  if (change.remoteAddress !== undefined) leg.source.update(change.remoteAddress, change.remotePort);
  if (change.audioPayloadType !== undefined) leg.audioPayloadType = change.audioPayloadType;
  if (change.dtmfPayloadType !== undefined) leg.dtmfPayloadType = change.dtmfPayloadType;
  if (change.srtpCrypto !== undefined) {
    try {
      leg.srtp = new SrtpReceiver(parseSdesCrypto(change.srtpCrypto));
    } catch {
      leg.timeline.stats.malformed++;
    }
  }
}

setInterval(() => {
  const now = Date.now();
  for (const leg of legs.values()) {
    if (leg.failed !== undefined) continue;
    try {
      apply(leg, leg.timeline.drain(now));
      leg.writer.flush();
    } catch (err) {
      failLeg(leg, err);
    }
  }
}, TICK_MS);

setInterval(() => {
  const activity: [string, number, number, number][] = [];
  for (const [id, leg] of legs) {
    saveStats(leg, false);
    const s: StreamStats = leg.timeline.stats;
    activity.push([id, s.lastPacketAtMs ?? 0, s.received, s.lost]);
  }
  post({ op: 'activity', legs: activity });
  const relays = relayActivity();
  if (relays.length > 0) post({ op: 'relayActivity', relays });
}, ACTIVITY_MS);

initRelays({
  post,
  packetSeen: countPacket,
  feedTap(legId, rtp, nowMs) {
    const leg = legs.get(legId);
    if (!leg) return;
    leg.datagrams++;
    onRtp(leg, rtp, nowMs);
  },
});

port?.on('message', (cmd: WorkerCommand) => {
  switch (cmd.op) {
    case 'open':
      open(cmd.spec);
      break;
    case 'update':
      update(cmd.legId, cmd.change);
      break;
    case 'close':
      close(cmd.legId, cmd.endMs, true);
      break;
    case 'relayOpen':
    case 'relayUpdate':
    case 'relayPlay':
    case 'relayClose':
      relayCommand(cmd);
      break;
    case 'stop':
      closeAllRelays();
      for (const id of [...legs.keys()]) close(id, Date.now(), false);
      process.exit(0);
  }
});
