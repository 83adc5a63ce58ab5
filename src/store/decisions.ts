/**
 * The `decisions` table: every recording decision with its reason (A9: each decision not to record
 * is logged), newest first when read.
 */
import type { DatabaseSync } from 'node:sqlite';

/** One stored decision. */
export interface DecisionRecord {
  readonly seq: number;
  readonly atMs: number;
  readonly callId: string;
  /** What asked: `new-session`, `metadata-update`, `dtmf-stop`. */
  readonly event: string;
  readonly caller: string;
  readonly callee: string;
  readonly direction: string;
  readonly record: boolean;
  readonly code: string;
  readonly settingId: string | null;
  readonly settingName: string | null;
  readonly reason: string;
  readonly policyVersion: number;
  /** C3: how the consent IVR decided, for calls that had one (absent otherwise). */
  readonly consent?: ConsentOutcome | undefined;
}

/** The consent IVR's outcome of one call (C3), as logged. */
export interface ConsentOutcome {
  /** The setting's consent mode: `opt-in`, `opt-out` or `no-choice`. */
  readonly mode: string;
  /** `key` (the caller pressed the key), `timeout` (no key in time) or `no-choice`. */
  readonly outcome: string;
  /** The key pressed, when the outcome is `key`. */
  readonly key?: string | undefined;
  /** When the outcome was reached (the key press or the end of the wait), ms since epoch. */
  readonly atMs: number;
}

/** A filter of the decision log. */
export interface DecisionFilter {
  readonly callId?: string;
  readonly record?: boolean;
  readonly sinceMs?: number;
  readonly limit: number;
}

/** The decision log. */
export class DecisionRepository {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Stores one decision. */
  append(d: Omit<DecisionRecord, 'seq'>): void {
    const c = d.consent;
    this.#db.prepare(`INSERT INTO decisions (at_ms, call_id, event, caller, callee, direction, record, code, setting_id, setting_name, reason, policy_version,
      consent_mode, consent_outcome, consent_key, consent_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(d.atMs, d.callId, d.event, d.caller, d.callee, d.direction, d.record ? 1 : 0, d.code, d.settingId, d.settingName, d.reason, d.policyVersion,
        c?.mode ?? null, c?.outcome ?? null, c?.key ?? null, c?.atMs ?? null);
  }

  /** Decisions, newest first. */
  query(q: DecisionFilter): DecisionRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.callId !== undefined) { where.push('call_id = ?'); args.push(q.callId); }
    if (q.record !== undefined) { where.push('record = ?'); args.push(q.record ? 1 : 0); }
    if (q.sinceMs !== undefined) { where.push('at_ms >= ?'); args.push(q.sinceMs); }
    const sql = `SELECT * FROM decisions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, q.limit) as Record<string, string | number | null>[];
    return rows.map((r) => ({
      seq: Number(r['seq']), atMs: Number(r['at_ms']), callId: String(r['call_id']), event: String(r['event']), caller: String(r['caller']),
      callee: String(r['callee']), direction: String(r['direction']), record: r['record'] === 1, code: String(r['code']),
      settingId: r['setting_id'] === null ? null : String(r['setting_id']), settingName: r['setting_name'] === null ? null : String(r['setting_name']),
      reason: String(r['reason']), policyVersion: Number(r['policy_version']),
      ...(r['consent_outcome'] !== null && r['consent_outcome'] !== undefined ? {
        consent: {
          mode: String(r['consent_mode']), outcome: String(r['consent_outcome']), atMs: Number(r['consent_at_ms']),
          ...(r['consent_key'] !== null ? { key: String(r['consent_key']) } : {}),
        },
      } : {}),
    }));
  }
}
