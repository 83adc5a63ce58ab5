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

/** A recording setting (A1-A8, B1, B6). */
export const settingSchema = z.object({
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
  /** Slots filled by later features. */
  announcementIds: z.array(id).max(20).default([]),
  targetIds: z.array(id).max(50).default([]),
  /**
   * F6: how long a recording of this setting is kept, from its start: `retentionYears` calendar
   * years plus `retentionDays` days. Storage targets with a retention of their own (S3 Object
   * Lock) lock each copy until then. 10 years covers MiFID II art. 16(7) (5, or 7 on request) and
   * WpHG §83(8) with room to spare.
   */
  retentionYears: z.number().int().min(0).max(100).default(10),
  retentionDays: z.number().int().min(0).max(36_500).default(0),
}).strict();

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
export type Scope = z.infer<typeof scopeSchema>;
export type Policy = z.infer<typeof policySchema>;

/** The default policy of a fresh installation: record every call. */
export const DEFAULT_POLICY: Policy = {
  users: [], groups: [], internalPatterns: [], exceptionLists: [],
  settings: [{
    id: 'record-all', name: 'Record all calls', enabled: true, scope: { kind: 'all' }, direction: 'both',
    directCallsToActiveMembers: false, excludeInternal: false, exceptionListIds: [], channels: 'stereo', stopCode: '', announcementIds: [], targetIds: [],
    retentionYears: 10, retentionDays: 0,
  }],
};

/** A setting's retention (F6). */
export interface Retention {
  readonly years: number;
  readonly days: number;
}

/** The retention of a setting without one of its own (older spools and policies). */
export const DEFAULT_RETENTION: Retention = { years: 10, days: 0 };

/**
 * The end of a recording's retention: its start plus whole calendar years (in UTC; 29 February
 * moves to 1 March, never earlier) plus days.
 */
export function retentionEndMs(startMs: number, r: Retention): number {
  const d = new Date(startMs);
  const shifted = Date.UTC(d.getUTCFullYear() + r.years, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return shifted + r.days * 86_400_000;
}
