/**
 * Which source address a leg accepts media from (invariant 4: media only from the negotiated
 * source). Does no I/O: `accept(address, port) -> boolean`.
 *
 * - `sdp`: the address the SRC's SDP names in `c=` (RFC 4566 section 5.7; a SIPREC SRC offers its
 *   own media address, RFC 7866 section 8.1). The port is latched on the first packet from that
 *   address, since a sender need not send from the port it receives on (RFC 4961 is only a
 *   recommendation). When the SDP address is unusable (0.0.0.0, `::`, a host name, none), the
 *   first source seen is latched instead.
 * - `first`: the first source (address and port) seen, for an SRC behind NAT.
 *
 * Everything else is foreign: counted by the caller, never written. Spoofed UDP source addresses
 * are not detected here; SRTP authenticates the sender where that matters.
 */
import { isIP } from 'node:net';

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

  constructor(mode: SourceCheck, sdpAddress: string | undefined) {
    this.#mode = mode;
    this.#address = mode === 'sdp' ? usableSdpAddress(sdpAddress) : undefined;
  }

  /** Whether a source is already latched, so foreign packets can be dropped before any parsing. */
  get latched(): boolean {
    return this.#address !== undefined && this.#port !== undefined;
  }

  /** True when a packet from `address:port` belongs to the leg. Does not latch. */
  matches(address: string, port: number): boolean {
    if (this.#address === undefined) return true;
    if (normalizeAddress(address) !== this.#address) return false;
    return this.#port === undefined || this.#port === port;
  }

  /** Latches the source of a valid packet (call after it parsed and, for SRTP, authenticated). */
  latch(address: string, port: number): void {
    this.#address ??= normalizeAddress(address);
    this.#port ??= port;
  }

  /** A re-INVITE named a (possibly new) address: a changed, usable one starts a new latch. */
  update(sdpAddress: string | undefined): void {
    if (this.#mode !== 'sdp') return;
    const a = usableSdpAddress(sdpAddress);
    if (a === undefined || a === this.#address) return;
    this.#address = a;
    this.#port = undefined;
  }
}
