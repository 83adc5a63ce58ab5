/**
 * Loads the configuration once: defaults, then the file named by `CALLSEAL_CONFIG` (JSON), then
 * the environment (`CALLSEAL_HOME`, `CALLSEAL_SIP_PORT`, `CALLSEAL_RTP_PORTS`, `CALLSEAL_HTTP_PORT`).
 * Every problem is reported at once, naming its field; the result is frozen.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { networkInterfaces } from 'node:os';
import { ConfigError, type ConfigIssue, errorMessage } from '../common/errors.ts';
import { configSchema, type Config } from './schema.ts';

type Json = Record<string, unknown>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!next || typeof next !== 'object') node[key] = {};
    node = node[key] as Json;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function envInt(name: string, raw: string, issues: ConfigIssue[]): number | undefined {
  if (!/^\d{1,5}$/.test(raw.trim())) {
    issues.push({ path: name, message: `must be a port number, got "${raw}"` });
    return undefined;
  }
  return Number(raw.trim());
}

/** Applies the documented environment variables onto the raw configuration object. */
function applyEnv(raw: Json, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): void {
  const home = env['CALLSEAL_HOME'];
  if (home !== undefined && home !== '') setPath(raw, ['home'], home);
  const sipPort = env['CALLSEAL_SIP_PORT'];
  if (sipPort !== undefined && sipPort !== '') {
    const p = envInt('CALLSEAL_SIP_PORT', sipPort, issues);
    if (p !== undefined) setPath(raw, ['sip', 'port'], p);
  }
  const rtp = env['CALLSEAL_RTP_PORTS'];
  if (rtp !== undefined && rtp !== '') {
    const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(rtp);
    if (!m) issues.push({ path: 'CALLSEAL_RTP_PORTS', message: `must look like 20000-29999, got "${rtp}"` });
    else {
      setPath(raw, ['rtp', 'portMin'], Number(m[1]));
      setPath(raw, ['rtp', 'portMax'], Number(m[2]));
    }
  }
  const httpPort = env['CALLSEAL_HTTP_PORT'];
  if (httpPort !== undefined && httpPort !== '') {
    const p = envInt('CALLSEAL_HTTP_PORT', httpPort, issues);
    if (p !== undefined) setPath(raw, ['http', 'port'], p);
  }
  const level = env['CALLSEAL_LOG_LEVEL'];
  if (level !== undefined && level !== '') setPath(raw, ['log', 'level'], level);
}

/** Parses a raw object (file content after env overrides) into a frozen Config, or throws ConfigError. */
export function parseConfig(raw: unknown, extraIssues: readonly ConfigIssue[] = [], cwd = process.cwd()): Config {
  const result = configSchema.safeParse(raw);
  const issues: ConfigIssue[] = [...extraIssues];
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push({ path: issue.path.map(String).join('.') || '(root)', message: issue.message });
    }
  }
  if (result.success) {
    const c = result.data;
    if (c.rtp.portMin > c.rtp.portMax) issues.push({ path: 'rtp.portMin', message: `must not exceed rtp.portMax (${c.rtp.portMax})` });
    else if (c.rtp.portMax - c.rtp.portMin < 3) issues.push({ path: 'rtp.portMax', message: 'the RTP range needs at least 4 ports' });
    if (c.sip.tls.enabled && (!c.sip.tls.certFile || !c.sip.tls.keyFile)) {
      issues.push({ path: 'sip.tls.certFile', message: 'sip.tls.certFile and sip.tls.keyFile are required when TLS is enabled' });
    }
    if (c.recording.timeZone !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: c.recording.timeZone });
      } catch {
        issues.push({ path: 'recording.timeZone', message: `unknown time zone "${c.recording.timeZone}"` });
      }
    }
    if (/\.\.|^\//.test(c.recording.directoryTemplate)) {
      issues.push({ path: 'recording.directoryTemplate', message: 'must be a relative path without ".."' });
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError('CS_CONFIG_INVALID', issues);
  const config = { ...result.data, home: resolve(cwd, result.data.home) };
  return deepFreeze(config);
}

/** Loads the configuration from `CALLSEAL_CONFIG` (if set) and the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  let raw: Json = {};
  const file = env['CALLSEAL_CONFIG'];
  if (file !== undefined && file !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
    } catch (err) {
      throw new ConfigError('CS_CONFIG_UNREADABLE', [{ path: 'CALLSEAL_CONFIG', message: `${file}: ${errorMessage(err)}` }], { cause: err });
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError('CS_CONFIG_UNREADABLE', [{ path: 'CALLSEAL_CONFIG', message: `${file}: the top level must be an object` }]);
    }
    raw = parsed as Json;
  }
  const issues: ConfigIssue[] = [];
  applyEnv(raw, env, issues);
  return parseConfig(raw, issues, cwd);
}

/** The address to advertise in Contact and SDP when bound to a wildcard. */
export function advertisedAddress(bindHost: string, configured: string | undefined): string {
  if (configured) return configured;
  if (bindHost !== '0.0.0.0' && bindHost !== '::') return bindHost;
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.family === 'IPv4' && !addr.internal) return addr.address;
  }
  return '127.0.0.1';
}
