/**
 * The media path of one in-line call as the signalling sees it: what happens to each SDP on its
 * way to the other leg. A call that is not recorded keeps the SDP untouched (no anchoring at all);
 * a recorded one has its media anchored on a relay, each SDP rewritten to the relay's port facing
 * the receiver. Side `a` is the caller's leg, `b` the callee's. SRTP legs (SDES) are terminated on
 * the relay with keys of callseal's own per leg (`srtp-legs.ts`); an answer's SDP is handed to the
 * `answer` hook, for the recording legs to follow its codec.
 */
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { rewriteSdp, sdpAudioCodec, sdpAudioSecurity, sdpMediaAddress } from './sdp-rewrite.ts';
import { LegKeys, type LegSrtp, type SrtpMode } from './srtp-legs.ts';

/** A leg of an in-line call: `a` the caller's, `b` the callee's. */
export type LegSide = 'a' | 'b';

/** Whether an SDP is an offer or an answer (RFC 3264). */
export type SdpKind = 'offer' | 'answer';

/** What the signalling asks of the media of a call. */
export interface MediaPath {
  /** Whether the media is anchored (the SDP is rewritten). */
  readonly anchored: boolean;
  /** The SDP that `from` sent (an offer, or an answer to the other side's offer), as the other leg is to receive it. */
  sdpFrom(from: LegSide, sdp: Buffer, kind?: SdpKind): Promise<Buffer>;
  /** Frees what the path holds; idempotent. */
  close(): Promise<void>;
}

/** The media path of a call that is not recorded: every SDP reaches the other end byte for byte. */
export const directPath: MediaPath = {
  anchored: false,
  sdpFrom: (_from, sdp) => Promise.resolve(sdp),
  close: () => Promise.resolve(),
};

/** A side of a relay as the media engine knows it (the peer's address from its SDP). */
export interface RelayPeer {
  readonly remoteHost?: string;
  readonly remotePort?: number;
  /** The RFC 4733 payload type the peer sends digits with (`relayDtmf` events). */
  readonly dtmfPayloadType?: number;
}

/** A change to a side of a relay: its peer, and its SRTP keys (`null`: plain RTP). */
export interface RelayPeerChange extends RelayPeer {
  readonly srtp?: LegSrtp | null;
}

/** What an anchored path needs of the media engine's relay (`MediaEngine.openRelay` and friends). */
export interface RelayControl {
  openRelay(spec: { readonly relayId: string; readonly a: RelayPeer; readonly b: RelayPeer }): Promise<{ host: string; aPort: number; bPort: number }>;
  updateRelay(relayId: string, side: LegSide, change: RelayPeerChange): void;
  closeRelay(relayId: string): Promise<unknown>;
}

/** The peer's media address from its SDP, for the relay (none while held or unknown), and its telephone-event type. */
export function peerOf(sdp: Buffer): RelayPeer {
  const m = sdpMediaAddress(sdp);
  const dtmf = sdpAudioCodec(sdp, () => 'any')?.dtmfPayloadType;
  return {
    ...(m?.host !== undefined && !m.held ? { remoteHost: m.host, remotePort: m.port } : {}),
    ...(dtmf !== undefined ? { dtmfPayloadType: dtmf } : {}),
  };
}

/** What sees each answer's SDP. */
export type AnswerHook = (from: LegSide, sdp: Buffer) => Promise<void> | undefined;

/** Options of {@link RelayPath}. */
export interface RelayPathOptions {
  /** The profile callseal offers each side (`as-offered` by default). */
  readonly srtp?: Readonly<Record<LegSide, SrtpMode>>;
  /**
   * An answer's SDP from `from`, after the relay took it (the recording follows its codec); the
   * SDP goes on when the hook's promise settles, so the other end sends in the new codec only
   * once the recording legs take it.
   */
  readonly answer?: AnswerHook;
}

/**
 * A path anchored on a relay: the relay opens with the caller's offer, and each SDP from one side
 * names the relay's port facing the other side (the peer's address and keys go to the relay first).
 */
export class RelayPath implements MediaPath {
  readonly anchored = true;
  readonly #relay: RelayControl;
  readonly #relayId: string;
  readonly #log: Logger;
  /** callseal's relay ports, once open. */
  #ports: Promise<{ host: string; aPort: number; bPort: number }> | undefined;
  #closed = false;
  readonly #keys: LegKeys;
  #answer: AnswerHook | undefined;

  constructor(relay: RelayControl, relayId: string, log: Logger, options: RelayPathOptions = {}) {
    this.#relay = relay;
    this.#relayId = relayId;
    this.#log = log;
    this.#keys = new LegKeys(options.srtp ?? { a: 'as-offered', b: 'as-offered' });
    this.#answer = options.answer;
  }

  /** Sets the hook that sees each answer's SDP (the recording is made after the path). */
  onAnswer(hook: AnswerHook): void {
    this.#answer = hook;
  }

  /** Whether callseal speaks SRTP to `side` (undefined until that side's profile is decided). */
  srtp(side: LegSide): boolean | undefined {
    return this.#keys.srtp(side);
  }

  /** Opens the relay (at the INVITE, so ringing and early media flow through it). */
  open(aPeer: RelayPeer = {}): Promise<{ host: string; aPort: number; bPort: number }> {
    this.#ports ??= this.#relay.openRelay({ relayId: this.#relayId, a: aPeer, b: {} });
    return this.#ports;
  }

  async sdpFrom(from: LegSide, sdp: Buffer, kind: SdpKind = 'offer'): Promise<Buffer> {
    const peer = peerOf(sdp);
    // Throws (488) before anything changes when an SRTP stream has no key callseal can use.
    const keys = this.#keys.sdpFrom(from, sdpAudioSecurity(sdp));
    const first = this.#ports === undefined;
    const ports = await this.open(from === 'a' ? peer : {});
    const change: RelayPeerChange = keys.relay !== undefined ? { ...peer, srtp: keys.relay } : peer;
    if (!first || from === 'b' || keys.relay) this.#relay.updateRelay(this.#relayId, from, change);
    if (kind === 'answer') await this.#answer?.(from, sdp);
    // The receiver of this SDP sends to the relay's port facing it.
    return rewriteSdp(sdp, ports.host, from === 'a' ? ports.bPort : ports.aPort, keys.toward);
  }

  async close(): Promise<void> {
    if (this.#closed || this.#ports === undefined) return;
    this.#closed = true;
    await this.#relay.closeRelay(this.#relayId).catch((err: unknown) => {
      this.#log.warn({ relayId: this.#relayId, err: errorMessage(err) }, 'closing the relay failed');
    });
  }
}
