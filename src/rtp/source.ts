/**
 * Which source address a leg accepts media from (invariant 4: media only from the negotiated
 * source). Does no I/O: `accept(address, port) -> boolean`.
 *
 * - `sdp`: the address the SRC's SDP names in `c=` (RFC 4566 section 5.7; a SIPREC SRC offers its
 *   own media address, RFC 7866 section 8.1). The port is latched on the first packet from that
 *   address, since a sender need not send from the port it receives on (RFC 4961 is only a
 *   recommendation). When the latched port has been silent for {@link SOURCE_MOVE_MS}, a packet
 *   from another port of the same address takes over: an SBC that moves a stream (a media card
 *   failing over) loses no audio, while a second sender beside a live stream stays foreign. When
 *   the SDP address is unusable (0.0.0.0, `::`, a host name, none), the first source seen is
 *   latched instead.
 * - `first`: the first source (address and port) seen, for an SRC behind NAT.
 *
 * Everything else is foreign: counted by the caller, never written. Spoofed UDP source addresses
 * are not detected here; SRTP authenticates the sender where that matters.
 */
import { isIP } from 'node:net';

/** How long the latched port of an SDP-named address must be silent before another port of it takes over. */
export const SOURCE_MOVE_MS = 1000;

/** How a leg chooses the source it accepts media from. */
export type SourceCheck = 'sdp' | 'first';

/** Strips the IPv4-mapped prefix a dual-stack socket reports (`::ffff:192.0.2.1`). */
export function normalizeAddress(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address.toLowerCase();
}

/** An SDP connection address that names a real sender: an IP literal other than the unspecified one. */
export function usableSdpAddress(address: string | undefined): string | undefined {
  if (address === undefined || isIP(address) === 0) return undefined;
  const a = normalizeAddress(address);
  return a === '0.0.0.0' || a === '::' ? undefined : a;
}

/** The source check of one leg. */
export class SourceFilter {
  readonly #mode: SourceCheck;
  #address: string | undefined;
  #port: number | undefined;
  /** True when the SDP named the address (so the port may move within it). */
  #fromSdp: boolean;
  #lastAcceptedMs = 0;
  /** The port the SDP names (`m=`); a change announces that the SRC sends from elsewhere now. */
  #sdpPort: number | undefined;

  constructor(mode: SourceCheck, sdpAddress: string | undefined, sdpPort?: number) {
    this.#mode = mode;
    this.#sdpPort = sdpPort;
    this.#address = mode === 'sdp' ? usableSdpAddress(sdpAddress) : undefined;
    this.#fromSdp = this.#address !== undefined;
  }

  /** Whether a source is already latched, so foreign packets can be dropped before any parsing. */
  get latched(): boolean {
    return this.#address !== undefined && this.#port !== undefined;
  }

  /** The latched source (address and port), once a valid packet chose one: where symmetric RTP answers (RFC 4961). */
  get current(): { readonly address: string; readonly port: number } | undefined {
    return this.#address !== undefined && this.#port !== undefined ? { address: this.#address, port: this.#port } : undefined;
  }

  /** True when a packet from `address:port` arriving at `nowMs` belongs to the leg. Does not latch. */
  matches(address: string, port: number, nowMs: number): boolean {
    if (this.#address === undefined) return true;
    if (normalizeAddress(address) !== this.#address) return false;
    return this.#port === undefined || this.#port === port || this.#moved(nowMs);
  }

  /**
   * Records a valid packet (call after it parsed and, for SRTP, authenticated): latches its source
   * when none is, or moves the port when the latched one went silent.
   */
  accept(address: string, port: number, nowMs: number): void {
    this.#address ??= normalizeAddress(address);
    if (this.#port === undefined || (this.#port !== port && this.#moved(nowMs))) this.#port = port;
    if (this.#port === port) this.#lastAcceptedMs = nowMs;
  }

  #moved(nowMs: number): boolean {
    return this.#fromSdp && nowMs - this.#lastAcceptedMs >= SOURCE_MOVE_MS;
  }

  /**
   * A re-INVITE named a (possibly new) address and port: a changed, usable address starts a new
   * latch, and a changed port lets the next valid packet from the address latch its port again (an
   * SDP update that moves the SRC's media, as Metaswitch sends).
   */
  update(sdpAddress: string | undefined, sdpPort?: number): void {
    if (this.#mode !== 'sdp') return;
    const a = usableSdpAddress(sdpAddress);
    const portMoved = sdpPort !== undefined && this.#sdpPort !== undefined && sdpPort !== this.#sdpPort;
    if (sdpPort !== undefined && a !== undefined) this.#sdpPort = sdpPort;
    if (a !== undefined && this.#fromSdp && a === this.#address && portMoved) {
      this.#port = undefined;
      return;
    }
    if (a === undefined || (this.#fromSdp && a === this.#address)) return;
    this.#address = a;
    this.#port = undefined;
    this.#fromSdp = true;
  }
}
