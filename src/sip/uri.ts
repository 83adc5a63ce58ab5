/**
 * SIP URIs as next hops (RFC 3261 section 19.1, RFC 3263 without DNS): the host, port and
 * transport a request to a URI goes to when the host is an IP literal. Pure; hostnames give
 * undefined and the caller uses the flow it already has.
 *
 * ```
 *   SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   SIPS-URI = "sips:" [ userinfo ] hostport uri-parameters [ headers ]
 * ```
 */
import net from 'node:net';
import type { Remote, TransportName } from './transport.ts';

/** The parts of a SIP or SIPS URI callseal routes by. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly host: string;
  readonly port: number | undefined;
  readonly params: ReadonlyMap<string, string>;
}

/** Parses `sip:user@host:port;params?headers` (the host of an IPv6 reference without brackets); undefined when it is not one. */
export function parseSipUri(uri: string): SipUri | undefined {
  const m = /^(sips?):(?:[^@]*@)?(\[[0-9A-Fa-f:.]+\]|[^:;?>]+)(?::(\d{1,5}))?([^?>]*)/i.exec(uri.trim().replace(/^<|>$/g, ''));
  if (!m?.[1] || !m[2]) return undefined;
  const params = new Map<string, string>();
  for (const p of (m[4] ?? '').split(';').slice(1)) {
    const eq = p.indexOf('=');
    params.set((eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase(), eq < 0 ? '' : p.slice(eq + 1).trim());
  }
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { scheme: m[1].toLowerCase() === 'sips' ? 'sips' : 'sip', host: m[2].replace(/^\[|\]$/g, ''), port, params };
}

/**
 * Where a request to `uri` goes: its host when that is an IP address, the port (5060, or 5061
 * for TLS), and the transport from `transport=` (TLS for `sips:`, RFC 3261 section 26.2.2).
 * Undefined for hostnames: callseal resolves no DNS for next hops.
 */
export function uriRemote(uri: string): Remote | undefined {
  const u = parseSipUri(uri);
  if (!u || net.isIP(u.host) === 0) return undefined;
  const param = u.params.get('transport')?.toUpperCase();
  const transport: TransportName = u.scheme === 'sips' || param === 'TLS' ? 'TLS' : param === 'TCP' ? 'TCP' : 'UDP';
  return { transport, address: u.host, port: u.port ?? (transport === 'TLS' ? 5061 : 5060) };
}
