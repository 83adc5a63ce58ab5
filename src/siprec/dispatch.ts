/**
 * Which handler of the recording server a request goes to, once it passed the checks every request
 * passes (`precheck` in `request.ts`): a new INVITE opens a session; in-dialog requests go to their
 * dialog, matched by Call-ID and callseal's tag (481 when none matches, RFC 3261 section 12.2.2); a
 * second INVITE of a Call-ID without a tag is a loop or merged request (482, section 8.2.2.2);
 * OPTIONS is answered with callseal's capabilities; other methods get 405 or 501 with Allow.
 */
import { getHeader, type ServerRequest } from '../sip/index.ts';
import { ACCEPT } from './request.ts';

/**
 * Extensions callseal implements (RFC 3261 section 8.2.2.3): SIPREC and RFC 4028 session timers
 * (as UAS with the SRC refreshing, `session-timer.ts`). Nothing else is advertised.
 */
export const SUPPORTED = ['siprec', 'timer'];
export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO';

/** What the server does with each kind of request; `S` is its session. */
export interface RequestHandlers<S> {
  session(callId: string): S | undefined;
  localTag(session: S): string;
  newSession(req: ServerRequest): void;
  /** re-INVITE or UPDATE of the dialog. */
  update(session: S, req: ServerRequest): void;
  ack(session: S, req: ServerRequest): void;
  bye(session: S, req: ServerRequest): void;
  /** CANCEL, with the session of its Call-ID when there is one. */
  cancel(req: ServerRequest, session: S | undefined): void;
  /** SIP from the SRC in the dialog (OPTIONS, INFO): the session is alive. */
  activity(session: S): void;
}

/** Hands one request to its handler, or answers it. */
export function dispatch<S>(req: ServerRequest, h: RequestHandlers<S>): void {
  const msg = req.message;
  const toTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(getHeader(msg, 'to') ?? '')?.[1];
  const session = h.session(getHeader(msg, 'call-id') ?? '');
  const dialog = toTag !== undefined && session !== undefined && h.localTag(session) === toTag ? session : undefined;
  const noDialog = (): void => { req.respond(481, 'Call/Transaction Does Not Exist'); };
  switch (msg.method) {
    case 'INVITE':
      if (toTag === undefined) {
        if (session !== undefined) req.respond(482, 'Loop Detected');
        else h.newSession(req);
      } else if (dialog !== undefined) h.update(dialog, req);
      else noDialog();
      return;
    case 'ACK':
      if (dialog !== undefined) h.ack(dialog, req);
      return;
    case 'BYE':
      if (dialog !== undefined) h.bye(dialog, req);
      else noDialog();
      return;
    case 'CANCEL':
      h.cancel(req, session);
      return;
    case 'UPDATE':
      if (dialog !== undefined) h.update(dialog, req);
      else noDialog();
      return;
    case 'OPTIONS':
      if (dialog !== undefined) h.activity(dialog);
      req.respond(200, 'OK', { headers: [{ name: 'allow', value: ALLOW }, { name: 'accept', value: ACCEPT }, { name: 'supported', value: SUPPORTED.join(', ') }] });
      return;
    case 'INFO':
      if (dialog === undefined) {
        noDialog();
        return;
      }
      h.activity(dialog);
      req.respond(200, 'OK');
      return;
    case 'REGISTER': case 'SUBSCRIBE': case 'NOTIFY': case 'PUBLISH': case 'MESSAGE': case 'REFER': case 'PRACK':
      req.respond(405, 'Method Not Allowed', { headers: [{ name: 'allow', value: ALLOW }] });
      return;
    default:
      req.respond(501, 'Not Implemented', { headers: [{ name: 'allow', value: ALLOW }] });
  }
}
