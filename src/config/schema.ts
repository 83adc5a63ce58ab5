/**
 * The configuration schema (zod). Every field has a default, so callseal runs with no file at all.
 * Types are derived from the schema.
 */
import net from 'node:net';
import { z } from 'zod';
import { inlineSchema } from './inline.ts';

const port = z.number().int().min(1).max(65535);

/** An IPv4 or IPv6 address, or a network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`). */
const addressOrNetwork = z.string().max(64).refine((text) => {
  const [address = '', prefix, ...rest] = text.split('/');
  const version = net.isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}, 'an IP address or a network like 10.0.0.0/8');

/** The configuration file's schema. */
/** SMTP settings of the alert mails (F4); also what the web UI stores. */
export const smtpSchema = z.object({
  host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535).default(25), secure: z.boolean().default(false),
  user: z.string().max(200).optional(), password: z.string().max(1000).optional(), from: z.string().min(3).max(200),
  to: z.array(z.string().min(3).max(200).regex(/^[^\s@]+@[^\s@]+$/, 'an e-mail address')).max(50).default([]),
}).strict();

export const configSchema = z.object({
  /** Data folder: recordings, spool, database, keys. */
  home: z.string().min(1).default('./data'),
  sip: z.object({
    host: z.string().min(1).default('0.0.0.0'),
    /** UDP and TCP port. */
    port: port.default(5060),
    tcp: z.boolean().default(true),
    /** Address written into Contact headers; defaults to the host or the first external IPv4. */
    advertisedAddress: z.string().min(1).optional(),
    tls: z.object({
      enabled: z.boolean().default(false),
      port: port.default(5061),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      /** PEM file of the CAs whose client certificates are accepted (mutual TLS); none when unset. */
      clientCaFile: z.string().min(1).optional(),
      /** With `clientCaFile`: a handshake without a valid client certificate fails. */
      requireClientCert: z.boolean().default(true),
    }).strict().default({ enabled: false, port: 5061, requireClientCert: true }),
    maxMessageBytes: z.number().int().min(4096).max(4 * 1024 * 1024).default(256 * 1024),
    /** Wait this long before answering a new session (lets an SRC CANCEL first; normally 0). */
    answerDelayMs: z.number().int().min(0).max(30_000).default(0),
    /** SRC addresses and networks that may send SIP; unset: loopback and private ranges, with a warning. */
    allow: z.array(addressOrNetwork).min(1).max(1000).optional(),
    /** RFC 3261 timer T1 (round-trip estimate); transaction timers are multiples of it. */
    t1Ms: z.number().int().min(50).max(5000).default(500),
    /** New recording sessions per second and source address (token bucket); beyond it 503. */
    maxNewSessionsPerSecondPerSource: z.number().min(0.1).max(10_000).default(20),
    /** How many new sessions a source may open at once before the rate applies. */
    maxNewSessionBurstPerSource: z.number().int().min(1).max(100_000).default(40),
    /** Concurrent recording sessions per source address; 0 for no limit but `maxSessions`. */
    maxSessionsPerSource: z.number().int().min(0).max(1_000_000).default(0),
    /** Concurrent recording sessions (dialogs) in total; beyond it 503. */
    maxSessions: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Server transactions held at once; beyond it requests get a stateless 503. */
    maxTransactions: z.number().int().min(100).max(1_000_000).default(20_000),
    /** Server transactions one source address may hold (0: a quarter of maxTransactions), so no SRC fills the table. */
    maxTransactionsPerSource: z.number().int().min(0).max(1_000_000).default(0),
    /** TCP and TLS connections open at once; more are closed at once. */
    maxConnections: z.number().int().min(1).max(100_000).default(1024),
    /** TCP and TLS connections open at once from one address; more are closed at once. */
    maxConnectionsPerSource: z.number().int().min(1).max(100_000).default(64),
    /** A connection holding an incomplete message (or silent since it opened) this long is closed. */
    incompleteMessageTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** A connection without any traffic this long is closed; 0 keeps idle connections open. */
    connectionIdleTimeoutMs: z.number().int().min(0).max(86_400_000).default(3_600_000),
    /**
     * Smallest session interval accepted (RFC 4028 Min-SE); a smaller Session-Expires gets 422.
     * RFC 4028 section 5 asks for at least 90 s; smaller values exist for tests.
     */
    minSessionExpiresSec: z.number().int().min(2).max(86_400).default(90),
  }).strict().default({
    host: '0.0.0.0', port: 5060, tcp: true, tls: { enabled: false, port: 5061, requireClientCert: true }, maxMessageBytes: 256 * 1024, answerDelayMs: 0,
    t1Ms: 500, maxNewSessionsPerSecondPerSource: 20, maxNewSessionBurstPerSource: 40, maxSessionsPerSource: 0, maxSessions: 10_000,
    maxTransactions: 20_000, maxTransactionsPerSource: 0, maxConnections: 1024, maxConnectionsPerSource: 64, incompleteMessageTimeoutMs: 10_000, connectionIdleTimeoutMs: 3_600_000,
    minSessionExpiresSec: 90,
  }),
  rtp: z.object({
    host: z.string().min(1).default('0.0.0.0'),
    /** Address written into SDP answers (c=); defaults like sip.advertisedAddress. */
    advertisedAddress: z.string().min(1).optional(),
    portMin: port.default(20000),
    portMax: port.default(29999),
    /** Media worker threads; 0 means one per core. */
    workers: z.number().int().min(0).max(64).default(0),
    /** Reorder window per stream. */
    reorderMs: z.number().int().min(0).max(1000).default(60),
    /**
     * Which source a stream accepts RTP from (invariant 4): `sdp`, the address the SRC's SDP names
     * (the first sender when it names none usable); `first`, the first sender seen (SRC behind NAT).
     */
    sourceCheck: z.enum(['sdp', 'first']).default('sdp'),
  }).strict().default({ host: '0.0.0.0', portMin: 20000, portMax: 29999, workers: 0, reorderMs: 60, sourceCheck: 'sdp' }),
  recording: z.object({
    /** stereo: one file, left caller, right callee; separate: one file per party (B1). */
    channels: z.enum(['stereo', 'separate']).default('stereo'),
    /** Folder under recordings/ from `$Y $M $D $h $m $s` (D2). */
    directoryTemplate: z.string().min(1).default('$Y/$M/$D'),
    /** End a recording when no RTP arrived on any stream for this long. */
    mediaTimeoutSec: z.number().int().min(5).max(86_400).default(120),
    /** IANA time zone for file names and folders; default: the machine's. */
    timeZone: z.string().min(1).optional(),
    /** Below this much free space (MiB) on the recordings' file system new sessions get 503 (invariant 3). */
    minFreeMb: z.number().int().min(0).max(10_000_000).default(500),
    /**
     * Below this much free space (MiB) running recordings are ended (BYE) and sealed, so they are
     * finished before the disk is full; must leave room to merge and seal them. At most `minFreeMb`.
     */
    stopFreeMb: z.number().int().min(0).max(10_000_000).default(100),
    /** How often free space and writability of storage and database are checked. */
    storageCheckMs: z.number().int().min(200).max(60_000).default(5000),
  }).strict().refine((r) => r.stopFreeMb <= r.minFreeMb, { message: 'recording.stopFreeMb must not be above recording.minFreeMb', path: ['stopFreeMb'] })
    .default({ channels: 'stereo', directoryTemplate: '$Y/$M/$D', mediaTimeoutSec: 120, minFreeMb: 500, stopFreeMb: 100, storageCheckMs: 5000 }),
  numbers: z.object({
    /** Country code without +, for normalising national numbers (030123 → +4930123). */
    countryCode: z.string().regex(/^[1-9][0-9]{0,3}$/).default('49'),
    /** Area code without the national prefix, for subscriber numbers without one; empty for none. */
    areaCode: z.string().regex(/^[0-9]{0,6}$/).default(''),
    internationalPrefix: z.string().regex(/^[0-9]{1,4}$/).default('00'),
    nationalPrefix: z.string().regex(/^[0-9]{0,2}$/).default('0'),
    /** Numbers up to this many digits are extensions and are never expanded. */
    maxExtensionDigits: z.number().int().min(1).max(10).default(6),
  }).strict().default({ countryCode: '49', areaCode: '', internationalPrefix: '00', nationalPrefix: '0', maxExtensionDigits: 6 }),
  seal: z.object({
    /** RSA modulus of the installation key, chosen at first start (E3). */
    keyBits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).default(2048),
  }).strict().default({ keyBits: 2048 }),
  archive: z.object({
    /** First retry after this long, doubling per attempt (F1: "first retries within minutes"). */
    retryBaseMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** Retries never wait longer than this (default 1 h). */
    retryMaxMs: z.number().int().min(1000).max(86_400_000).default(3_600_000),
    tickMs: z.number().int().min(100).max(60_000).default(1000),
    /** F6: how often the retention job looks for expired recordings (default 1 h). */
    retentionIntervalMs: z.number().int().min(1000).max(86_400_000).default(3_600_000),
    /** F6: a legal hold is released by two admins, the second confirming the first's request. */
    legalHoldTwoPersonRelease: z.boolean().default(false),
  }).strict().default({ retryBaseMs: 60_000, retryMaxMs: 3_600_000, tickMs: 1000, retentionIntervalMs: 3_600_000, legalHoldTwoPersonRelease: false }),
  alerts: z.object({
    smtp: smtpSchema.optional(),
  }).strict().default({}),
  /** H8: delivery of the live recording events to the webhook endpoints (configured in the API and UI). */
  webhooks: z.object({
    /** An attempt without an answer after this long has failed. */
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** Attempts per delivery, the first included; then it is given up. */
    maxAttempts: z.number().int().min(1).max(50).default(8),
    /** Wait after the first failed attempt, doubling per attempt up to `retryMaxMs`. */
    retryBaseMs: z.number().int().min(10).max(3_600_000).default(2000),
    retryMaxMs: z.number().int().min(10).max(86_400_000).default(600_000),
    /** Pending deliveries per endpoint; beyond it the oldest are given up. */
    queueMax: z.number().int().min(1).max(1_000_000).default(10_000),
  }).strict().default({ timeoutMs: 5000, maxAttempts: 8, retryBaseMs: 2000, retryMaxMs: 600_000, queueMax: 10_000 }),
  http: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
    /** Optional HTTPS: PEM files of the web UI's certificate and key. */
    tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
    /** A session ends after this many minutes without a request, and after `sessionMaxHours` in any case. */
    sessionIdleMinutes: z.number().int().min(1).max(24 * 60).default(30),
    sessionMaxHours: z.number().int().min(1).max(24 * 7).default(12),
    /**
     * Failed login attempts (wrong password or unknown name) per client address and minute before that
     * address gets 429; coarse, so users behind one proxy address are not locked out by one another.
     */
    loginAttemptsPerMinute: z.number().int().min(1).max(1000).default(30),
    /** Failed logins of one account before its next attempt must wait (1 s, doubling with each failure). */
    loginBackoffAfterFailures: z.number().int().min(1).max(100).default(3),
    /** The longest wait of an account's back-off. */
    loginBackoffMaxSeconds: z.number().int().min(1).max(24 * 3600).default(300),
    /** The dashboard warns when the recordings' file system has less free space than this (percent). */
    diskWarnPercent: z.number().min(0).max(100).default(10),
  }).strict().default({ host: '127.0.0.1', port: 8080, sessionIdleMinutes: 30, sessionMaxHours: 12, loginAttemptsPerMinute: 30, loginBackoffAfterFailures: 3, loginBackoffMaxSeconds: 300, diskWarnPercent: 10 }),
  /** In-line recording between a PBX and a SIP trunk (I2); off by default. */
  inline: inlineSchema,
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).strict().default({ level: 'info' }),
}).strict();

/** The validated, frozen configuration. */
export type Config = z.infer<typeof configSchema>;
