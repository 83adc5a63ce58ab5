/**
 * The one catalogue of callseal's error codes, and the error classes that carry them.
 *
 * Every code is stable and never reused; `errors.test.ts` checks that codes are unique and that
 * each one is documented in `docs/errors.md`. Mapping to SIP responses happens only in `sip/`.
 */

/** Every error code with a one-line meaning. */
export const ERROR_CODES = {
  CS_CONFIG_INVALID: 'The configuration file or an environment variable has an invalid value.',
  CS_CONFIG_UNREADABLE: 'The configuration file cannot be read, is not valid JSON, or its top level is not a JSON object.',
  CS_SIP_PARSE: 'A SIP message is malformed.',
  CS_SIP_TOO_LARGE: 'A SIP message is larger than the configured limit.',
  CS_SIP_VERSION: 'A SIP message carries an unsupported protocol version.',
  CS_SIP_BODY_LENGTH: 'A SIP message body does not match its Content-Length.',
  CS_SIP_MULTIPART: 'A multipart body is malformed.',
  CS_SDP_INVALID: 'An SDP body is malformed or offers nothing that can be recorded.',
  CS_SIP_NOT_ACCEPTABLE: 'A request\'s Accept does not allow `application/sdp`, the only answer callseal gives: 406 Not Acceptable.',
  CS_SIP_UNSUPPORTED_MEDIA: 'A request body is of a type callseal does not understand: 415 Unsupported Media Type with Accept.',
  CS_SIP_HEADER_VALUE: 'A header value callseal was about to send holds a line break (it would inject header fields): the message is not sent.',
  CS_SIPREC_METADATA: 'The SIPREC recording metadata is malformed, too large or unsafe.',
  CS_SIPREC_NOT_SIPREC: 'An INVITE is not a SIPREC recording session.',
  CS_SIP_FORBIDDEN: 'SIP from a source address outside `sip.allow`: requests get 403, connections are closed.',
  CS_SIP_RATE_LIMITED: 'A source opened new recording sessions faster than `sip.maxNewSessionsPerSecondPerSource`, or holds `sip.maxSessionsPerSource` or `sip.maxSessions` already: 503 with Retry-After.',
  CS_SIP_OVERLOADED: 'A bounded SIP table is full (transactions, connections): the request gets 503 or the connection is closed.',
  CS_SIP_BAD_EXTENSION: 'A request requires (Require) an extension callseal does not implement: 420 Bad Extension listing it in Unsupported.',
  CS_SIP_SESSION_INTERVAL: 'A request asks for a session interval (RFC 4028 Session-Expires) below `sip.minSessionExpiresSec`: 422 with Min-SE.',
  CS_RTP_TRUNCATED: 'An RTP packet is shorter than its header says.',
  CS_RTP_VERSION: 'An RTP packet has a version other than 2.',
  CS_SRTP_AUTH: 'An SRTP packet failed authentication.',
  CS_SRTP_KEY: 'An SDES crypto attribute is malformed or names an unsupported suite.',
  CS_PORTS_EXHAUSTED: 'No RTP ports are left in the configured range.',
  CS_WAV_INVALID: 'A WAV file is malformed.',
  CS_OGG_INVALID: 'An Ogg file is malformed (capture pattern, truncated page or segment table).',
  CS_PLAYBACK_CODEC: 'A recording cannot be played in the browser: only G.711, mono G.722, mono G.729 and Opus recordings are decoded; download the original.',
  CS_PLAYBACK_DECODER: 'A recording cannot be decoded for the browser: its codec needs ffmpeg, which is not installed or failed.',
  CS_STATE_CLOSED: 'An object was used after it was closed.',
  CS_SHUTDOWN_FAILED: 'One or more steps of shutdown, or of the clean-up after a failed start, failed: every other step still ran, and the error names each failed step.',
  CS_STORE_SCHEMA_NEWER: 'The database was migrated by a newer callseal than this one (its schema version is above the last migration known here); callseal refuses to start rather than use tables it does not know.',
  CS_STORE_CHAIN_HEAD_MOVED: 'A sealed recording was to be logged at a chain position the database head does not allow (the head moved: a second writer): the row is not inserted and the recording stays in the spool.',
  CS_RECORDING_IO: 'A recording file could not be written.',
  CS_RECORDING_DISK_FULL: 'A recording file could not be written because its file system is full (ENOSPC, EDQUOT): that leg ended, what was written is kept and sealed when space allows.',
  CS_RECORDING_STATE: 'A recording of a call was asked to start while one is running, or after a participant stopped it by DTMF (B6: a stopped recording is not restarted in that call).',
  CS_MEDIA_WORKER_FAILED: 'A media worker failed or exited while running: its recordings were ended (BYE with Reason to the SRC), their files kept and sealed with the failure as end-reason, and a new worker started.',
  CS_MEDIA_WORKER_START: 'A media worker exited or failed before it came online: callseal does not start (a worker that failed while running is `CS_MEDIA_WORKER_FAILED`).',
  CS_MEDIA_TEST_CRASH: 'A media worker crashed on purpose after `CALLSEAL_TEST_WORKER_CRASH_AFTER_PACKETS` packets; only the tests of worker failure set it.',
  CS_RELAY_OPEN: 'An RTP relay of the in-line mode could not be opened: a port would not bind, an SDES key is malformed or unsupported, or the relay id is in use.',
  CS_RELAY_UNKNOWN: 'A relay operation or a tap leg names an RTP relay that is not open.',
  CS_STORAGE_LOW: 'Free space on the recordings\' file system is below `recording.minFreeMb`: new sessions get 503 with Warning; below `recording.stopFreeMb` running recordings are ended and sealed.',
  CS_DATABASE_UNWRITABLE: 'The database cannot be written (read-only, full or failing): new sessions get 503 with Warning and `/healthz` answers 503.',
  CS_KEYSTORE_DAMAGED: 'The key store is missing, damaged, or cannot be decrypted with the installation secret.',
  CS_KEYSTORE_CERT: 'An imported certificate is unreadable or does not match the installation key.',
  CS_KEYSTORE_WRONG_CHAIN: 'The key store is readable but is not the key of the chain in the database (another epoch or another key): callseal refuses to start; restore the key store or run `callseal keys reset`.',
  CS_SEAL_FAILED: 'A recording could not be sealed (hash file, signature or chain link).',
  CS_SEAL_HASHFILE_INVALID: 'A hash file has a line that is not `<64 hex digits>  <file name>`: the verifier reports that recording as unreadable.',
  CS_POLICY_INVALID: 'A policy change (directory, settings, exception lists) is invalid; every problem names its field.',
  CS_ARCHIVE_TARGET: 'A storage target or SQL log operation failed (the message names the stage: config, dns, connect, auth, hostkey, permission, path, write, verify, or locked when retention or a legal hold refuses it).',
  CS_ARCHIVE_TARGET_INVALID: 'The settings of a storage target are invalid; every problem names its field.',
  CS_ARCHIVE_RECORDING_UNKNOWN: 'An outbox job or an archive fetch names a recording that the recording log does not hold.',
  CS_ARCHIVE_DESTINATION_UNKNOWN: 'An outbox job names a storage target or SQL log that is not configured (any more): the job stays failing and is retried.',
  CS_ARCHIVE_NO_GOOD_COPY: 'No storage target holds a copy of a recording that reads back and passes verification (the message lists each target\'s problem).',
  CS_SQLLOG_INVALID: 'The settings of an external SQL recording log are invalid; every problem names its field.',
  CS_VERIFY_USAGE: 'The verify command was called with a missing folder or certificate.',
  CS_RETENTION_REMOVE: 'Retention could not remove a storage target\'s copy of an expired recording (target unreachable, refusing, or the object still under WORM retention or legal hold): the removal is retried later and the recording stays marked as being deleted.',
  CS_HOLD_INVALID: 'A legal hold names nothing that can match (no recording, no number that normalises, no period) or an unknown recording.',
  CS_HOLD_RELEASE: 'A legal hold cannot be released: it is released already or unknown, or the two-person rule (`archive.legalHoldTwoPersonRelease`) needs a second admin to confirm the release.',
  CS_HOLD_SYNC: 'Setting or clearing the object legal hold (S3 Object Lock) on a stored copy failed after a legal hold was set or released (target unreachable or refusing): callseal\'s own hold is in force either way; the retention job\'s next run applies the state again.',
  CS_RECORDING_DELETED: 'The recording was deleted by retention: only its log entry and its signed deletion record remain (HTTP 410).',
  CS_EXPORT_INVALID: 'An export names neither a number nor a period, or matches more recordings than one export holds.',
  CS_WEB_NOT_LOGGED_IN: 'A web request that needs a logged-in principal (session or API token) has none: 401.',
  CS_WEB_RECORDING_GONE: 'A recording\'s local copy is gone and no storage target holds a verified copy of it: 404.',
  CS_WEB_ARCHIVE_FETCH: 'A recording whose local copy is gone could not be fetched from a storage target for the browser (unreadable, or failing verification on every target): 502.',
  CS_INLINE_UNRECORDABLE: 'In-line mode: a call that must be recorded cannot be (no media worker or ports, storage low, no recordable codec) and `inline.failMode` is `closed`: the caller gets 503 with Warning.',
  CS_WEBHOOK_INVALID: 'The settings of a webhook endpoint are invalid (a URL that is not http or https, credentials in the URL, a short secret, an unknown event kind); every problem names its field.',
  CS_WEBHOOK_DELIVERY: 'A webhook delivery failed (no answer within `webhooks.timeoutMs`, a connection error, a redirect, a status other than 2xx, or its endpoint was removed): it is retried with back-off up to `webhooks.maxAttempts`.',
  CS_ANNOUNCE_INVALID: 'An uploaded announcement is not a WAV (PCM, float, A-law or mu-law) or MP3 file that decodes, or has no audio: 400 (415 for another format).',
  CS_ANNOUNCE_TOO_LARGE: 'An uploaded announcement is larger than the upload limit or longer than the longest announcement allowed: 413.',
  CS_ANNOUNCE_UNKNOWN: 'No announcement has this id (HTTP 404; a setting naming it is refused with `CS_POLICY_INVALID`).',
  CS_ANNOUNCE_IN_USE: 'An announcement cannot be deleted while a recording setting uses it (as incoming, outgoing or confirmation announcement): 409 naming the settings.',
  CS_ANNOUNCE_IO: 'The files of an uploaded announcement could not be written under `$CALLSEAL_HOME/announcements/` (disk full, permissions): the upload is refused and nothing of it is kept.',
  CS_ANNOUNCE_DAMAGED: 'A stored announcement file is missing or its SHA-256 no longer matches the library\'s record: it is not played (the call goes on without it).',
  CS_WEB_ROUTE_ACCESS: 'A web route was registered without declaring who may call it (`config.access`); callseal refuses to start.',
} as const;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error callseal throws on purpose. */
export class CallsealError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input could not be parsed; `offset` is where the parser gave up (bytes or lines). */
export class ParseError extends CallsealError {
  readonly offset: number;
  constructor(code: ErrorCode, message: string, offset = 0, options?: { cause?: unknown }) {
    super(code, message, options);
    this.offset = offset;
  }
}

/** An error that has a SIP response: `status` and `reason` are sent to the peer. */
export class SipError extends CallsealError {
  readonly status: number;
  readonly reason: string;
  constructor(code: ErrorCode, status: number, reason: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
    this.reason = reason;
  }
}

/** One problem found in the configuration, naming the field. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** The configuration is invalid; `issues` lists every problem, each naming its field. */
export class ConfigError extends CallsealError {
  readonly issues: readonly ConfigIssue[];
  constructor(code: ErrorCode, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(code, `invalid configuration:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, options);
    this.issues = issues;
  }
}

/** An object was used in a state that does not allow it (for example after `close()`). */
export class InvalidStateError extends CallsealError {}

/**
 * An error with an HTTP status, thrown by `web/` routes only (the one place that maps errors to
 * HTTP statuses); fastify's error handler answers with `statusCode`.
 */
export class HttpError extends CallsealError {
  readonly statusCode: number;
  constructor(code: ErrorCode, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.statusCode = statusCode;
  }
}

/** Returns the message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
