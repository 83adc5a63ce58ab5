/**
 * `decide(facts, policy)`: a pure function of the call facts and the compiled policy that returns
 * the setting that records the call and why, or why the call is not recorded (A1-A9). The policy
 * is compiled once per change into number indexes and linear-time regular expressions (RE2JS),
 * so a decision costs a few map lookups however large the directory is.
 */
import { RE2JS } from 're2js';
import { describeRetention } from '../common/retention.ts';
import { DEFAULT_CONTEXT, isFeatureCode, normalizeNumber, normalizePrefix, type NumberContext } from './numbers.ts';
import type { Group, Policy, Setting, User } from './model.ts';

/** The facts of one call, as signalling knows them. */
export interface CallFacts {
  readonly callId: string;
  /** Caller and callee as numbers or SIP/tel URIs. */
  readonly caller: string;
  readonly callee: string;
  /** Numbers the call was diverted or forwarded from, oldest first (original called number). */
  readonly diversions?: readonly string[];
  /** Direction stated by the SRC, if any; the directory decides otherwise. */
  readonly directionHint?: 'in' | 'out' | undefined;
  readonly atMs: number;
}

/** Why a call is or is not recorded. */
export type DecisionCode =
  | 'recorded' | 'feature-code' | 'exception' | 'no-matching-setting' | 'no-enabled-setting';

/** The outcome of `decide`. */
export interface Decision {
  readonly record: boolean;
  readonly code: DecisionCode;
  readonly settingId: string | undefined;
  readonly settingName: string | undefined;
  /** One line for people and the decision log. */
  readonly reason: string;
  readonly direction: 'in' | 'out' | 'internal' | 'external';
  readonly caller: string;
  readonly callee: string;
  readonly channels: Setting['channels'] | undefined;
  readonly stopCode: string | undefined;
  /** The party whose DTMF may stop the recording: the internal participant (B6). */
  readonly internalParty: 'caller' | 'callee' | 'both' | undefined;
  /** Storage targets of the recording setting (F1); none for a call that is not recorded. */
  readonly targetIds: readonly string[];
  /** How long the setting keeps its recordings (F6); `keep` for a call that is not recorded. */
  readonly retention: Setting['retention'];
  /** C2: the announcement the caller hears before the recording (the setting's for this direction), if any. */
  readonly announcementId?: string | undefined;
  /** C3: the consent IVR for an incoming call whose setting has one (mode other than `none`). */
  readonly consent?: Setting['consent'] | undefined;
}

interface CompiledList {
  readonly name: string;
  readonly numbers: ReadonlySet<string>;
  readonly regexes: readonly RE2JS[];
}

interface CompiledSetting {
  readonly setting: Setting;
  readonly groupIds: ReadonlySet<string>;
  readonly userIds: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly regexes: readonly RE2JS[];
  readonly lists: readonly CompiledList[];
}

/** A policy compiled for fast decisions. */
export interface CompiledPolicy {
  readonly ctx: NumberContext;
  readonly policy: Policy;
  /** Normalised number → user (extension, direct number, or mobile/home number). */
  readonly userByNumber: ReadonlyMap<string, User>;
  readonly groupByNumber: ReadonlyMap<string, Group>;
  /** userId → ids of groups where the user is an active member. */
  readonly activeGroupsOf: ReadonlyMap<string, ReadonlySet<string>>;
  /** groupId → number of active members. */
  readonly activeCount: ReadonlyMap<string, number>;
  readonly internalPrefixes: readonly string[];
  readonly internalRegexes: readonly RE2JS[];
  readonly settings: readonly CompiledSetting[];
}

function splitPatterns(patterns: readonly string[]): { prefixes: string[]; regexes: RE2JS[] } {
  const prefixes: string[] = [];
  const regexes: RE2JS[] = [];
  for (const p of patterns) {
    if (p.startsWith('re:')) regexes.push(RE2JS.compile(p.slice(3)));
    else prefixes.push(p);
  }
  return { prefixes, regexes };
}

/** Compiles a validated policy. */
export function compilePolicy(policy: Policy, ctx: NumberContext = DEFAULT_CONTEXT): CompiledPolicy {
  const userByNumber = new Map<string, User>();
  for (const u of policy.users) {
    for (const n of [...u.extensions, ...u.directNumbers, ...u.mobileNumbers]) userByNumber.set(normalizeNumber(n, ctx), u);
  }
  const groupByNumber = new Map<string, Group>();
  const activeGroupsOf = new Map<string, Set<string>>();
  const activeCount = new Map<string, number>();
  for (const g of policy.groups) {
    for (const n of g.numbers) groupByNumber.set(normalizeNumber(n, ctx), g);
    let active = 0;
    for (const m of g.members) {
      if (!m.active) continue;
      active++;
      let set = activeGroupsOf.get(m.userId);
      if (!set) {
        set = new Set();
        activeGroupsOf.set(m.userId, set);
      }
      set.add(g.id);
    }
    activeCount.set(g.id, active);
  }
  const internal = splitPatterns(policy.internalPatterns.map((x) => (x.startsWith('re:') ? x : normalizePrefix(x, ctx))));
  const lists = new Map<string, CompiledList>();
  for (const l of policy.exceptionLists) {
    const numbers = new Set<string>();
    const regexes: RE2JS[] = [];
    for (const e of l.entries) {
      if (e.kind === 'number') numbers.add(normalizeNumber(e.value, ctx));
      else regexes.push(RE2JS.compile(e.value));
    }
    lists.set(l.id, { name: l.name, numbers, regexes });
  }
  const settings = policy.settings.map((s): CompiledSetting => {
    const p = s.scope.kind === 'patterns' ? splitPatterns(s.scope.patterns.map((x) => (x.startsWith('re:') ? x : normalizePrefix(x, ctx)))) : { prefixes: [], regexes: [] };
    return {
      setting: s,
      groupIds: new Set(s.scope.kind === 'groups' ? s.scope.groupIds : []),
      userIds: new Set(s.scope.kind === 'users' ? s.scope.userIds : []),
      prefixes: p.prefixes, regexes: p.regexes,
      lists: s.exceptionListIds.map((lid) => lists.get(lid)).filter((l): l is CompiledList => l !== undefined),
    };
  });
  return {
    ctx, policy, userByNumber, groupByNumber, activeGroupsOf, activeCount,
    internalPrefixes: internal.prefixes, internalRegexes: internal.regexes, settings,
  };
}

interface Party {
  readonly number: string;
  readonly user: User | undefined;
  readonly group: Group | undefined;
  readonly internal: boolean;
}

function party(raw: string, p: CompiledPolicy): Party {
  const number = normalizeNumber(raw, p.ctx);
  // Not a number (invariant 4): it matches no user, group, pattern or list.
  if (number === '') return { number, user: undefined, group: undefined, internal: false };
  const user = p.userByNumber.get(number);
  const group = p.groupByNumber.get(number);
  const internal = user !== undefined || group !== undefined || p.internalPrefixes.some((x) => number.startsWith(x)) || p.internalRegexes.some((r) => r.matches(number));
  return { number, user, group, internal };
}

function matchesList(number: string, lists: readonly CompiledList[]): CompiledList | undefined {
  if (number === '') return undefined;
  return lists.find((l) => l.numbers.has(number) || l.regexes.some((r) => r.matches(number)));
}

function isActiveMemberOfAny(p: CompiledPolicy, userId: string, groupIds: ReadonlySet<string>): boolean {
  const active = p.activeGroupsOf.get(userId);
  if (!active) return false;
  for (const g of groupIds) if (active.has(g)) return true;
  return false;
}

/**
 * Whether the setting's scope takes the call in the given direction. Returns a short phrase for
 * the reason, or undefined.
 */
function scopeMatch(cs: CompiledSetting, p: CompiledPolicy, dir: 'in' | 'out', caller: Party, callee: Party, diverted: readonly Party[]): string | undefined {
  const s = cs.setting;
  const own = dir === 'in' ? callee : caller;
  const other = dir === 'in' ? caller : callee;
  switch (s.scope.kind) {
    case 'all':
      return 'all calls';
    case 'allUsers':
      return own.user ? `user ${own.user.name}` : undefined;
    case 'users':
      return own.user && cs.userIds.has(own.user.id) ? `user ${own.user.name}` : undefined;
    case 'patterns': {
      const n = other.number;
      return n !== '' && (cs.prefixes.some((x) => n.startsWith(x)) || cs.regexes.some((r) => r.matches(n))) ? `number ${n} matches a pattern` : undefined;
    }
    case 'groups': {
      if (dir === 'out') {
        // A3: outgoing calls are in a user's context: the caller must be an active member.
        return own.user && isActiveMemberOfAny(p, own.user.id, cs.groupIds) ? `outgoing call of active member ${own.user.name}` : undefined;
      }
      // Incoming to a group number: directly, or diverted from it to a member (B4).
      const groupParty = [own, ...diverted].find((x) => x.group && cs.groupIds.has(x.group.id));
      if (groupParty?.group) {
        const g = groupParty.group;
        if (own.user) return isActiveMemberOfAny(p, own.user.id, new Set([g.id])) ? `call to group ${g.name} answered by active member ${own.user.name}` : undefined;
        return (p.activeCount.get(g.id) ?? 0) > 0 ? `call to group ${g.name}` : undefined;
      }
      // A5: direct calls to the personal number of an active member.
      if (s.directCallsToActiveMembers && own.user && isActiveMemberOfAny(p, own.user.id, cs.groupIds)) return `direct call to active member ${own.user.name}`;
      return undefined;
    }
  }
}

/** Decides whether and by which setting a call is recorded. Pure: same input, same output. */
export function decide(facts: CallFacts, p: CompiledPolicy): Decision {
  const caller = party(facts.caller, p);
  const callee = party(facts.callee, p);
  const diverted = (facts.diversions ?? []).map((d) => party(d, p));
  const calleeInternal = callee.internal || diverted.some((d) => d.internal);
  let direction: Decision['direction'];
  if (caller.internal && calleeInternal) direction = 'internal';
  else if (caller.internal) direction = 'out';
  else if (calleeInternal) direction = 'in';
  else direction = facts.directionHint ?? 'external';
  const base = { caller: caller.number, callee: callee.number, direction };
  const internalParty: Decision['internalParty'] = direction === 'internal' ? 'both' : direction === 'out' ? 'caller' : direction === 'in' ? 'callee' : undefined;
  const no = (code: DecisionCode, reason: string, s?: Setting): Decision => ({
    ...base, record: false, code, reason, settingId: s?.id, settingName: s?.name, channels: undefined, stopCode: undefined, internalParty, targetIds: [], retention: 'keep',
  });

  if (isFeatureCode(facts.caller) || isFeatureCode(facts.callee) || diverted.some((d) => d.number.includes('*'))) {
    return no('feature-code', 'numbers with * (feature codes) are never recorded');
  }
  const enabled = p.settings.filter((s) => s.setting.enabled);
  if (enabled.length === 0) return no('no-enabled-setting', 'no recording setting is enabled');
  // An internal call is the caller's outgoing call and the callee's incoming call.
  const views: ('in' | 'out')[] = direction === 'in' ? ['in'] : direction === 'out' ? ['out'] : direction === 'internal' ? ['out', 'in'] : ['in', 'out'];
  for (const cs of enabled) {
    const s = cs.setting;
    if (direction === 'internal' && s.excludeInternal) continue;
    for (const view of views) {
      if (s.direction !== 'both' && s.direction !== view) continue;
      const why = scopeMatch(cs, p, view, caller, callee, diverted);
      if (why === undefined) continue;
      // A6: the caller for incoming calls, the callee for outgoing calls.
      const checked = view === 'in' ? caller : callee;
      const hit = matchesList(checked.number, cs.lists);
      if (hit) return no('exception', `setting "${s.name}" applies (${why}), but ${checked.number} is in exception list "${hit.name}"`, s);
      return {
        ...base, record: true, code: 'recorded', settingId: s.id, settingName: s.name, channels: s.channels,
        stopCode: s.stopCode === '' ? undefined : s.stopCode, internalParty, targetIds: s.targetIds, retention: s.retention,
        announcementId: (view === 'in' ? s.announcementIncoming : s.announcementOutgoing) ?? undefined,
        consent: view === 'in' && s.consent.mode !== 'none' ? s.consent : undefined,
        reason: `recorded by setting "${s.name}": ${view === 'in' ? 'incoming' : 'outgoing'} ${direction === 'internal' ? 'internal ' : ''}call, ${why}`,
      };
    }
  }
  const internalNote = direction === 'internal' && enabled.every((cs) => cs.setting.excludeInternal) ? ' (internal calls are excluded)' : '';
  return no('no-matching-setting', `no enabled setting matches this ${direction} call${internalNote}`);
}

/** One line explaining what a setting records, generated from the setting (A9). */
export function explainSetting(s: Setting, policy: Policy): string {
  const groupName = (gid: string): string => policy.groups.find((g) => g.id === gid)?.name ?? gid;
  const userName = (uid: string): string => policy.users.find((u) => u.id === uid)?.name ?? uid;
  const list = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1] ?? ''}`);
  const dir = (inText: string, outText: string): string => (s.direction === 'in' ? inText : s.direction === 'out' ? outText : `${inText} and ${outText}`);
  let what: string;
  switch (s.scope.kind) {
    case 'all':
      what = dir('all incoming calls', 'all outgoing calls');
      break;
    case 'allUsers':
      what = dir('incoming calls to users', 'outgoing calls of users');
      break;
    case 'users': {
      const names = list(s.scope.userIds.map(userName));
      what = dir(`incoming calls to ${names}`, `outgoing calls of ${names}`);
      break;
    }
    case 'groups': {
      const names = list(s.scope.groupIds.map((g) => `group ${groupName(g)}`));
      const plural = s.scope.groupIds.length > 1 ? 'their' : 'its';
      what = dir(`incoming calls to ${names}`, `outgoing calls of ${plural} active members`);
      if (s.directCallsToActiveMembers && s.direction !== 'out') what += `, and direct calls to ${plural} active members`;
      break;
    }
    case 'patterns':
      what = dir(`incoming calls from ${list(s.scope.patterns)}`, `outgoing calls to ${list(s.scope.patterns)}`);
      break;
  }
  const parts = [`${s.enabled ? 'Records' : 'Would record (disabled)'} ${what}`];
  const lists = s.exceptionListIds.map((id) => policy.exceptionLists.find((l) => l.id === id)?.name ?? id);
  if (lists.length > 0) parts.push(`except numbers in list${lists.length > 1 ? 's' : ''} ${list(lists)}`);
  if (s.excludeInternal) parts.push('not internal calls');
  const channels = { caller: 'caller only', callee: 'callee only', stereo: 'both parties in one stereo file', separate: 'both parties in separate files' }[s.channels];
  let text = `${parts.join(', ')}; ${channels}`;
  if (s.stopCode !== '') text += `; ${s.stopCode} stops the recording`;
  if (s.retention !== 'keep') text += `; kept ${describeRetention(s.retention)}, then deleted`;
  if (s.announcementIncoming !== null || s.announcementOutgoing !== null) text += '; the caller hears an announcement first';
  if (s.consent.mode === 'opt-in') text += `; incoming callers are recorded only if they press ${s.consent.key} within ${String(s.consent.timeoutMs / 1000)} s`;
  if (s.consent.mode === 'opt-out') text += `; incoming callers can press ${s.consent.key} within ${String(s.consent.timeoutMs / 1000)} s to object`;
  return `${text}.`;
}
