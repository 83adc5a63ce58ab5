/**
 * Routing of the in-line B2BUA (spec I2): the side a request came from, by its source address,
 * and where the call goes: a call from the PBX goes to the trunk, one from the trunk to the PBX,
 * each to the hop of the longest matching Request-URI prefix of the other side's table or to its
 * default hop. Pure apart from the compiled address lists; no sockets, no SIP messages.
 */
import { SourceAllowlist, type Remote } from '../sip/index.ts';
import type { InlineConfig, InlineHop, InlineSide } from '../config/index.ts';

/** The two sides of the B2BUA. */
export type SideName = 'pbx' | 'trunk';

/** Where a new call goes, and what its direction is. */
export interface InlineRoute {
  readonly from: SideName;
  readonly to: SideName;
  readonly hop: Remote;
  /** `out` for a call from the internal side, `in` for one to it. */
  readonly direction: 'in' | 'out';
}

/** The other side. */
export function otherSide(side: SideName): SideName {
  return side === 'pbx' ? 'trunk' : 'pbx';
}

/**
 * The user part of a SIP, SIPS or tel URI, undefined when it has none (RFC 3261 section 19.1.1,
 * RFC 3966): `sip:+4930123@host;user=phone` gives `+4930123`.
 */
export function uriUser(uri: string): string | undefined {
  const m = /^\s*<?(?:sips?:([^@;?>]*)@|tel:([^;?>]*))/i.exec(uri);
  const user = m?.[1] ?? m?.[2];
  if (user === undefined || user === '') return undefined;
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

function remoteOf(hop: InlineHop): Remote {
  return { transport: hop.transport, address: hop.host, port: hop.port };
}

/** The hop of `side` for a Request-URI user part: the longest matching prefix, or the default hop. */
export function hopFor(side: InlineSide, user: string | undefined): Remote {
  let best: { readonly length: number; readonly hop: InlineHop } | undefined;
  if (user !== undefined) {
    for (const r of side.routes) {
      if (user.startsWith(r.prefix) && (best === undefined || r.prefix.length > best.length)) best = { length: r.prefix.length, hop: r.hop };
    }
  }
  return remoteOf(best?.hop ?? side.hop);
}

/** The routing of an enabled `inline` section. */
export class InlineRouter {
  readonly #config: InlineConfig;
  readonly #pbx: InlineSide;
  readonly #trunk: InlineSide;
  readonly #lists: ReadonlyMap<SideName, SourceAllowlist>;

  /** `pbx` and `trunk` must be set (the schema checks it when `enabled`). */
  constructor(config: InlineConfig & { readonly pbx: InlineSide; readonly trunk: InlineSide }) {
    this.#config = config;
    this.#pbx = config.pbx;
    this.#trunk = config.trunk;
    this.#lists = new Map([['pbx', new SourceAllowlist(config.pbx.addresses)], ['trunk', new SourceAllowlist(config.trunk.addresses)]]);
  }

  /** Every address and network that may send to the B2BUA (the stack's allowlist: others get 403). */
  get addresses(): readonly string[] {
    return [...this.#pbx.addresses, ...this.#trunk.addresses];
  }

  /** The side a source address belongs to; the PBX side first when both list it. */
  sideOf(address: string): SideName | undefined {
    if (this.#lists.get('pbx')?.allows(address)) return 'pbx';
    if (this.#lists.get('trunk')?.allows(address)) return 'trunk';
    return undefined;
  }

  /** Where a new INVITE from `address` to `requestUri` goes; undefined for a source of neither side. */
  route(address: string, requestUri: string): InlineRoute | undefined {
    const from = this.sideOf(address);
    if (from === undefined) return undefined;
    const to = otherSide(from);
    const side = to === 'pbx' ? this.#pbx : this.#trunk;
    return { from, to, hop: hopFor(side, uriUser(requestUri)), direction: from === this.#config.internal ? 'out' : 'in' };
  }
}
