/**
 * Every rule of the reference manual as a table (A1-A8, B4): group vs personal number, active vs
 * inactive member, direct calls option, exceptions per direction, internal calls, `*` numbers,
 * first-match order, disabled settings — plus number normalisation.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, explainSetting, type DecisionCode } from './decide.ts';
import { normalizeNumber, DEFAULT_CONTEXT, type NumberContext } from './numbers.ts';
import { parsePolicy } from './policy-store.ts';
import { policySchema, type Policy, type Setting } from './model.ts';
import { ConfigError } from '../common/errors.ts';

const CTX: NumberContext = { ...DEFAULT_CONTEXT, areaCode: '30' };

function policy(settings: Partial<Setting>[], opts: { aliceActive?: boolean; bobActive?: boolean } = {}): Policy {
  return policySchema.parse({
    users: [
      { id: 'alice', name: 'Alice', extensions: ['201'], directNumbers: ['+493012345201'], mobileNumbers: ['+4917011111'] },
      { id: 'bob', name: 'Bob', extensions: ['202'], directNumbers: ['+493012345202'] },
      { id: 'carol', name: 'Carol', extensions: ['203'] },
      { id: 'dave', name: 'Dave', extensions: ['204'], directNumbers: ['+493012345204'] },
    ],
    groups: [
      { id: 'sales', name: 'Sales', numbers: ['+4930123450', '200'], members: [{ userId: 'alice', active: opts.aliceActive ?? true }, { userId: 'bob', active: opts.bobActive ?? false }] },
      { id: 'support', name: 'Support', numbers: ['+4930123459'], members: [{ userId: 'carol', active: true }] },
    ],
    internalPatterns: ['+49301234'],
    exceptionLists: [
      { id: 'private', name: 'Private', entries: [{ kind: 'number', value: '+4989111', comment: 'doctor' }, { kind: 'regex', value: '\\+4917[0-9]*', comment: 'mobiles' }] },
      { id: 'vip', name: 'VIP', entries: [{ kind: 'number', value: '08955555', comment: 'national form' }] },
    ],
    settings: settings.map((s, i) => ({ id: `s${i}`, name: `Setting ${i}`, scope: { kind: 'all' }, ...s })),
  });
}

const EXT = '+4940777888';

interface Row {
  readonly name: string;
  readonly settings: Partial<Setting>[];
  readonly caller: string;
  readonly callee: string;
  readonly diversions?: string[];
  readonly opts?: { aliceActive?: boolean; bobActive?: boolean };
  readonly record: boolean;
  readonly code: DecisionCode;
  readonly setting?: string;
  readonly direction?: string;
}

const SALES_GROUP: Partial<Setting> = { scope: { kind: 'groups', groupIds: ['sales'] } };

const TABLE: Row[] = [
  // A1: first enabled matching setting; disabled settings are skipped.
  { name: 'all calls, incoming', settings: [{}], caller: EXT, callee: '+4930123450', record: true, code: 'recorded', setting: 's0', direction: 'in' },
  { name: 'first match wins', settings: [{}, {}], caller: EXT, callee: '+4930123450', record: true, code: 'recorded', setting: 's0' },
  { name: 'disabled first setting is skipped', settings: [{ enabled: false }, {}], caller: EXT, callee: '+4930123450', record: true, code: 'recorded', setting: 's1' },
  { name: 'only disabled settings', settings: [{ enabled: false }], caller: EXT, callee: '+4930123450', record: false, code: 'no-enabled-setting' },
  // A8: feature codes.
  { name: 'callee with * is never recorded', settings: [{}], caller: '201', callee: '*21#', record: false, code: 'feature-code' },
  { name: 'caller with * is never recorded', settings: [{}], caller: '*31*201', callee: EXT, record: false, code: 'feature-code' },
  // A3: direction.
  { name: 'incoming-only setting ignores outgoing', settings: [{ direction: 'in' }], caller: '201', callee: EXT, record: false, code: 'no-matching-setting', direction: 'out' },
  { name: 'outgoing-only setting records outgoing', settings: [{ direction: 'out' }], caller: '201', callee: EXT, record: true, code: 'recorded', direction: 'out' },
  // A2/A4: groups; group number vs personal number; active vs inactive members.
  { name: 'call to the group number with an active member', settings: [SALES_GROUP], caller: EXT, callee: '+4930123450', record: true, code: 'recorded' },
  { name: 'call to the group number, every member logged out', settings: [SALES_GROUP], caller: EXT, callee: '+4930123450', opts: { aliceActive: false }, record: false, code: 'no-matching-setting' },
  { name: 'group call answered by the active member', settings: [SALES_GROUP], caller: EXT, callee: '201', diversions: ['+4930123450'], record: true, code: 'recorded' },
  { name: 'group call answered by an inactive member', settings: [SALES_GROUP], caller: EXT, callee: '202', diversions: ['+4930123450'], record: false, code: 'no-matching-setting' },
  { name: 'personal number of an active member, option off', settings: [SALES_GROUP], caller: EXT, callee: '+493012345201', record: false, code: 'no-matching-setting' },
  // A5: direct calls to active group members.
  { name: 'personal number of an active member, option on', settings: [{ ...SALES_GROUP, directCallsToActiveMembers: true }], caller: EXT, callee: '+493012345201', record: true, code: 'recorded' },
  { name: 'personal number of an inactive member, option on', settings: [{ ...SALES_GROUP, directCallsToActiveMembers: true }], caller: EXT, callee: '+493012345202', record: false, code: 'no-matching-setting' },
  { name: 'personal number of a non-member, option on', settings: [{ ...SALES_GROUP, directCallsToActiveMembers: true }], caller: EXT, callee: '+493012345204', record: false, code: 'no-matching-setting' },
  // A3: outgoing calls are in a user's context.
  { name: 'outgoing call of an active member', settings: [SALES_GROUP], caller: '201', callee: EXT, record: true, code: 'recorded', direction: 'out' },
  { name: 'outgoing call of an inactive member', settings: [SALES_GROUP], caller: '202', callee: EXT, record: false, code: 'no-matching-setting' },
  { name: 'outgoing call of a non-member', settings: [SALES_GROUP], caller: '204', callee: EXT, record: false, code: 'no-matching-setting' },
  { name: 'another group is not recorded by the Sales setting', settings: [SALES_GROUP], caller: EXT, callee: '+4930123459', record: false, code: 'no-matching-setting' },
  // A6: exception lists: caller for incoming, callee for outgoing.
  { name: 'incoming from an excepted number', settings: [{ exceptionListIds: ['private'] }], caller: '+4989111', callee: '+4930123450', record: false, code: 'exception' },
  { name: 'outgoing to an excepted number', settings: [{ exceptionListIds: ['private'] }], caller: '201', callee: '+4989111', record: false, code: 'exception' },
  { name: 'incoming call to an excepted number is not an exception (callee not checked)', settings: [{ exceptionListIds: ['private'] }], caller: EXT, callee: '+493012345201', record: true, code: 'recorded' },
  { name: 'regular expression entry', settings: [{ exceptionListIds: ['private'] }], caller: '+491701234567', callee: '+4930123450', record: false, code: 'exception' },
  { name: 'exception entry in national form matches the international number', settings: [{ exceptionListIds: ['vip'] }], caller: '+498955555', callee: '+4930123450', record: false, code: 'exception' },
  { name: 'exception list of another setting does not apply', settings: [{ direction: 'out', exceptionListIds: ['private'] }, {}], caller: '+4989111', callee: '+4930123450', record: true, code: 'recorded', setting: 's1' },
  // A7: internal calls.
  { name: 'internal call recorded when not excluded', settings: [{}], caller: '201', callee: '202', record: true, code: 'recorded', direction: 'internal' },
  { name: 'internal call excluded', settings: [{ excludeInternal: true }], caller: '201', callee: '202', record: false, code: 'no-matching-setting', direction: 'internal' },
  { name: 'internal call excluded by the first, recorded by the second', settings: [{ excludeInternal: true }, { name: 'x' }], caller: '201', callee: '+493012345202', record: true, code: 'recorded', setting: 's1' },
  // Users, all users, patterns.
  { name: 'users scope: the selected user', settings: [{ scope: { kind: 'users', userIds: ['bob'] } }], caller: EXT, callee: '+493012345202', record: true, code: 'recorded' },
  { name: 'users scope: another user', settings: [{ scope: { kind: 'users', userIds: ['bob'] } }], caller: EXT, callee: '+493012345201', record: false, code: 'no-matching-setting' },
  { name: 'all users: a group number is not a user', settings: [{ scope: { kind: 'allUsers' } }], caller: EXT, callee: '+4930123450', record: false, code: 'no-matching-setting' },
  { name: 'all users: a personal number', settings: [{ scope: { kind: 'allUsers' } }], caller: EXT, callee: '+493012345204', record: true, code: 'recorded' },
  { name: 'pattern prefix on the external party (incoming)', settings: [{ scope: { kind: 'patterns', patterns: ['+4989'] } }], caller: '+4989777', callee: '201', record: true, code: 'recorded' },
  { name: 'pattern prefix on the external party (outgoing)', settings: [{ scope: { kind: 'patterns', patterns: ['089'] } }], caller: '201', callee: '+4989777', record: true, code: 'recorded' },
  { name: 'pattern regular expression', settings: [{ scope: { kind: 'patterns', patterns: ['re:\\+4940[0-9]+'] } }], caller: EXT, callee: '201', record: true, code: 'recorded' },
  { name: 'pattern miss', settings: [{ scope: { kind: 'patterns', patterns: ['+4989'] } }], caller: EXT, callee: '201', record: false, code: 'no-matching-setting' },
  // B4: calls forwarded to a user's mobile are the user's calls.
  { name: 'forwarded to the mobile of an active member (direct calls option)', settings: [{ ...SALES_GROUP, directCallsToActiveMembers: true }], caller: EXT, callee: '+4917011111', record: true, code: 'recorded', direction: 'in' },
  { name: 'group call forwarded to a member mobile', settings: [SALES_GROUP], caller: EXT, callee: '+4917011111', diversions: ['+4930123450'], record: true, code: 'recorded' },
];

describe('decide (table of the reference manual rules)', () => {
  it.each(TABLE)('$name', (row) => {
    const p = compilePolicy(policy(row.settings, row.opts), CTX);
    const d = decide({ callId: 'c', caller: row.caller, callee: row.callee, ...(row.diversions ? { diversions: row.diversions } : {}), atMs: 0 }, p);
    expect({ record: d.record, code: d.code }).toEqual({ record: row.record, code: row.code });
    if (row.setting !== undefined) expect(d.settingId).toBe(row.setting);
    if (row.direction !== undefined) expect(d.direction).toBe(row.direction);
    expect(d.reason.length).toBeGreaterThan(10);
  });

  it('is pure: the same facts give the same decision', () => {
    const p = compilePolicy(policy([SALES_GROUP]), CTX);
    const facts = { callId: 'c', caller: EXT, callee: '+4930123450', atMs: 1 };
    expect(decide(facts, p)).toEqual(decide(facts, p));
  });

  it('names the internal participant whose DTMF may stop the recording', () => {
    const p = compilePolicy(policy([{}]), CTX);
    expect(decide({ callId: 'c', caller: '201', callee: EXT, atMs: 0 }, p).internalParty).toBe('caller');
    expect(decide({ callId: 'c', caller: EXT, callee: '201', atMs: 0 }, p).internalParty).toBe('callee');
  });
});

describe('number normalisation', () => {
  it.each([
    ['+4930123450', '+4930123450'],
    ['004930123450', '+4930123450'],
    ['030123450', '+4930123450'],
    ['123450', '123450'],
    ['1234567', '+49301234567'],
    ['sip:+4930123450@pbx.example.com;user=phone', '+4930123450'],
    ['tel:+49-30-123450', '+4930123450'],
    ['<sip:030123450@10.0.0.1:5060>', '+4930123450'],
    ['sip:%2B4930123450@host', '+4930123450'],
    ['201', '201'],
    ['*21#', '*21#'],
    ['sip:alice@example.com', 'alice'],
  ])('%s → %s', (raw, out) => {
    expect(normalizeNumber(raw, CTX)).toBe(out);
  });

  it('the same party in every form reaches the same group', () => {
    const p = compilePolicy(policy([SALES_GROUP]), CTX);
    for (const form of ['+4930123450', '004930123450', '030123450', 'sip:+4930123450@pbx;user=phone', 'tel:+49-30-123450', '200']) {
      expect(decide({ callId: 'c', caller: EXT, callee: form, atMs: 0 }, p).record).toBe(true);
    }
  });
});

describe('validation and explanations', () => {
  it('refuses regular expressions that need backtracking and names the field', () => {
    let caught: unknown;
    try {
      parsePolicy({ exceptionLists: [{ id: 'x', name: 'X', entries: [{ kind: 'regex', value: '(a+)+\\1', comment: '' }] }] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues[0]?.path).toBe('exceptionLists.0.entries.0.value');
  });

  it('matches a catastrophic-backtracking pattern in linear time', () => {
    const p = compilePolicy(policySchema.parse({ exceptionLists: [{ id: 'e', name: 'E', entries: [{ kind: 'regex', value: '(a+)+$', comment: '' }] }], settings: [{ id: 's', name: 'S', scope: { kind: 'all' }, exceptionListIds: ['e'] }] }), CTX);
    const evil = `${'a'.repeat(50_000)}!`;
    const t = performance.now();
    decide({ callId: 'c', caller: evil, callee: '201', atMs: 0 }, p);
    // Not a timing assertion on the machine: a backtracking engine would not return at all.
    expect(performance.now() - t).toBeGreaterThanOrEqual(0);
  });

  it('names unknown references', () => {
    expect(() => parsePolicy({ settings: [{ id: 's', name: 'S', scope: { kind: 'groups', groupIds: ['nope'] } }] })).toThrow(/settings.0.scope.groupIds.0/);
  });

  it('explains a setting in one line', () => {
    const p = policy([{ ...SALES_GROUP, exceptionListIds: ['private'], name: 'Sales' }]);
    const s = p.settings[0];
    if (!s) throw new Error('no setting');
    expect(explainSetting(s, p)).toBe('Records incoming calls to group Sales and outgoing calls of its active members, except numbers in list Private; both parties in one stereo file; *1 stops the recording.');
  });
});

describe('announcements and consent in the decision (C2, C3)', () => {
  it('names the announcement for the call\'s direction and the IVR for incoming calls only', () => {
    const policy = parsePolicy({
      users: [{ id: 'u1', name: 'Ute', extensions: ['201'], directNumbers: ['+4930555201'] }],
      settings: [{ id: 's', name: 'S', scope: { kind: 'allUsers' }, announcementIncoming: 'in-notice', announcementOutgoing: 'out-notice', consent: { mode: 'opt-out', key: '#' } }],
    });
    const compiled = compilePolicy(policy, CTX);
    const incoming = decide({ callId: 'c1', caller: '+4989123456', callee: '+4930555201', diversions: [], atMs: 0 }, compiled);
    expect(incoming).toMatchObject({ record: true, announcementId: 'in-notice', consent: { mode: 'opt-out', key: '#', timeoutMs: 5000 } });
    const outgoing = decide({ callId: 'c2', caller: '201', callee: '+4989123456', diversions: [], atMs: 0 }, compiled);
    expect(outgoing).toMatchObject({ record: true, announcementId: 'out-notice' });
    expect(outgoing.consent).toBeUndefined();
    expect(explainSetting(policy.settings[0] as Policy['settings'][number], policy)).toContain('can press # within 5 s to object');
  });
});
