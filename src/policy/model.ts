/**
 * The policy's data: directory (users, groups, membership, internal patterns, I3/A4), exception
 * lists (A6) and recording settings (A1-A8). Schemas (zod) validate everything that comes in
 * through the API or an import; types are derived from them.
 */
import { z } from 'zod';
import { RE2JS } from 're2js';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only');
const phone = z.string().min(1).max(64).regex(/^[+0-9*#A-Za-z@.:;=_%-]+$/, 'a number or SIP/tel URI');

/** A user: extensions, direct numbers, and mobile/home numbers used for forwarding (B4). */
export const userSchema = z.object({
  id,
  name: z.string().min(1).max(200),
  extensions: z.array(phone).max(50).default([]),
  directNumbers: z.array(phone).max(50).default([]),
  mobileNumbers: z.array(phone).max(50).default([]),
}).strict();

/** A group member with the active flag (A4: logged in to the recording group). */
export const memberSchema = z.object({ userId: id, active: z.boolean().default(true) }).strict();

/** A group: its numbers and members. */
export const groupSchema = z.object({
  id,
  name: z.string().min(1).max(200),
  numbers: z.array(phone).max(50).default([]),
  members: z.array(memberSchema).max(5000).default([]),
}).strict();

/** Checks that an expression compiles in the linear-time engine (no backreferences, no lookaround). */
export function validRegex(expr: string): string | undefined {
  try {
    RE2JS.compile(expr);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const regexString = z.string().min(1).max(500).superRefine((v, ctx) => {
  const problem = validRegex(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${problem}` });
});

/** One exception entry: a number, or a regular expression over the normalised number. */
export const exceptionEntrySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('number'), value: phone, comment: z.string().max(500).default('') }).strict(),
  z.object({ kind: z.literal('regex'), value: regexString, comment: z.string().max(500).default('') }).strict(),
]);

/** A named exception list (A6). */
export const exceptionListSchema = z.object({
  id,
  name: z.string().min(1).max(200),
  entries: z.array(exceptionEntrySchema).max(100_000).default([]),
}).strict();

/** A number pattern: an E.164 prefix (`+4930`) or `re:<expression>` matched against the whole number. */
const pattern = z.string().min(1).max(500).superRefine((v, ctx) => {
  if (v.startsWith('re:')) {
    const problem = validRegex(v.slice(3));
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${problem}` });
  } else if (!/^\+?[0-9*#]+$/.test(v)) ctx.addIssue({ code: 'custom', message: 'a number prefix like +4930, or re:<expression>' });
});

/** What a setting applies to (A2). */
export const scopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }).strict(),
  z.object({ kind: z.literal('allUsers') }).strict(),
  z.object({ kind: z.literal('groups'), groupIds: z.array(id).min(1).max(500) }).strict(),
  z.object({ kind: z.literal('users'), userIds: z.array(id).min(1).max(10_000) }).strict(),
  z.object({ kind: z.literal('patterns'), patterns: z.array(pattern).min(1).max(1000) }).strict(),
]);

/**
 * How long the setting's recordings are kept (F6): calendar years and/or days from the start of the
 * call, or `keep` (callseal never deletes them). WpHG §83(8) asks for 5 years, 7 on request.
 */
export const retentionSchema = z.union([
  z.literal('keep'),
  z.object({ years: z.number().int().min(1).max(100).optional(), days: z.number().int().min(1).max(36_500).optional() }).strict()
    .refine((r) => r.years !== undefined || r.days !== undefined, 'give years or days, or "keep"'),
]);

/** One DTMF key the caller presses in the consent IVR. */
const dtmfKey = z.string().regex(/^[0-9*#]$/, 'one DTMF key: 0-9, * or #');

/**
 * The consent IVR of incoming calls (C3): after the announcement the caller has `timeoutMs` to
 * press `key`. `opt-in`: the key records, no key does not. `opt-out`: the key stops the recording,
 * no key records. `no-choice`: always recorded. `none`: no IVR. The confirmation announcements
 * ("this call is / is not recorded") are optional.
 */
export const consentSchema = z.object({
  mode: z.enum(['none', 'opt-in', 'opt-out', 'no-choice']).default('none'),
  key: dtmfKey.default('1'),
  timeoutMs: z.number().int().min(1000).max(60_000).default(5000),
  confirmRecorded: id.optional(),
  confirmNotRecorded: id.optional(),
}).strict();

/** The consent fields of a setting with no IVR. */
export const NO_CONSENT = { mode: 'none', key: '1', timeoutMs: 5000 } as const;

/**
 * Settings stored before the announcement library had an `announcementIds` slot that nothing
 * filled; its first id, if any, becomes the incoming announcement, so an assignment is kept.
 */
function fromLegacySetting(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || !('announcementIds' in raw)) return raw;
  const { announcementIds, ...rest } = raw as Record<string, unknown>;
  const first = Array.isArray(announcementIds) && typeof announcementIds[0] === 'string' ? announcementIds[0] : undefined;
  return first !== undefined && rest['announcementIncoming'] === undefined ? { ...rest, announcementIncoming: first } : rest;
}

const settingObject = z.object({
  id,
  name: z.string().min(1).max(200),
  enabled: z.boolean().default(true),
  scope: scopeSchema,
  direction: z.enum(['in', 'out', 'both']).default('both'),
  /** A5: also incoming calls to the personal numbers of active members of the selected groups. */
  directCallsToActiveMembers: z.boolean().default(false),
  /** A7: calls from user to user are not recorded by this setting. */
  excludeInternal: z.boolean().default(false),
  exceptionListIds: z.array(id).max(100).default([]),
  channels: z.enum(['caller', 'callee', 'stereo', 'separate']).default('stereo'),
  /** B6: DTMF code the internal participant presses to stop the recording; empty disables it. */
  stopCode: z.string().max(8).regex(/^[0-9*#A-D]*$/).default('*1'),
  /** C2: announcement ids (from the library) played to the caller of incoming and of outgoing calls; null: none. */
  announcementIncoming: id.nullable().default(null),
  announcementOutgoing: id.nullable().default(null),
  /** C3: the consent IVR of incoming calls. */
  consent: consentSchema.default(NO_CONSENT),
  targetIds: z.array(id).max(50).default([]),
  /** F6: deletion after this period on every copy callseal manages; `keep` (the default) never deletes. */
  retention: retentionSchema.default('keep'),
}).strict();

/** A recording setting (A1-A8, B1, B6, C2, C3). */
export const settingSchema = z.preprocess(fromLegacySetting, settingObject);

/** Internal number patterns: prefixes or `re:` expressions of numbers that belong to the company. */
export const internalPatternsSchema = z.array(pattern).max(1000);

/** The whole policy document (import/export). */
export const policySchema = z.object({
  users: z.array(userSchema).max(100_000).default([]),
  groups: z.array(groupSchema).max(10_000).default([]),
  internalPatterns: internalPatternsSchema.default([]),
  exceptionLists: z.array(exceptionListSchema).max(1000).default([]),
  /** In evaluation order: the first enabled matching setting records (A1). */
  settings: z.array(settingSchema).max(1000).default([]),
}).strict();

export type User = z.infer<typeof userSchema>;
export type Group = z.infer<typeof groupSchema>;
export type ExceptionList = z.infer<typeof exceptionListSchema>;
export type Setting = z.infer<typeof settingSchema>;
export type ConsentSetting = z.infer<typeof consentSchema>;
export type RetentionSetting = z.infer<typeof retentionSchema>;
export type Scope = z.infer<typeof scopeSchema>;
export type Policy = z.infer<typeof policySchema>;

/** The default policy of a fresh installation: record every call. */
export const DEFAULT_POLICY: Policy = {
  users: [], groups: [], internalPatterns: [], exceptionLists: [],
  settings: [{
    id: 'record-all', name: 'Record all calls', enabled: true, scope: { kind: 'all' }, direction: 'both',
    directCallsToActiveMembers: false, excludeInternal: false, exceptionListIds: [], channels: 'stereo', stopCode: '',
    announcementIncoming: null, announcementOutgoing: null, consent: { ...NO_CONSENT }, targetIds: [], retention: 'keep',
  }],
};

/** Every announcement id a setting names (incoming, outgoing, confirmations). */
export function settingAnnouncementIds(s: Setting): string[] {
  const ids = [s.announcementIncoming, s.announcementOutgoing, s.consent.confirmRecorded, s.consent.confirmNotRecorded];
  return [...new Set(ids.filter((x): x is string => typeof x === 'string'))];
}
