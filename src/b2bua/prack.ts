/**
 * PRACK (RFC 3262) through the B2BUA: a reliable provisional response of the callee goes to the
 * caller with its Require and RSeq; the caller's PRACK, which arrives in the early dialog before
 * any `Dialog` exists, is sent on in the callee's early dialog with the RAck naming the callee
 * leg's INVITE, and its response comes back. This module builds that PRACK; it does no I/O.
 *
 * ```
 *   RAck = "RAck" HCOLON response-num LWS CSeq-num LWS Method    (RFC 3262 section 7.2)
 * ```
 */
import { cseqNumber, getHeader, getHeaders, parseNameAddr, type SipHeader, type SipRequest, type SipResponse } from '../sip/index.ts';

/** The callee's early dialog, from the INVITE as sent and a reliable provisional response to it. */
export interface EarlyDialog {
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  readonly remoteTarget: string;
  readonly routes: readonly string[];
  readonly inviteCseq: number;
}

/** Whether a provisional response is sent reliably (Require: 100rel with an RSeq). */
export function isReliable(r: SipResponse): boolean {
  return r.status > 100 && r.status < 200 && getHeaders(r, 'require').some((v) => v.split(',').some((t) => t.trim().toLowerCase() === '100rel'))
    && /^\s*\d{1,10}\s*$/.test(getHeader(r, 'rseq') ?? '');
}

/** The early dialog a reliable provisional response makes; undefined without a To tag or Contact. */
export function earlyDialogOf(invite: SipRequest, r: SipResponse): EarlyDialog | undefined {
  const to = getHeader(r, 'to');
  const contact = getHeader(r, 'contact');
  if (to === undefined || contact === undefined) return undefined;
  try {
    if (parseNameAddr(to).tag === undefined) return undefined;
    return {
      callId: getHeader(invite, 'call-id') ?? '', from: getHeader(invite, 'from') ?? '', to, remoteTarget: parseNameAddr(contact).uri,
      routes: getHeaders(r, 'record-route').reverse(), inviteCseq: cseqNumber(invite),
    };
  } catch {
    return undefined;
  }
}

/** The response number of a RAck value; undefined when it is not one. */
export function rackResponseNum(rack: string | undefined): number | undefined {
  const m = /^\s*(\d{1,10})\s+\d{1,10}\s+INVITE\s*$/i.exec(rack ?? '');
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** The PRACK for the callee's early dialog, acknowledging response `rseq`, with CSeq `cseq` and the relayed `headers`. */
export function prackFor(early: EarlyDialog, rseq: number, cseq: number, headers: readonly SipHeader[], body: Buffer): SipRequest {
  return {
    kind: 'request', method: 'PRACK', uri: early.remoteTarget, version: 'SIP/2.0', body,
    headers: [
      ...early.routes.map((value) => ({ name: 'route', value })),
      { name: 'max-forwards', value: '70' }, { name: 'from', value: early.from }, { name: 'to', value: early.to },
      { name: 'call-id', value: early.callId }, { name: 'cseq', value: `${cseq} PRACK` },
      { name: 'rack', value: `${rseq} ${early.inviteCseq} INVITE` }, ...headers,
    ],
  };
}
