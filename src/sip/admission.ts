/**
 * Admission of SIP peers: the allowlist of SRC addresses and networks (`net.BlockList`), and a
 * token bucket per source with a bounded table. Decides only; does no I/O and keeps no timers, so
 * a flood of new sources costs a fixed amount of memory (issue 3).
 */
import net from 'node:net';

/** Loopback and private ranges: who may send SIP when `sip.allow` is not set. */
export const DEFAULT_ALLOW: readonly string[] = [
  '127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fe80::/10',
];

/** One allowlist entry, parsed: an address with its prefix length. */
export interface AllowEntry {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32` or `::1`; undefined when it is neither. */
export function parseAllowEntry(text: string): AllowEntry | undefined {
  const slash = text.indexOf('/');
  const address = (slash >= 0 ? text.slice(0, slash) : text).trim();
  const version = net.isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family };
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:192.0.2.7`), else the address. */
export function unmapAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(address);
  return m?.[1] ?? address;
}

/** The set of addresses and networks allowed to reach SIP. */
export class SourceAllowlist {
  readonly #list = new net.BlockList();
  /** The entries as given, for logs. */
  readonly entries: readonly string[];

  /** Throws `RangeError` naming the first entry that is not an address or network. */
  constructor(entries: readonly string[]) {
    for (const text of entries) {
      const e = parseAllowEntry(text);
      if (!e) throw new RangeError(`not an IP address or network: "${text}"`);
      this.#list.addSubnet(e.address, e.prefix, e.family);
    }
    this.entries = [...entries];
  }

  /** Whether a peer address (IPv4, IPv6 or IPv4-mapped IPv6) is allowed. */
  allows(address: string): boolean {
    const plain = unmapAddress(address);
    const version = net.isIP(plain);
    if (version === 0) return false;
    return this.#list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second and key. */
  readonly perSecond: number;
  /** Bucket size: how many may come at once. */
  readonly burst: number;
  /** Most keys kept; the least recently used is forgotten first. */
  readonly maxKeys: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per key (source address). The table never holds more than `maxKeys` buckets:
 * a forgotten key starts again with a full bucket, which is the price of a bounded table.
 */
export class RateLimiter {
  readonly #o: RateLimiterOptions;
  /** Insertion order is recency order: a used key is moved to the end. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    this.#o = options;
  }

  /** Takes one token for `key` at `nowMs` (monotonic); false when the bucket is empty. */
  take(key: string, nowMs: number): boolean {
    const { perSecond, burst, maxKeys } = this.#o;
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMs - bucket.updatedMs) * perSecond) / 1000);
      bucket.updatedMs = nowMs;
    } else {
      bucket = { tokens: burst, updatedMs: nowMs };
      while (this.#buckets.size >= maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done === true) break;
        this.#buckets.delete(oldest.value);
      }
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `key` has a token again (at least 1), for Retry-After. */
  retryAfterSec(key: string): number {
    const bucket = this.#buckets.get(key);
    const missing = bucket ? Math.max(0, 1 - bucket.tokens) : 0;
    return Math.max(1, Math.ceil(missing / this.#o.perSecond));
  }

  /** Buckets held. */
  get size(): number {
    return this.#buckets.size;
  }
}

/**
 * Logs refusals without letting a flood flood the log: the first refusal of a source is logged at
 * once, later ones at most every `intervalMs` with the number suppressed in between.
 */
export class RefusalLog {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(intervalMs = 10_000, maxKeys = 4096) {
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  /** Returns the number of refusals suppressed since the last logged one, or undefined when this one is suppressed too. */
  shouldLog(key: string, nowMs: number): number | undefined {
    const entry = this.#last.get(key);
    if (entry && nowMs - entry.atMs < this.#intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#last.delete(key);
    while (this.#last.size >= this.#maxKeys) {
      const oldest = this.#last.keys().next();
      if (oldest.done === true) break;
      this.#last.delete(oldest.value);
    }
    this.#last.set(key, { atMs: nowMs, suppressed: 0 });
    return suppressed;
  }
}
