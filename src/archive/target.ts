/**
 * The storage target plug-in interface (F3) and the errors a target reports. A target knows
 * nothing of SIP or recordings: it stores files under paths and reads them back.
 */
import { CallsealError } from '../common/errors.ts';

/** What failed, so an admin knows where to look (F3 "test" action). */
export type TargetStage = 'config' | 'dns' | 'connect' | 'auth' | 'hostkey' | 'permission' | 'path' | 'write' | 'verify';

/** A target operation failed at a stage. */
export class TargetError extends CallsealError {
  readonly stage: TargetStage;
  constructor(stage: TargetStage, message: string, options?: { cause?: unknown }) {
    super('CS_ARCHIVE_TARGET', `[${stage}] ${message}`, options);
    this.stage = stage;
  }
}

/** Result of `test()`. */
export interface TargetTestResult {
  readonly ok: boolean;
  readonly stage?: TargetStage;
  readonly message: string;
  readonly durationMs: number;
}

/** A storage target. Paths are relative to the target's root and use `/`. */
export interface Target {
  readonly kind: string;
  /** Writes a test file and removes it; reports exactly what failed. */
  test(): Promise<TargetTestResult>;
  /** Stores a local file at `remotePath`, creating folders; idempotent (overwrites the same name). */
  put(localPath: string, remotePath: string): Promise<void>;
  /** Size of a stored file, or undefined when it is not there. */
  stat(remotePath: string): Promise<{ size: number } | undefined>;
  /** SHA-256 of a stored file, read back through the protocol. */
  sha256(remotePath: string): Promise<string>;
  /** Names of files under a folder. */
  list(prefix: string): Promise<string[]>;
  /** Copies stored files to local paths (the recording browser's access to archived recordings). */
  getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void>;
  close(): Promise<void>;
  /** Optional batch forms, for protocols where each call costs a login (SMB through smbclient). */
  putMany?(items: readonly { readonly local: string; readonly remote: string }[]): Promise<void>;
  statMany?(remotes: readonly string[]): Promise<Map<string, number | undefined>>;
  sha256Many?(remotes: readonly string[]): Promise<Map<string, string>>;
  /**
   * Removes a stored file (retention, F6). A file that is not there is no error: removal is
   * idempotent, so a retried deletion never fails on what an earlier attempt already removed. A
   * target that refuses (an object still under WORM retention or legal hold) throws; the deletion
   * is retried later.
   */
  remove?(remotePath: string): Promise<void>;
  /** Removes several files at once, where each call costs a login (SMB). */
  removeMany?(remotes: readonly string[]): Promise<void>;
  /** Object-lock targets (WORM): the stored file cannot be changed or removed before `retainUntilMs`. */
  setRetention?(remotePath: string, retainUntilMs: number): Promise<void>;
  /** Object-lock targets: sets or clears a legal hold on a stored file. */
  setLegalHold?(remotePath: string, hold: boolean): Promise<void>;
}

/** Batch operations on any target: its own batch forms, or one call per file. */
export const batch = {
  async put(t: Target, items: readonly { readonly local: string; readonly remote: string }[]): Promise<void> {
    if (items.length === 0) return;
    if (t.putMany) {
      await t.putMany(items);
      return;
    }
    for (const i of items) await t.put(i.local, i.remote);
  },
  async stat(t: Target, remotes: readonly string[]): Promise<Map<string, number | undefined>> {
    if (t.statMany) return t.statMany(remotes);
    const out = new Map<string, number | undefined>();
    for (const r of remotes) out.set(r, (await t.stat(r))?.size);
    return out;
  },
  async sha256(t: Target, remotes: readonly string[]): Promise<Map<string, string>> {
    if (remotes.length === 0) return new Map();
    if (t.sha256Many) return t.sha256Many(remotes);
    const out = new Map<string, string>();
    for (const r of remotes) out.set(r, await t.sha256(r));
    return out;
  },
  async remove(t: Target, remotes: readonly string[]): Promise<void> {
    if (remotes.length === 0) return;
    if (t.removeMany) {
      await t.removeMany(remotes);
      return;
    }
    if (!t.remove) throw new TargetError('config', `a ${t.kind} target cannot remove files`);
    for (const r of remotes) await t.remove(r);
  },
};

/** Runs a test write/remove cycle through a target's own operations. */
export async function runTargetTest(kind: string, writeAndRemove: () => Promise<void>): Promise<TargetTestResult> {
  const start = performance.now();
  try {
    await writeAndRemove();
    return { ok: true, message: `${kind}: test passed`, durationMs: Math.round(performance.now() - start) };
  } catch (err) {
    const stage = err instanceof TargetError ? err.stage : 'write';
    return { ok: false, stage, message: err instanceof Error ? err.message : String(err), durationMs: Math.round(performance.now() - start) };
  }
}
