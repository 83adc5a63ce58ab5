/**
 * Recognises the DTMF stop code of a recording setting (B6): digits of one party that come within
 * {@link DTMF_DIGIT_WINDOW_MS} of each other form a sequence, and the code stops the recording when
 * the sequence ends with it. Which party may stop is the policy's (`internalParty`). Does no I/O.
 */

/** DTMF digits belong to one code when they come within this time of each other. */
export const DTMF_DIGIT_WINDOW_MS = 3000;

/** Who pressed a digit, by the stream it came on. */
export type DtmfRole = 'caller' | 'callee' | 'other';

/** The stop code and who may press it. */
export interface DtmfStopOptions {
  readonly code: string;
  readonly internalParty: 'caller' | 'callee' | 'both' | undefined;
}

/** Digits per party, and whether they have formed the stop code. */
export class DtmfStop {
  readonly #o: DtmfStopOptions;
  readonly #recent = new Map<DtmfRole, { digits: string; lastMs: number }>();

  constructor(options: DtmfStopOptions) {
    this.#o = options;
  }

  /** Notes one digit (RFC 4733 event) at `atMs`; true when it completes the stop code of a party allowed to stop. */
  push(role: DtmfRole, digit: string, atMs: number): boolean {
    const { code, internalParty } = this.#o;
    if (code === '' || (internalParty !== 'both' && internalParty !== role)) return false;
    const entry = this.#recent.get(role) ?? { digits: '', lastMs: Number.NEGATIVE_INFINITY };
    // Only the last digits can complete the code: the memory per party stays bounded (invariant 4).
    entry.digits = ((atMs - entry.lastMs > DTMF_DIGIT_WINDOW_MS ? '' : entry.digits) + digit).slice(-code.length);
    entry.lastMs = atMs;
    this.#recent.set(role, entry);
    return entry.digits === code;
  }
}
