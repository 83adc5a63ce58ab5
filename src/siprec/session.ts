/**
 * One recording session of the SIPREC server: the dialog's SIP state, the offer/answer state the
 * recording depends on, and the call's `Recorder`.
 */
import type { Dialog, Remote } from '../sip/index.ts';
import type { Recorder } from '../recording/index.ts';
import type { DialogMedia } from './recorder-adapter.ts';

/** One dialog: SIP state (with the offer/answer state the recording depends on) and its Recorder. */
export interface Session extends DialogMedia {
  readonly callId: string;
  readonly remoteTag: string;
  readonly localTag: string;
  readonly remote: Remote;
  readonly recorder: Recorder;
  /** `o=` session id of every answer in the dialog (RFC 3264 section 8: it stays, the version grows). */
  readonly sdpSession: string;
  answerVersion: number;
  /** The SIP dialog once the INVITE is answered: it retransmits the 2xx until the ACK, waits 64*T1 for it, and sends the BYE. */
  dialog: Dialog | undefined;
  state: 'starting' | 'answered' | 'confirmed' | 'ending' | 'ended';
  cancelled: boolean;
  /** Ends the session when the SRC stops refreshing it (RFC 4028 section 10); unset without a session timer. */
  sessionTimer: NodeJS.Timeout | undefined;
  /** Serializes re-INVITE/UPDATE handling and ending. */
  queue: Promise<void>;
}

/** Whether a session is ending or ended (read again after a call that may end it). */
export function isEnding(session: Session): boolean {
  return session.state === 'ending' || session.state === 'ended';
}

/** Stops the session's RFC 4028 timer, if one runs. */
export function clearSessionTimer(session: Session): void {
  if (session.sessionTimer) clearTimeout(session.sessionTimer);
  session.sessionTimer = undefined;
}
