/**
 * Dialog state from the messages that create a dialog (RFC 3261 sections 12.1.1 and 12.1.2), the
 * dialog key, and the table of dialogs. Pure apart from the table's map.
 */
import { getHeader, getHeaders, type SipRequest, type SipResponse } from './model.ts';
import { parseNameAddr } from './parse.ts';
import type { Remote } from './transport.ts';

/** The state a dialog starts with. */
export interface DialogInit {
  readonly role: 'uas' | 'uac';
  readonly callId: string;
  readonly localTag: string;
  /** Empty for an RFC 2543 peer that sent no tag. */
  readonly remoteTag: string;
  /** callseal's From (UAC) or To (UAS) value, with its tag. */
  readonly local: string;
  /** The peer's value, with its tag. */
  readonly remote: string;
  readonly localSeq: number | undefined;
  readonly remoteSeq: number | undefined;
  /** Route values in the order requests carry them. */
  readonly routeSet: readonly string[];
  readonly remoteTarget: string;
  readonly secure: boolean;
  /** The Contact callseal sends in the dialog. */
  readonly localContact: string;
  /** The flow the dialog was made on: where its requests go when no IP address is named (and always as UAS). */
  readonly flow: Remote;
}

/** The dialog key: Call-ID, local tag, remote tag. */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** The tag of a From or To value; undefined when it has none or does not parse. */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseNameAddr(value).tag;
  } catch {
    return undefined;
  }
}

/** The URI of a Contact, Route or Record-Route value; undefined when it does not parse. */
export function contactUri(value: string): string | undefined {
  try {
    return parseNameAddr(value).uri;
  } catch {
    return undefined;
  }
}

/** The CSeq number of a message (0 when it has none: the parser refuses such requests). */
export function cseqNumber(msg: SipRequest | SipResponse): number {
  return Number(/^\s*(\d+)/.exec(getHeader(msg, 'cseq') ?? '')?.[1] ?? 0);
}

function withTag(value: string, tag: string): string {
  return tagOf(value) !== undefined ? value : `${value};tag=${tag}`;
}

/** UAS dialog state from the INVITE and callseal's tag (RFC 3261 section 12.1.1). */
export function uasDialogInit(invite: SipRequest, flow: Remote, localTag: string, localContact: string): DialogInit {
  const from = getHeader(invite, 'from') ?? '';
  const contact = getHeader(invite, 'contact');
  return {
    role: 'uas', callId: getHeader(invite, 'call-id') ?? '', localTag, remoteTag: tagOf(from) ?? '',
    local: withTag(getHeader(invite, 'to') ?? '', localTag), remote: from,
    localSeq: undefined, remoteSeq: cseqNumber(invite),
    routeSet: getHeaders(invite, 'record-route'),
    remoteTarget: (contact !== undefined ? contactUri(contact) : undefined) ?? contactUri(from) ?? invite.uri,
    secure: /^sips:/i.test(invite.uri) && flow.transport === 'TLS', localContact, flow,
  };
}

/** UAC dialog state from the INVITE as sent and a 2xx (or 1xx with a tag) to it (RFC 3261 section 12.1.2). */
export function uacDialogInit(invite: SipRequest, response: SipResponse, flow: Remote, localContact: string): DialogInit {
  const from = getHeader(invite, 'from') ?? '';
  const to = getHeader(response, 'to') ?? '';
  const contact = getHeader(response, 'contact');
  return {
    role: 'uac', callId: getHeader(invite, 'call-id') ?? '', localTag: tagOf(from) ?? '', remoteTag: tagOf(to) ?? '',
    local: from, remote: to, localSeq: cseqNumber(invite), remoteSeq: undefined,
    // The UAC reverses the Record-Route of the response (RFC 3261 section 12.1.2).
    routeSet: getHeaders(response, 'record-route').reverse(),
    remoteTarget: (contact !== undefined ? contactUri(contact) : undefined) ?? invite.uri,
    secure: /^sips:/i.test(invite.uri), localContact, flow,
  };
}

/** A dialog as the table knows it. */
export interface Keyed {
  readonly key: string;
}

/** Dialogs by key. */
export class DialogTable<D extends Keyed = Keyed> {
  readonly #dialogs = new Map<string, D>();

  add(dialog: D): void {
    this.#dialogs.set(dialog.key, dialog);
  }

  /** Removes `dialog` if it is the one held under its key. */
  remove(dialog: D): void {
    if (this.#dialogs.get(dialog.key) === dialog) this.#dialogs.delete(dialog.key);
  }

  get(key: string): D | undefined {
    return this.#dialogs.get(key);
  }

  /** The dialog of a request from the peer: the To tag is ours, the From tag theirs. */
  forRequest(msg: SipRequest): D | undefined {
    const local = tagOf(getHeader(msg, 'to'));
    if (local === undefined) return undefined;
    return this.#dialogs.get(dialogKey(getHeader(msg, 'call-id') ?? '', local, tagOf(getHeader(msg, 'from')) ?? ''));
  }

  /** The dialog of a response to callseal's request: the From tag is ours, the To tag theirs. */
  forResponse(msg: SipResponse): D | undefined {
    const local = tagOf(getHeader(msg, 'from'));
    if (local === undefined) return undefined;
    return this.#dialogs.get(dialogKey(getHeader(msg, 'call-id') ?? '', local, tagOf(getHeader(msg, 'to')) ?? ''));
  }

  get size(): number {
    return this.#dialogs.size;
  }

  values(): IterableIterator<D> {
    return this.#dialogs.values();
  }
}
