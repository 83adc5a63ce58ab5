/**
 * Persistence of the policy (directory, exception lists, settings) in the embedded database, the
 * membership log and the decision log (A9). Every change bumps a version number, so a running
 * callseal picks up changes made by the CLI or the API for calls that start afterwards.
 * Its tables come from the store's migrations (`store/migrations.ts`); it must not create schema.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../common/errors.ts';
import { AnnouncementRepository, DecisionRepository, MembershipLogRepository, PolicyRepository, transaction, type ConsentOutcome, type DecisionRecord } from '../store/index.ts';
import { DEFAULT_POLICY, policySchema, type Policy } from './model.ts';
import type { CallFacts, Decision } from './decide.ts';

/** A logged decision, and the consent IVR's outcome in it. */
export type { ConsentOutcome, DecisionRecord } from '../store/index.ts';

/**
 * Checks references between the parts of a policy; returns problems naming the field. With
 * `announcementIds`, also that every announcement a setting names is in the library (C1).
 */
export function policyProblems(p: Policy, announcementIds?: ReadonlySet<string>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const dup = (items: readonly { id: string }[], where: string): void => {
    const seen = new Set<string>();
    items.forEach((x, i) => {
      if (seen.has(x.id)) problems.push({ path: `${where}.${i}.id`, message: `duplicate id "${x.id}"` });
      seen.add(x.id);
    });
  };
  dup(p.users, 'users');
  dup(p.groups, 'groups');
  dup(p.exceptionLists, 'exceptionLists');
  dup(p.settings, 'settings');
  const users = new Set(p.users.map((u) => u.id));
  const groups = new Set(p.groups.map((g) => g.id));
  const lists = new Set(p.exceptionLists.map((l) => l.id));
  p.groups.forEach((g, gi) => { g.members.forEach((m, mi) => { if (!users.has(m.userId)) problems.push({ path: `groups.${gi}.members.${mi}.userId`, message: `unknown user "${m.userId}"` }); }); });
  p.settings.forEach((s, si) => {
    s.exceptionListIds.forEach((l, li) => { if (!lists.has(l)) problems.push({ path: `settings.${si}.exceptionListIds.${li}`, message: `unknown exception list "${l}"` }); });
    if (s.scope.kind === 'groups') s.scope.groupIds.forEach((g, i) => { if (!groups.has(g)) problems.push({ path: `settings.${si}.scope.groupIds.${i}`, message: `unknown group "${g}"` }); });
    if (s.scope.kind === 'users') s.scope.userIds.forEach((u, i) => { if (!users.has(u)) problems.push({ path: `settings.${si}.scope.userIds.${i}`, message: `unknown user "${u}"` }); });
    if (announcementIds) {
      const named: [string, string | null | undefined][] = [
        ['announcementIncoming', s.announcementIncoming], ['announcementOutgoing', s.announcementOutgoing],
        ['consent.confirmRecorded', s.consent.confirmRecorded], ['consent.confirmNotRecorded', s.consent.confirmNotRecorded],
      ];
      for (const [field, a] of named) {
        if (typeof a === 'string' && !announcementIds.has(a)) problems.push({ path: `settings.${si}.${field}`, message: `unknown announcement "${a}"` });
      }
    }
  });
  return problems;
}

/** Validates raw input into a policy, or throws ConfigError listing every problem with its field. */
export function parsePolicy(raw: unknown, announcementIds?: ReadonlySet<string>): Policy {
  const r = policySchema.safeParse(raw);
  if (!r.success) throw new ConfigError('CS_POLICY_INVALID', r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message })));
  const problems = policyProblems(r.data, announcementIds);
  if (problems.length > 0) throw new ConfigError('CS_POLICY_INVALID', problems);
  return r.data;
}

/** The policy tables. */
export class PolicyStore {
  readonly #db: DatabaseSync;
  readonly #policy: PolicyRepository;
  readonly #memberships: MembershipLogRepository;
  readonly #decisions: DecisionRepository;
  readonly #announcements: AnnouncementRepository;

  /** `defaultChannels` shapes the "Record all calls" setting of a fresh installation (config `recording.channels`). */
  constructor(db: DatabaseSync, defaultChannels: 'stereo' | 'separate' = 'stereo') {
    this.#db = db;
    this.#policy = new PolicyRepository(db);
    this.#memberships = new MembershipLogRepository(db);
    this.#decisions = new DecisionRepository(db);
    this.#announcements = new AnnouncementRepository(db);
    if (!this.#policy.exists()) {
      const initial: Policy = { ...DEFAULT_POLICY, settings: DEFAULT_POLICY.settings.map((st) => ({ ...st, channels: defaultChannels })) };
      this.#policy.create(JSON.stringify(initial), Date.now(), 'defaults');
    }
  }

  /** Current version (bumped on every change). */
  version(): number {
    return this.#policy.version();
  }

  /** The stored policy. */
  load(): { policy: Policy; version: number } {
    const row = this.#policy.load();
    return { policy: policySchema.parse(JSON.parse(row.json)), version: row.version };
  }

  /** Replaces the policy (validated), returning the new version. */
  save(policy: Policy, actor: string): number {
    const valid = parsePolicy(policy, this.#announcements.ids());
    return transaction(this.#db, () => {
      const v = this.version() + 1;
      this.#policy.store(v, JSON.stringify(valid), Date.now(), actor);
      return v;
    });
  }

  /** Applies a change to the current policy atomically. */
  update(actor: string, change: (p: Policy) => Policy): { policy: Policy; version: number } {
    return transaction(this.#db, () => {
      const next = parsePolicy(change(structuredClone(this.load().policy)), this.#announcements.ids());
      const v = this.version() + 1;
      this.#policy.store(v, JSON.stringify(next), Date.now(), actor);
      return { policy: next, version: v };
    });
  }

  /** Logs a user in to or out of a group's recording (A4); applies to calls that start afterwards. */
  setMembership(groupId: string, userId: string, active: boolean, actor: string): void {
    this.update(actor, (p) => {
      const g = p.groups.find((x) => x.id === groupId);
      if (!g) throw new ConfigError('CS_POLICY_INVALID', [{ path: 'groupId', message: `unknown group "${groupId}"` }]);
      const m = g.members.find((x) => x.userId === userId);
      if (!m) throw new ConfigError('CS_POLICY_INVALID', [{ path: 'userId', message: `user "${userId}" is not a member of group "${groupId}"` }]);
      m.active = active;
      return p;
    });
    this.#memberships.append({ atMs: Date.now(), groupId, userId, active, actor });
  }

  /** The membership log, newest first. */
  membershipLog(limit = 100): { atMs: number; groupId: string; userId: string; active: boolean; actor: string }[] {
    return this.#memberships.list(limit);
  }

  /** Stores one decision (A9), with the consent IVR's outcome (C3) when the call had one. */
  logDecision(facts: CallFacts, d: Decision, event: string, policyVersion: number, consent?: ConsentOutcome): void {
    this.#decisions.append({
      atMs: facts.atMs, callId: facts.callId, event, caller: d.caller, callee: d.callee, direction: d.direction, record: d.record, code: d.code,
      settingId: d.settingId ?? null, settingName: d.settingName ?? null, reason: d.reason, policyVersion, ...(consent ? { consent } : {}),
    });
  }

  /** Queries the decision log, newest first. */
  decisions(q: { callId?: string; record?: boolean; sinceMs?: number; limit?: number } = {}): DecisionRecord[] {
    return this.#decisions.query({ ...q, limit: Math.min(q.limit ?? 100, 1000) });
  }
}
