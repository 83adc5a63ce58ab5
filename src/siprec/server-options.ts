/**
 * Options and events of the SIPREC server (`server.ts`).
 */
import type { Clock, Scheduler } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { SipStack } from '../sip/index.ts';
import type { MediaEngine } from '../media/index.ts';
import type { CallFacts, Decision } from '../policy/index.ts';
import type { CallEnded, FinishedRecording, LiveRecording, Spool } from '../recording/index.ts';

/** Options of the SIPREC server. */
export interface SiprecServerOptions {
  readonly stack: SipStack;
  readonly media: MediaEngine;
  readonly spool: Spool;
  readonly log: Logger;
  /** Address and UDP port for Contact headers. */
  readonly sipAddress: string;
  readonly sipPort: number;
  /** TCP and TLS ports for Contact headers of dialogs over them (TCP defaults to `sipPort`). */
  readonly sipTcpPort?: number | undefined;
  readonly sipTlsPort?: number | undefined;
  /** The smallest session interval accepted (RFC 4028 Min-SE); smaller requests get 422. Default 90 s. */
  readonly minSessionExpiresSec?: number | undefined;
  /** Bind host and advertised address of RTP. */
  readonly rtpHost: string;
  readonly rtpAddress: string;
  readonly channels: 'stereo' | 'separate';
  readonly reorderMs: number;
  readonly mediaTimeoutSec: number;
  readonly answerDelayMs: number;
  /** The policy (A1-A9): whether and how a call is recorded, asked at `new-session` and at each `metadata-update`. */
  readonly decide: (facts: CallFacts, event: 'new-session' | 'metadata-update') => Decision;
  /** Who may open how many sessions (issue 3); unlimited when omitted. */
  readonly admission?: SessionAdmission | undefined;
  /** Time and timers of the Recorders; the system's by default. */
  readonly clock?: Clock | undefined;
  readonly scheduler?: Scheduler | undefined;
}

/** Limits on opening recording sessions; refused INVITEs get 503 with Retry-After and leave nothing behind. */
export interface SessionAdmission {
  /** New sessions per second and source address (token bucket). */
  readonly newSessionsPerSecondPerSource: number;
  /** Bucket size: new sessions a source may open at once. */
  readonly newSessionBurstPerSource: number;
  /** Concurrent sessions per source address; 0 for no limit. */
  readonly maxSessionsPerSource: number;
  /** Concurrent sessions in total. */
  readonly maxSessions: number;
}

/** Events of the server. */
export interface SiprecServerEvents {
  started: [LiveRecording];
  recorded: [FinishedRecording];
  failed: [{ readonly callId: string; readonly error: string }];
  stoppedByDtmf: [{ readonly callId: string; readonly code: string; readonly role: string; readonly atMs: number }];
  /** A call that had a recording ended (after its last `recorded`). */
  ended: [CallEnded];
}
