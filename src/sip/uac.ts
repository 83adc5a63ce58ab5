/**
 * The UAC side of a new session: builds an INVITE (From tag, Call-ID, CSeq, Max-Forwards,
 * Contact, an optional preloaded route set), sends it as a client transaction, makes the UAC
 * dialog from the first 2xx and ACKs it, and ACKs then ends with BYE the dialogs of other forks
 * (RFC 3261 section 13.2.2.4). Each 2xx retransmission is ACKed again by its dialog.
 */
import { errorMessage } from '../common/errors.ts';
import { getHeader, type SipHeader, type SipRequest, type SipResponse } from './model.ts';
import { randomToken } from './stack.ts';
import type { Remote } from './transport.ts';
import { Dialog, tagOf, uacDialogInit, type DialogContext } from './dialog.ts';

/** Options of {@link sendInvite}. */
export interface InviteOptions {
  /** Request-URI. */
  readonly uri: string;
  /** callseal's From value, without tag (one is added). */
  readonly from: string;
  readonly to: string;
  /** The next hop the INVITE goes to; the dialog's flow afterwards. */
  readonly remote: Remote;
  /** callseal's Contact. */
  readonly contact: string;
  /** Call-ID; a random one when omitted. */
  readonly callId?: string;
  /** CSeq number; 1 when omitted (a request retried with credentials takes the next one, RFC 3261 section 22.2). */
  readonly cseq?: number;
  /** callseal's From tag; a random one when omitted (a retried request keeps the first one's). */
  readonly fromTag?: string;
  /** A preloaded route set (an outbound proxy), as Route values. */
  readonly routes?: readonly string[];
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
  readonly contentType?: string;
  /** Every provisional response. */
  readonly onProvisional?: (response: SipResponse) => void;
  /**
   * The first ACK of the 2xx is the caller's to send (`dialog.ackInvite(response, options)`):
   * a B2BUA ACKs end to end, with the body of the other leg's ACK. 2xx retransmissions before it
   * are not ACKed; forks are ACKed and ended as always.
   */
  readonly deferAck?: boolean;
}

/** The outcome of an INVITE: the final response and, for a 2xx, the dialog. */
export interface InviteResult {
  readonly response: SipResponse;
  readonly dialog: Dialog | undefined;
}

/** An INVITE on its way. */
export interface OutgoingInvite {
  /** The INVITE as sent (callseal's Via included). */
  readonly request: SipRequest;
  /** Settles like `ClientRequest.final`: a local 408 on timeout; rejects when the stack closes. */
  readonly result: Promise<InviteResult>;
  /** CANCEL (RFC 3261 section 9.1): after the first provisional response, never after the final one. */
  cancel(): void;
}

/** Sends an INVITE outside any dialog. */
export function sendInvite(ctx: DialogContext, o: InviteOptions): OutgoingInvite {
  const localTag = o.fromTag ?? randomToken(6);
  const headers: SipHeader[] = [
    ...(o.routes ?? []).map((value) => ({ name: 'route', value })),
    { name: 'max-forwards', value: '70' },
    { name: 'from', value: `${o.from};tag=${localTag}` },
    { name: 'to', value: o.to },
    { name: 'call-id', value: o.callId ?? `${randomToken(10)}@callseal` },
    { name: 'cseq', value: `${o.cseq ?? 1} INVITE` },
    { name: 'contact', value: o.contact },
    ...(o.headers ?? []),
    ...(o.body && o.body.length > 0 && o.contentType ? [{ name: 'content-type', value: o.contentType }] : []),
  ];
  const invite: SipRequest = { kind: 'request', method: 'INVITE', uri: o.uri, version: 'SIP/2.0', headers, body: o.body ?? Buffer.alloc(0) };
  /** Dialogs this INVITE made, by remote tag; the first is the call's, later ones are forks. */
  const made = new Map<string, Dialog>();
  let first: Dialog | undefined;
  let sentRequest: SipRequest = invite;
  const onResponse = (r: SipResponse): void => {
    if (r.status < 200) {
      o.onProvisional?.(r);
      return;
    }
    if (r.status >= 300) return;
    const tag = tagOf(getHeader(r, 'to')) ?? '';
    const known = made.get(tag);
    if (known) {
      if (o.deferAck !== true || known !== first || known.ackedCseq !== undefined) known.ackInvite(r);
      return;
    }
    const dialog = new Dialog(ctx, uacDialogInit(sentRequest, r, o.remote, o.contact));
    made.set(tag, dialog);
    if (first === undefined) {
      first = dialog;
      if (o.deferAck !== true) dialog.ackInvite(r);
      return;
    }
    dialog.ackInvite(r);
    ctx.log.info({ callId: dialog.callId, remoteTag: tag }, '2xx from another fork; ACK and BYE');
    dialog.bye().catch((err: unknown) => {
      ctx.log.warn({ callId: dialog.callId, err: errorMessage(err) }, 'BYE to another fork failed');
    });
  };
  const sent = ctx.stack.request(invite, o.remote, { onResponse });
  sentRequest = sent.request;
  return {
    request: sent.request,
    result: sent.final.then((response) => ({ response, dialog: response.status >= 200 && response.status < 300 ? first : undefined })),
    cancel: () => { sent.cancel(); },
  };
}
