/**
 * SRTP (SDES, RFC 4568) on the legs of an anchored in-line call, with keys of callseal's own per
 * leg: the relay decrypts what a side sends with that side's key and encrypts what it sends a side
 * with a key callseal made for it, so one leg's key never reaches the other leg. Per side it keeps
 * whether callseal speaks SRTP to it and callseal's own `a=crypto` value for it; from each SDP it
 * tells the relay's keys for the sender and the profile and key of the SDP toward the receiver.
 *
 * Rules: a side's own SDP decides its profile (an SRTP offer is answered with SRTP, in the suite
 * and tag of the first crypto line callseal supports, RFC 4568 section 7.1.1). The side callseal
 * offers to first gets the profile its mode asks for: `as-offered` the profile of the SDP being
 * relayed, `rtp` plain RTP/AVP, `srtp` RTP/SAVP. Does no I/O; keys are never logged or put in
 * error messages.
 */
import { SipError } from '../common/errors.ts';
import { newSdesCrypto, parseSdesCrypto, type SrtpSuite } from '../rtp/index.ts';
import type { LegSide } from './media-path.ts';
import type { SdpAudioSecurity, SdpSecurityRewrite } from './sdp-rewrite.ts';

/** The profile callseal offers a side: the one of the SDP it relays, plain RTP or SRTP (SDES). */
export type SrtpMode = 'as-offered' | 'rtp' | 'srtp';

/** The suite callseal offers when the other side gave none (RFC 4568 section 6.2.1's mandatory one). */
const DEFAULT_SUITE: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';

/** The keys of an SRTP side for the relay: the peer's (decrypt) and callseal's own (encrypt). */
export interface LegSrtp {
  readonly receive: string;
  readonly send: string;
}

interface SideKeys {
  /** Whether callseal speaks SRTP to the side; undefined until decided. */
  srtp: boolean | undefined;
  /** callseal's own `a=crypto` value for the side, and its tag and suite. */
  own: { readonly value: string; readonly tag: number; readonly suite: SrtpSuite } | undefined;
}

/** What one SDP changes. */
export interface LegKeysChange {
  /** The sender's relay keys: new keys, `null` for plain RTP, undefined when the SDP has no audio stream. */
  readonly relay: LegSrtp | null | undefined;
  /** The profile and key of the SDP toward the receiver; undefined when the SDP has no audio stream. */
  readonly toward: SdpSecurityRewrite | undefined;
}

/** The first crypto line callseal supports, parsed; undefined when none is. */
function usableCrypto(values: readonly string[]): { readonly value: string; readonly tag: number; readonly suite: SrtpSuite } | undefined {
  for (const value of values) {
    try {
      const c = parseSdesCrypto(value);
      return { value: value.trim(), tag: c.tag, suite: c.suite };
    } catch {
      // An unsupported suite or a malformed line: the next one may do (RFC 4568 section 7.1.1).
      continue;
    }
  }
  return undefined;
}

function other(side: LegSide): LegSide {
  return side === 'a' ? 'b' : 'a';
}

/** The SRTP state of both legs of one call. */
export class LegKeys {
  readonly #modes: Readonly<Record<LegSide, SrtpMode>>;
  readonly #sides: Record<LegSide, SideKeys> = { a: { srtp: undefined, own: undefined }, b: { srtp: undefined, own: undefined } };

  constructor(modes: Readonly<Record<LegSide, SrtpMode>>) {
    this.#modes = modes;
  }

  /** Whether callseal speaks SRTP to `side` (undefined until decided). */
  srtp(side: LegSide): boolean | undefined {
    return this.#sides[side].srtp;
  }

  /**
   * The SDP of `from` (its audio stream's profile and keys): the relay's keys for `from`, and the
   * security of the SDP toward the other side. Throws `SipError` 488 (`CS_SDP_INVALID`) for an SRTP
   * stream without a crypto line callseal supports.
   */
  sdpFrom(from: LegSide, security: SdpAudioSecurity | undefined): LegKeysChange {
    if (!security) return { relay: undefined, toward: undefined };
    const sender = this.#sides[from];
    const receiver = this.#sides[other(from)];
    let relay: LegSrtp | null = null;
    let suite = DEFAULT_SUITE;
    if (security.srtp) {
      const chosen = usableCrypto(security.crypto);
      if (!chosen) throw new SipError('CS_SDP_INVALID', 488, 'Not Acceptable Here', 'SDP offers SRTP without an SDES crypto suite callseal supports (AES_CM_128_HMAC_SHA1_80 or _32)');
      // callseal's key for the sender answers in the sender's tag and suite (RFC 4568 section 6.1).
      if (sender.own?.tag !== chosen.tag || sender.own.suite !== chosen.suite) {
        sender.own = { value: newSdesCrypto(chosen.tag, chosen.suite), tag: chosen.tag, suite: chosen.suite };
      }
      relay = { receive: chosen.value, send: sender.own.value };
      suite = chosen.suite;
    }
    sender.srtp = security.srtp;
    if (receiver.srtp === undefined) {
      const mode = this.#modes[other(from)];
      receiver.srtp = mode === 'srtp' || (mode === 'as-offered' && security.srtp);
    }
    if (receiver.srtp) receiver.own ??= { value: newSdesCrypto(1, suite), tag: 1, suite };
    return { relay, toward: { srtp: receiver.srtp, crypto: receiver.srtp ? receiver.own?.value : undefined } };
  }
}
