/**
 * Runs the benchmarks named on the command line (all when none): `npm run bench -- siprec-load`.
 * Figures and ratios are printed and written to bench/out/; nothing here asserts a timing.
 */
import { siprecLoad } from './siprec-load.ts';
import { inlineLoad } from './inline-load.ts';
import { sealBench } from './seal.ts';
import { policyBench } from './policy.ts';
import { archiveBench } from './archive.ts';
import { playbackBench } from './playback.ts';
import { webBench } from './web.ts';
import { timelineBench } from './timeline.ts';

const BENCHES: Record<string, () => Promise<unknown>> = {
  'siprec-load': siprecLoad,
  'inline-load': inlineLoad,
  seal: sealBench,
  policy: () => Promise.resolve(policyBench()),
  archive: archiveBench,
  playback: playbackBench,
  web: webBench,
  timeline: () => Promise.resolve(timelineBench()),
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d/.test(a));
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 64;
    continue;
  }
  await bench();
}
