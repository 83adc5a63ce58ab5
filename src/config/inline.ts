/**
 * The `inline` section of the configuration schema (spec I2): callseal as a back-to-back user
 * agent between a PBX and a SIP trunk. Off by default; when on, it listens on a port of its own,
 * takes calls only from the addresses of its two sides and sends each call to the other side.
 * Types are derived from the schema; routing itself is `b2bua/routing.ts`.
 */
import net from 'node:net';
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);

/** An IPv4 or IPv6 address, or a network in CIDR notation. */
const addressOrNetwork = z.string().max(64).refine((text) => {
  const [address = '', prefix, ...rest] = text.split('/');
  const version = net.isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}, 'an IP address or a network like 10.0.0.0/8');

/** Where requests to a side go: an IP address (callseal resolves no DNS for next hops), port and transport. */
export const inlineHopSchema = z.object({
  host: z.string().max(64).refine((h) => net.isIP(h) !== 0, 'an IP address'),
  port: port.default(5060),
  transport: z.enum(['UDP', 'TCP']).default('UDP'),
}).strict();

/** A routing entry: calls whose Request-URI user part starts with `prefix` go to `hop`. */
export const inlineRouteSchema = z.object({
  prefix: z.string().max(32).regex(/^[0-9+*#]*$/, 'digits, +, * or #'),
  hop: inlineHopSchema,
}).strict();

/** One side of the B2BUA: who may send from it, and where calls to it go. */
export const inlineSideSchema = z.object({
  /** Source addresses and networks of this side; a request from any other address gets 403. */
  addresses: z.array(addressOrNetwork).min(1).max(100),
  /** The default next hop of calls to this side. */
  hop: inlineHopSchema,
  /** Optional table by Request-URI prefix; the longest matching prefix wins, `hop` otherwise. */
  routes: z.array(inlineRouteSchema).max(1000).default([]),
  /**
   * The media profile callseal offers this side on recorded calls (SRTP is terminated on the relay
   * with keys of callseal's own): `as-offered` the profile of the other side's offer, `rtp` plain
   * RTP/AVP, `srtp` RTP/SAVP with SDES (RFC 4568). What this side offers is always answered in kind.
   */
  srtp: z.enum(['as-offered', 'rtp', 'srtp']).default('as-offered'),
}).strict();

/** The `inline` section. */
export const inlineSchema = z.object({
  enabled: z.boolean().default(false),
  host: z.string().min(1).default('0.0.0.0'),
  /** UDP and TCP port of the B2BUA (the SIPREC server keeps `sip.port`). */
  port: port.default(5070),
  tcp: z.boolean().default(true),
  /** Address written into Contact and Via on both legs; defaults like `sip.advertisedAddress`. */
  advertisedAddress: z.string().min(1).optional(),
  pbx: inlineSideSchema.optional(),
  trunk: inlineSideSchema.optional(),
  /** Which side is callseal's own organisation: its party may stop a recording by `*1` (B6). */
  internal: z.enum(['pbx', 'trunk']).default('pbx'),
  /**
   * A call that must be recorded but cannot be (no media worker, no ports, storage low):
   * `closed` refuses it with 503 and a Warning, `open` connects it unrecorded, logs and alerts.
   */
  failMode: z.enum(['closed', 'open']).default('closed'),
}).strict().refine((c) => !c.enabled || (c.pbx !== undefined && c.trunk !== undefined), {
  message: 'inline.enabled needs both inline.pbx and inline.trunk', path: ['enabled'],
}).default({ enabled: false, host: '0.0.0.0', port: 5070, tcp: true, internal: 'pbx', failMode: 'closed' });

/** The validated `inline` section. */
export type InlineConfig = z.infer<typeof inlineSchema>;
/** One side of it. */
export type InlineSide = z.infer<typeof inlineSideSchema>;
/** A next hop. */
export type InlineHop = z.infer<typeof inlineHopSchema>;
