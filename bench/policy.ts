/**
 * bench/policy: decisions per second with 10,000 users, 500 groups, 50 settings and 10,000
 * exception entries (numbers and regular expressions). Target: under 50 µs per decision.
 *
 * Usage: npm run bench -- policy [--decisions 200000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compilePolicy, decide, policySchema, type CallFacts } from '../src/policy/index.ts';
import { arg } from './lib/args.ts';


export function policyBench(): Record<string, number> {
  const n = arg('decisions', 200_000);
  const users = Array.from({ length: 10_000 }, (_, i) => ({
    id: `u${i}`, name: `User ${i}`, extensions: [String(10000 + i)], directNumbers: [`+4930555${String(i).padStart(5, '0')}`], mobileNumbers: [`+49170${String(i).padStart(7, '0')}`],
  }));
  const groups = Array.from({ length: 500 }, (_, g) => ({
    id: `g${g}`, name: `Group ${g}`, numbers: [`+4930777${String(g).padStart(4, '0')}`],
    members: Array.from({ length: 20 }, (_, m) => ({ userId: `u${(g * 20 + m) % 10_000}`, active: m % 3 !== 0 })),
  }));
  const exceptionLists = Array.from({ length: 10 }, (_, l) => ({
    id: `x${l}`, name: `List ${l}`,
    entries: Array.from({ length: 1000 }, (_, e) => (e % 50 === 0
      ? { kind: 'regex' as const, value: `\\+49${l}${e}[0-9]*`, comment: '' }
      : { kind: 'number' as const, value: `+4989${l}${String(e).padStart(6, '0')}`, comment: '' })),
  }));
  const settings = Array.from({ length: 50 }, (_, s) => ({
    id: `s${s}`, name: `Setting ${s}`, enabled: s % 7 !== 6,
    scope: s % 5 === 0 ? { kind: 'users' as const, userIds: Array.from({ length: 100 }, (_, k) => `u${(s * 100 + k) % 10_000}`) }
      : s % 5 === 1 ? { kind: 'patterns' as const, patterns: [`+4940${s}`, `re:\\+4941${s}[0-9]+`] }
        : { kind: 'groups' as const, groupIds: Array.from({ length: 10 }, (_, k) => `g${(s * 10 + k) % 500}`) },
    direction: (['in', 'out', 'both'] as const)[s % 3], directCallsToActiveMembers: s % 2 === 0, excludeInternal: s % 4 === 0,
    exceptionListIds: [`x${s % 10}`],
  }));
  const policy = policySchema.parse({ users, groups, exceptionLists, settings });
  let t = performance.now();
  const compiled = compilePolicy(policy);
  const compileMs = performance.now() - t;

  // A mix: external to group numbers, to personal numbers, outgoing, internal, excepted, feature codes.
  const facts: CallFacts[] = Array.from({ length: 1000 }, (_, i) => {
    const kind = i % 6;
    const ext = `+4989${i % 10}${String(i).padStart(6, '0')}`;
    const user = `+4930555${String((i * 7) % 10_000).padStart(5, '0')}`;
    const group = `+4930777${String(i % 500).padStart(4, '0')}`;
    const pairs: [string, string][] = [[ext, group], [ext, user], [user, ext], [String(10000 + (i % 10_000)), String(10000 + ((i + 1) % 10_000))], [`+4940${i % 50}123`, user], ['*21#', user]];
    const [caller, callee] = pairs[kind] ?? [ext, group];
    return { callId: `c${i}`, caller, callee, atMs: 0 };
  });
  let recorded = 0;
  for (let i = 0; i < 10_000; i++) decide(facts[i % facts.length] ?? { callId: '', caller: '', callee: '', atMs: 0 }, compiled);
  t = performance.now();
  for (let i = 0; i < n; i++) if (decide(facts[i % facts.length] ?? { callId: '', caller: '', callee: '', atMs: 0 }, compiled).record) recorded++;
  const sec = (performance.now() - t) / 1000;
  const result = {
    users: users.length, groups: groups.length, settings: settings.length,
    exceptionEntries: exceptionLists.reduce((a, l) => a + l.entries.length, 0), compileMs: Number(compileMs.toFixed(1)),
    decisions: n, decisionsPerSecond: Math.round(n / sec), usPerDecision: Number(((sec * 1e6) / n).toFixed(2)), recordedShare: Number((recorded / n).toFixed(3)),
  };
  console.log('\npolicy');
  console.log(`  policy size                  ${result.users} users, ${result.groups} groups, ${result.settings} settings, ${result.exceptionEntries} exception entries (2 % regular expressions)`);
  console.log(`  compile                      ${result.compileMs} ms (once per change)`);
  console.log(`  decisions                    ${result.decisionsPerSecond}/s, ${result.usPerDecision} µs each (target < 50 µs); ${Math.round(result.recordedShare * 100)} % recorded`);
  mkdirSync(resolve(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(resolve(import.meta.dirname, 'out/policy.json'), JSON.stringify(result, null, 2));
  return result;
}
