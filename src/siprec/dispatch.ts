/**
 * Where the recording server's requests go once the UAS core (`sip/uas.ts`) has applied the RFC
 * 3261 section 8.2 checks every request passes (405 or 501 with Allow, 416, 420 with Unsupported,
 * 481 for in-dialog requests of no dialog, 482 for merged requests, 415 with Accept) and matched
 * in-dialog requests to their `Dialog`: the UAS core answers OPTIONS and CANCEL outside a dialog
 * and hands new INVITEs to the server; in a dialog, a re-INVITE or UPDATE changes the session
 * (its 2xx goes through the dialog, so a re-INVITE's 2xx is retransmitted until its ACK), INFO
 * and OPTIONS keep it alive, the ACK confirms it, and the dialog's end ends the recording.
 * Does no I/O of its own.
 */
import { DEFAULT_ALLOW_METHODS, type Dialog, type DialogEndReason, type DialogRequest, type SipHeader } from '../sip/index.ts';

/**
 * Extensions callseal implements (RFC 3261 section 8.2.2.3): SIPREC and RFC 4028 session timers
 * (as UAS with the SRC refreshing, `session-timer.ts`). Nothing else is advertised.
 */
export const SUPPORTED: readonly string[] = ['siprec', 'timer'];
/** Methods callseal allows (Allow); others get 405 when the SIP RFCs define them, 501 otherwise. */
export const ALLOW_METHODS: readonly string[] = DEFAULT_ALLOW_METHODS;
export const ALLOW = ALLOW_METHODS.join(', ');

/** What the server does with the requests and events of one session's dialog. */
export interface DialogHandlers {
  /** A re-INVITE or UPDATE: answer it through `req` (a 2xx to a re-INVITE then waits for its ACK). */
  update(req: DialogRequest): void;
  /** SIP from the SRC in the dialog (ACK, OPTIONS, INFO, re-INVITE, UPDATE): the session is alive. */
  activity(): void;
  /** The ACK of callseal's 2xx to an INVITE of the dialog arrived. */
  acked(): void;
  /** The dialog ended: the SRC's BYE, no ACK within 64*T1 (the dialog sent BYE with Reason), or gone. */
  ended(reason: DialogEndReason): void;
}

/** Follows one session's dialog; `capabilities` are the Allow, Accept and Supported of an OPTIONS answer. */
export function followDialog(dialog: Dialog, h: DialogHandlers, capabilities: readonly SipHeader[]): void {
  dialog.on('ack', () => {
    h.activity();
    h.acked();
  });
  dialog.on('request', (req) => {
    h.activity();
    switch (req.message.method) {
      case 'INVITE':
      case 'UPDATE':
        h.update(req);
        return;
      case 'OPTIONS':
        req.respond(200, 'OK', { headers: capabilities });
        return;
      case 'INFO':
        req.respond(200, 'OK');
        return;
      default:
        req.respond(501, 'Not Implemented', { headers: [{ name: 'allow', value: ALLOW }] });
    }
  });
  dialog.on('terminated', (reason) => { h.ended(reason); });
}
