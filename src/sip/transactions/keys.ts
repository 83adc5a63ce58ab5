/**
 * Transaction matching (RFC 3261 sections 17.1.3 and 17.2.3). Pure functions of a message.
 */
import { getHeader, type SipRequest, type SipResponse } from '../model.ts';
import { parseCSeq, parseVia } from '../parse.ts';

/** The branch prefix of RFC 3261 (section 8.1.1.7): a branch starting with it is unique per transaction. */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * The server transaction key (RFC 3261 section 17.2.3): branch, sent-by and method, with ACK
 * matching its INVITE. RFC 2543 requests without the magic cookie use Call-ID, CSeq number,
 * From tag and the top Via instead. CANCEL has its own key: {@link inviteKeyOf} finds the INVITE
 * it cancels.
 */
export function transactionKey(msg: SipRequest): string {
  const method = msg.method === 'ACK' ? 'INVITE' : msg.method;
  const topVia = getHeader(msg, 'via') ?? '';
  let branch = '';
  let sentBy = '';
  try {
    const via = parseVia(topVia);
    branch = via.branch ?? '';
    sentBy = `${via.host}:${via.port ?? ''}`;
  } catch {
    branch = '';
  }
  if (branch.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  const cseq = /^(\d+)/.exec(getHeader(msg, 'cseq') ?? '')?.[1] ?? '';
  const fromTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(getHeader(msg, 'from') ?? '')?.[1] ?? '';
  return `2543|${getHeader(msg, 'call-id') ?? ''}|${cseq}|${fromTag}|${topVia}|${method}`;
}

/** The key of the INVITE server transaction a CANCEL cancels (RFC 3261 section 9.2). */
export function inviteKeyOf(cancel: SipRequest): string {
  return transactionKey({ ...cancel, method: 'INVITE' });
}

/**
 * The client transaction key of a request callseal sends, or of a response to it (RFC 3261
 * section 17.1.3): the top Via's branch and the CSeq method; undefined when either is missing or
 * malformed, or the branch lacks the magic cookie.
 */
export function clientKey(msg: SipRequest | SipResponse): string | undefined {
  try {
    const branch = parseVia(getHeader(msg, 'via') ?? '').branch;
    const method = parseCSeq(getHeader(msg, 'cseq') ?? '').method;
    if (branch?.startsWith(MAGIC_COOKIE) !== true) return undefined;
    return `${branch}|${method}`;
  } catch {
    return undefined;
  }
}
