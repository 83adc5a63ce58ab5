/**
 * Who called whom in a recording: caller and callee worked out from the metadata (roles,
 * vendor statements matched to participants by number, document order) and the SDP label that
 * carries each one's voice. Pure: takes parsed metadata, does no I/O.
 */
import type { Participant, RecordingMetadata } from './metadata.ts';
import { numberFromAor } from './metadata-values.ts';

/** Caller and callee of a recording, and which SDP label carries each one's voice. */
export interface Parties {
  readonly caller: Participant | undefined;
  readonly callee: Participant | undefined;
  readonly callerLabel: string | undefined;
  readonly calleeLabel: string | undefined;
  /** What decided who called: `role element`, `callingParty extension`, `termCall extension (callingPartyNumber)`, ..., or `document order`. */
  readonly source: string;
  /** What decided the channels: `stream association` or `m-line order`. */
  readonly labelSource: string;
}

/** Digits of a number, without a leading `+` or separators. */
function digitsOf(value: string): string {
  return /^\+?[\d\s().-]+$/.test(value) ? value.replace(/\D/g, '') : '';
}

/**
 * How well a hint's value names a participant: 3 for the same number or user, 2 when one number
 * ends with the other (`+18638254725` and `8638254725`, at least 4 digits), 0 otherwise.
 */
function matchScore(hint: string, p: Participant): number {
  // A header value such as `"Extension 8500" <sip:2249888500@host>;tag=x` names the URI inside <>.
  const uri = /<([^>]*)>/.exec(hint)?.[1] ?? hint;
  const a = numberFromAor(uri).toLowerCase();
  const b = p.number.toLowerCase();
  if (a === '' || b === '') return 0;
  if (a === b) return 3;
  const da = digitsOf(a);
  const db = digitsOf(b);
  if (da.length >= 4 && db.length >= 4 && (da.endsWith(db) || db.endsWith(da))) return da === db ? 3 : 2;
  return 0;
}

/**
 * Works out caller and callee (the first participant is not always the caller), in this order:
 * a participant's own role (`<role>calling</role>`, Oracle `callingParty` true/false); the
 * calling/called numbers of document-level vendor extensions matched to participants (BroadWorks
 * `termCall`/`origCall`, Metaswitch `callType`, Ribbon `callData` From/To); otherwise document
 * order. Each party's label is the label of the stream it sends (the stream associations, Webex:
 * label 1 is the callee's); only labels no participant sends fall back to m-line order.
 */
export function resolveParties(meta: RecordingMetadata | undefined, sdpLabels: readonly string[]): Parties {
  const real = (meta?.participants ?? []).filter((p) => p.aor !== '' || p.name !== '');
  let caller = real.find((p) => /^(calling|caller|from|originator|a[-_]?party)$/i.test(p.role ?? ''));
  let callee = real.find((p) => p !== caller && /^(called|callee|to|terminator|b[-_]?party)$/i.test(p.role ?? ''));
  let source = caller?.roleSource ?? callee?.roleSource;
  if (!caller && !callee) {
    let callerSource: string | undefined;
    let calleeSource: string | undefined;
    for (const hint of meta?.hints ?? []) {
      const other = hint.role === 'caller' ? callee : caller;
      let best: Participant | undefined;
      let bestScore = 0;
      for (const p of real) {
        const score = p === other ? 0 : matchScore(hint.value, p);
        if (score > bestScore) {
          best = p;
          bestScore = score;
        }
      }
      if (!best) continue;
      if (hint.role === 'caller' && !caller) {
        caller = best;
        callerSource = hint.source;
      } else if (hint.role === 'callee' && !callee) {
        callee = best;
        calleeSource = hint.source;
      }
    }
    // The statement naming the caller is the one reported; a callee statement decides otherwise.
    source = callerSource ?? calleeSource;
  }
  caller ??= real.find((p) => p !== callee);
  callee ??= real.find((p) => p !== caller);
  source ??= 'document order';
  const labelOf = (p: Participant | undefined): string | undefined => {
    if (!p || !meta) return undefined;
    for (const streamId of p.send) {
      const s = meta.streams.find((x) => x.id === streamId);
      if (s?.label && sdpLabels.includes(s.label)) return s.label;
    }
    return undefined;
  };
  // Labels that some participant sends belong to that participant, never to another by position.
  const claimed = new Set<string>();
  for (const p of real) {
    for (const id of p.send) {
      const label = meta?.streams.find((x) => x.id === id)?.label;
      if (label) claimed.add(label);
    }
  }
  let callerLabel = labelOf(caller);
  let calleeLabel = labelOf(callee);
  const associated = callerLabel !== undefined || calleeLabel !== undefined;
  // Without associations, the first unclaimed m-line is the caller's and the next the callee's;
  // when the metadata declares its streams, an m-line it does not declare is nobody's.
  const declared = new Set((meta?.streams ?? []).map((x) => x.label).filter(Boolean));
  const free = (l: string): boolean => !claimed.has(l) && (declared.size === 0 || declared.has(l));
  callerLabel ??= sdpLabels.find((l) => l !== calleeLabel && free(l));
  calleeLabel ??= sdpLabels.find((l) => l !== callerLabel && free(l));
  return { caller, callee, callerLabel, calleeLabel, source, labelSource: associated ? 'stream association' : 'm-line order' };
}
