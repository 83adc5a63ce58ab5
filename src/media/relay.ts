/**
 * The relays of one media worker (in-line mode): two UDP sockets per relayed call, one facing each
 * side, the forwarding of `relay-core.ts` between them, prompt pacing, and the feeding of tap legs.
 * Runs in the worker thread only; the SIP thread reaches it through `relay*` commands (protocol.ts).
 * A bad packet is counted, never thrown; a socket error is counted and logged once as a warning, it
 * never takes the worker down.
 */
import dgram from 'node:dgram';
import type { RtpPacket } from '../rtp/index.ts';
import { RelayCore, type Outbound } from './relay-core.ts';
import type { LegTap, RelayBinding, RelayResult, RelaySideChange, RelaySideName, WorkerCommand, WorkerEvent } from './protocol.ts';

/** What the relays need from the worker around them. */
export interface RelayHost {
  post(event: WorkerEvent): void;
  /** Called for every datagram (the worker's test-only crash counts them). */
  packetSeen(): void;
  /** Hands an accepted packet to a tap leg (the same path as a SIPREC leg's packets after SRTP). */
  feedTap(legId: string, rtp: RtpPacket, nowMs: number): void;
}

/** A prompt being played to one side. */
interface Play {
  readonly playId: number;
  readonly payloads: readonly Buffer[];
  readonly payloadType: number;
  readonly ptimeMs: number;
  readonly clockRateHz: number;
  readonly startedAtMs: number;
  next: number;
  timer: NodeJS.Timeout | undefined;
}

interface LiveRelay {
  readonly binding: RelayBinding;
  readonly core: RelayCore;
  readonly sockets: Record<RelaySideName, dgram.Socket>;
  /** Tap legs per side: leg id to whether prompts to the other side replace the side's packets in it. */
  readonly taps: Record<RelaySideName, Map<string, boolean>>;
  readonly plays: Record<RelaySideName, Play | undefined>;
  /** Send callbacks per side, made once (not one closure per packet). */
  readonly sent: Record<RelaySideName, (err: Error | null) => void>;
  open: boolean;
}

const relays = new Map<string, LiveRelay>();
let host: RelayHost | undefined;

function other(side: RelaySideName): RelaySideName {
  return side === 'a' ? 'b' : 'a';
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // Closed already (a bind error closes the socket): nothing left to free.
  }
}

/** Sets the worker callbacks; called once at worker start. */
export function initRelays(h: RelayHost): void {
  host = h;
}

function send(relay: LiveRelay, out: Outbound): void {
  relay.sockets[out.to].send(out.packet, out.port, out.host, relay.sent[out.to]);
}

/** Why a key was refused, without the key itself (a secret). */
function keyError(err: unknown): string {
  return err instanceof Error && 'code' in err ? String(err.code) : 'unreadable key';
}

function onDatagram(relay: LiveRelay, from: RelaySideName, data: Buffer, rinfo: dgram.RemoteInfo): void {
  host?.packetSeen();
  if (!relay.open) return;
  const now = Date.now();
  const fwd = relay.core.receive(from, data, rinfo.address, rinfo.port, now);
  if (fwd.send) send(relay, fwd.send);
  if (fwd.rtp) {
    for (const [legId, includePrompts] of relay.taps[from]) {
      if (!includePrompts) host?.feedTap(legId, fwd.rtp, now);
      else if (!fwd.replaced) host?.feedTap(legId, fwd.heard ?? fwd.rtp, now);
    }
  }
  if (fwd.digit !== undefined) host?.post({ op: 'relayDtmf', relayId: relay.binding.relayId, fromSide: from, digit: fwd.digit, atMs: now });
}

/** Binds both sockets of a relay; answers `relayOpened`. */
export function openRelay(binding: RelayBinding): void {
  const { relayId } = binding;
  if (relays.has(relayId)) {
    host?.post({ op: 'relayOpened', relayId, error: `relay ${relayId} is open already` });
    return;
  }
  let core: RelayCore;
  try {
    core = new RelayCore(binding.a, binding.b, binding.sourceCheck);
  } catch (err) {
    host?.post({ op: 'relayOpened', relayId, error: `bad SRTP key (${keyError(err)})` });
    return;
  }
  const type = binding.host.includes(':') ? 'udp6' : 'udp4';
  const sockets = { a: dgram.createSocket({ type, recvBufferSize: 1024 * 1024 }), b: dgram.createSocket({ type, recvBufferSize: 1024 * 1024 }) };
  const sent = (side: RelaySideName) => (err: Error | null): void => {
    if (err) core.sendFailed(side);
  };
  const relay: LiveRelay = { binding, core, sockets, taps: { a: new Map(), b: new Map() }, plays: { a: undefined, b: undefined }, sent: { a: sent('a'), b: sent('b') }, open: false };
  let bound = 0;
  let failed = false;
  for (const side of ['a', 'b'] as const) {
    const socket = sockets[side];
    socket.on('message', (data, rinfo) => { onDatagram(relay, side, data, rinfo); });
    socket.on('error', (err) => {
      if (relay.open) {
        host?.post({ op: 'warning', legId: relayId, error: `relay socket ${side}: ${err.message}` });
        return;
      }
      if (failed) return;
      failed = true;
      for (const s of Object.values(sockets)) closeQuietly(s);
      host?.post({ op: 'relayOpened', relayId, error: `cannot bind ${binding.host}:${side === 'a' ? binding.aPort : binding.bPort}: ${err.message}` });
    });
    socket.bind(side === 'a' ? binding.aPort : binding.bPort, binding.host, () => {
      if (failed || ++bound < 2) return;
      relay.open = true;
      relays.set(relayId, relay);
      host?.post({ op: 'relayOpened', relayId });
    });
  }
}

/** Applies an SDP change to one side; a bad key is reported as a warning and changes nothing. */
export function updateRelay(relayId: string, side: RelaySideName, change: RelaySideChange): void {
  const relay = relays.get(relayId);
  if (!relay) return;
  try {
    relay.core.update(side, change);
  } catch (err) {
    host?.post({ op: 'warning', legId: relayId, error: `relay side ${side}: SDP change refused, bad SRTP key (${keyError(err)})` });
  }
}

function endPlay(relay: LiveRelay, toSide: RelaySideName): void {
  const play = relay.plays[toSide];
  if (!play) return;
  clearTimeout(play.timer);
  relay.plays[toSide] = undefined;
  relay.core.setPrompting(toSide, false);
  host?.post({ op: 'relayPlayed', relayId: relay.binding.relayId, playId: play.playId, sent: play.next });
}

/** Sends the next frame of a prompt and schedules the one after against the start time (no drift). */
function playFrame(relay: LiveRelay, toSide: RelaySideName, play: Play): void {
  if (relay.plays[toSide] !== play) return;
  const payload = play.payloads[play.next];
  if (payload === undefined) {
    endPlay(relay, toSide);
    return;
  }
  const now = Date.now();
  const ticks = Math.round((play.ptimeMs * play.clockRateHz) / 1000);
  const frame = relay.core.prompt(toSide, payload, play.payloadType, ticks, play.clockRateHz, play.next === 0, now);
  play.next++;
  if (frame.send) send(relay, frame.send);
  // The prompt replaces the other side's packets to `toSide`: the taps of that direction record it.
  for (const [legId, includePrompts] of relay.taps[other(toSide)]) if (includePrompts) host?.feedTap(legId, frame.rtp, now);
  play.timer = setTimeout(() => { playFrame(relay, toSide, play); }, Math.max(0, play.startedAtMs + play.next * play.ptimeMs - Date.now()));
}

/** Plays codec frames to one side at ptime; a prompt playing there already ends first. Answers `relayPlayed`. */
export function playRelay(relayId: string, playId: number, toSide: RelaySideName, payloads: readonly Buffer[], payloadType: number, ptimeMs: number, clockRateHz: number): void {
  const relay = relays.get(relayId);
  if (!relay) {
    host?.post({ op: 'relayPlayed', relayId, playId, sent: 0 });
    return;
  }
  endPlay(relay, toSide);
  const play: Play = { playId, payloads, payloadType, ptimeMs: Math.max(1, ptimeMs), clockRateHz, startedAtMs: Date.now(), next: 0, timer: undefined };
  relay.plays[toSide] = play;
  relay.core.setPrompting(toSide, true);
  playFrame(relay, toSide, play);
}

/** Closes a relay: prompts end, sockets close, taps stay open (they get no more packets). Answers `relayClosed`. */
export function closeRelay(relayId: string): void {
  const relay = relays.get(relayId);
  if (!relay) {
    host?.post({ op: 'relayClosed', relayId });
    return;
  }
  relays.delete(relayId);
  endPlay(relay, 'a');
  endPlay(relay, 'b');
  relay.open = false;
  closeQuietly(relay.sockets.a);
  closeQuietly(relay.sockets.b);
  host?.post({ op: 'relayClosed', relayId, result: relay.core.counts });
}

/** Registers a tap leg; false when its relay is not open here. */
export function addTap(legId: string, tap: LegTap): boolean {
  const relay = relays.get(tap.relayId);
  if (!relay) return false;
  relay.taps[tap.side].set(legId, tap.includePrompts ?? true);
  return true;
}

/** Unregisters a tap leg (its relay may be closed already). */
export function removeTap(legId: string, tap: LegTap): void {
  relays.get(tap.relayId)?.taps[tap.side].delete(legId);
}

/** The counts of every open relay, for the periodic activity report. */
export function relayActivity(): [string, RelayResult][] {
  return [...relays].map(([id, r]) => [id, r.core.counts]);
}

/** The frames of a `relayPlay`, as views into its one buffer. */
function splitFrames(frames: Uint8Array, lengths: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of lengths) {
    if (at + n > frames.byteLength) break;
    out.push(Buffer.from(frames.buffer, frames.byteOffset + at, n));
    at += n;
  }
  return out;
}

/** Carries out a relay command from the SIP thread. */
export function relayCommand(cmd: Extract<WorkerCommand, { op: 'relayOpen' | 'relayUpdate' | 'relayPlay' | 'relayClose' }>): void {
  switch (cmd.op) {
    case 'relayOpen':
      openRelay(cmd.binding);
      break;
    case 'relayUpdate':
      updateRelay(cmd.relayId, cmd.side, cmd.change);
      break;
    case 'relayPlay':
      playRelay(cmd.relayId, cmd.playId, cmd.toSide, splitFrames(cmd.frames, cmd.frameLengths), cmd.payloadType, cmd.ptimeMs, cmd.clockRateHz);
      break;
    case 'relayClose':
      closeRelay(cmd.relayId);
      break;
  }
}

/** Closes every relay (worker stop). */
export function closeAllRelays(): void {
  for (const id of [...relays.keys()]) closeRelay(id);
}
