/**
 * Media worker (a `worker_threads` thread): owns the RTP sockets of the legs it is given, decrypts
 * SRTP, places packets on each leg's timeline and streams the audio to the leg's WAV file. The SIP
 * thread only sends it open/update/close commands, so media never stalls signalling (design,
 * Processes). A bad packet is counted, never thrown.
 */
import dgram from 'node:dgram';
import { parentPort } from 'node:worker_threads';
import { parseRtp, Timeline, SrtpReceiver, parseSdesCrypto, type StreamStats, type TimelineWrite } from '../rtp/index.ts';
import { openLegWriter, type LegWriter } from './writers.ts';
import { codecByName, type Codec } from './codecs.ts';
import type { WorkerCommand, WorkerEvent, LegSpec } from './protocol.ts';

/** How often buffered packets are released and file buffers flushed. */
const TICK_MS = 100;
/** How often activity is reported to the SIP thread. */
const ACTIVITY_MS = 1000;

interface Leg {
  readonly spec: LegSpec;
  readonly socket: dgram.Socket;
  readonly timeline: Timeline;
  readonly writer: LegWriter;
  readonly codec: Codec;
  audioPayloadType: number;
  dtmfPayloadType: number | undefined;
  srtp: SrtpReceiver | undefined;
  readonly dtmf: { digit: string; atMs: number }[];
  lastDtmfTs: number | undefined;
}

const legs = new Map<string, Leg>();
const port = parentPort;

function post(event: WorkerEvent): void {
  port?.postMessage(event);
}

function apply(leg: Leg, writes: readonly TimelineWrite[]): void {
  for (const w of writes) {
    if (w.kind === 'audio') leg.writer.write(w.bytes);
    else leg.writer.fill(w.count);
  }
}

const DTMF_DIGITS = '0123456789*#ABCD';

function onPacket(leg: Leg, data: Buffer): void {
  const stats = leg.timeline.stats;
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
  const now = Date.now();
  if (rtp.payloadType === leg.audioPayloadType) {
    apply(leg, leg.timeline.push(rtp, now));
    return;
  }
  stats.otherPayload++;
  if (rtp.payloadType === leg.dtmfPayloadType && rtp.payload.length >= 4 && rtp.timestamp !== leg.lastDtmfTs) {
    // RFC 4733 section 2.3: one event per timestamp; the first packet of an event is enough to note it.
    const event = rtp.payload[0] ?? 255;
    if (event < DTMF_DIGITS.length) {
      leg.lastDtmfTs = rtp.timestamp;
      const digit = DTMF_DIGITS[event] ?? '?';
      if (leg.dtmf.length < 1000) leg.dtmf.push({ digit, atMs: now });
      post({ op: 'dtmf', legId: leg.spec.legId, digit, atMs: now });
    }
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
  const socket = dgram.createSocket({ type: spec.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1024 * 1024 });
  const leg: Leg = {
    spec, socket, writer, codec, srtp,
    timeline: new Timeline({ startMs: spec.startMs, clockRateHz: codec.clockRateHz, bytesPerTick: codec.bytesPerTick, reorderMs: spec.reorderMs }),
    audioPayloadType: spec.audioPayloadType,
    dtmfPayloadType: spec.dtmfPayloadType,
    dtmf: [],
    lastDtmfTs: undefined,
  };
  socket.on('message', (data) => {
    onPacket(leg, data);
  });
  socket.once('error', (err) => {
    if (!legs.has(spec.legId)) {
      writer.close();
      post({ op: 'opened', legId: spec.legId, error: `cannot bind ${spec.host}:${spec.port}: ${err.message}` });
    }
  });
  socket.bind(spec.port, spec.host, () => {
    legs.set(spec.legId, leg);
    post({ op: 'opened', legId: spec.legId });
  });
}

function close(legId: string, endMs: number): void {
  const leg = legs.get(legId);
  if (!leg) {
    post({ op: 'closed', legId, error: 'unknown leg' });
    return;
  }
  legs.delete(legId);
  leg.socket.close();
  let error: string | undefined;
  try {
    apply(leg, leg.timeline.finish(endMs));
    leg.writer.close();
  } catch (err) {
    error = `closing ${leg.spec.path}: ${String(err)}`;
  }
  post({ op: 'closed', legId, stats: leg.writer.adjustStats(leg.timeline.stats), dataBytes: leg.writer.dataBytes, dtmf: leg.dtmf, ...(error ? { error } : {}) });
}

function update(legId: string, change: { audioPayloadType?: number; dtmfPayloadType?: number; srtpCrypto?: string }): void {
  const leg = legs.get(legId);
  if (!leg) return;
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
    try {
      apply(leg, leg.timeline.drain(now));
      leg.writer.flush();
    } catch (err) {
      post({ op: 'failed', legId: leg.spec.legId, error: String(err) });
    }
  }
}, TICK_MS);

setInterval(() => {
  const activity: [string, number, number, number][] = [];
  for (const [id, leg] of legs) {
    const s: StreamStats = leg.timeline.stats;
    activity.push([id, s.lastPacketAtMs ?? 0, s.received, s.lost]);
  }
  post({ op: 'activity', legs: activity });
}, ACTIVITY_MS);

port?.on('message', (cmd: WorkerCommand) => {
  switch (cmd.op) {
    case 'open':
      open(cmd.spec);
      break;
    case 'update':
      update(cmd.legId, cmd.change);
      break;
    case 'close':
      close(cmd.legId, cmd.endMs);
      break;
    case 'stop':
      for (const id of [...legs.keys()]) close(id, Date.now());
      process.exit(0);
  }
});
