/**
 * File modes (invariant 4): recordings, spool, database (with -wal and -shm), keys and every other
 * file callseal writes under CALLSEAL_HOME are for its user only, even when it is started with
 * umask 000. The real CLI records a real call from sipp; `find` and `stat` judge the modes, during
 * the call (spool), after sealing (database in WAL mode) and after shutdown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata, runSipp, siprecScenario } from '../helpers/sipp.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';
import { writeRtpPcap } from '../helpers/pcap.ts';

/** Written by the test helper, not by callseal. */
const HARNESS_FILES = new Set(['test-config.json']);

let cs: CallsealProcess | undefined;
let savedUmask = 0o022;
beforeAll(() => {
  // The child inherits the umask; vitest runs each test file in its own process (pool: forks).
  savedUmask = process.umask(0o000);
});
afterAll(() => {
  process.umask(savedUmask);
});
afterEach(async () => {
  await cs?.stop();
  cs = undefined;
});

interface Entry {
  readonly mode: number;
  readonly kind: 'file' | 'dir' | 'other';
  readonly path: string;
}

/** Every file and folder under `home`, as `stat` sees it. */
function modes(home: string): Entry[] {
  const out = run('find', [home, '-mindepth', '1', '-exec', 'stat', '-c', '%a|%F|%n', '{}', '+']);
  return out.trim().split('\n').filter(Boolean).map((line): Entry => {
    const [mode = '', kind = '', ...rest] = line.split('|');
    const path = relative(home, rest.join('|'));
    return { mode: parseInt(mode, 8), kind: kind.includes('directory') ? 'dir' : kind.includes('regular') ? 'file' : 'other', path };
  }).filter((e) => !HARNESS_FILES.has(e.path));
}

/** Files at most 0640 (no group write, nothing for others), folders at most 0750. */
function tooOpen(entries: readonly Entry[]): string[] {
  return entries
    .filter((e) => (e.kind === 'dir' ? (e.mode & 0o027) !== 0 : (e.mode & 0o037) !== 0))
    .map((e) => `${e.mode.toString(8).padStart(4, '0')} ${e.kind} ${e.path}`);
}

describe('file modes under CALLSEAL_HOME with umask 000', () => {
  it('records a call and leaves no file group-writable or readable by others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callseal-perms-'));
    cs = await startCallseal();
    const home = cs.home;
    const pcap = join(dir, 'tones.pcap');
    const { durationMs } = writeRtpPcap(pcap, [
      { dstPort: 6000, payloadType: 8, ssrc: 0x11111111, audio: tone(440, 2, linearToAlaw) },
      { dstPort: 6002, payloadType: 8, ssrc: 0x22222222, audio: tone(1000, 2, linearToAlaw) },
    ]);
    const scenario = siprecScenario({ codec: 'PCMA', metadata: rsMetadata(ALICE, BOB), pcap, holdMs: durationMs + 300 });
    const call = runSipp(dir, scenario, `127.0.0.1:${cs.sipPort}`);

    await cs.waitForLog((l) => l['msg'] === 'recording started');
    await new Promise((r) => setTimeout(r, 500));
    const during = modes(home);
    expect(during.some((e) => e.path.startsWith('spool/') && e.path.endsWith('.wav')), JSON.stringify(during)).toBe(true);
    expect(tooOpen(during)).toEqual([]);

    const result = await call;
    expect(result.code, `${result.stdout}\n${result.stderr}\n${result.errors}`).toBe(0);
    await cs.waitForLog((l) => l['msg'] === 'recording finished');
    const sealed = modes(home);
    for (const suffix of ['.wav', '_info.txt', '_hash.txt', '_metadata-v1.xml', 'callseal.db', 'callseal.db-wal', 'callseal.db-shm']) {
      expect(sealed.some((e) => e.path.endsWith(suffix)), `${suffix} in ${JSON.stringify(sealed.map((e) => e.path))}`).toBe(true);
    }
    expect(sealed.some((e) => e.path.startsWith('keys/')), 'keys').toBe(true);
    expect(tooOpen(sealed)).toEqual([]);

    expect(await cs.stop()).toBe(0);
    expect(tooOpen(modes(home))).toEqual([]);
  });
});
