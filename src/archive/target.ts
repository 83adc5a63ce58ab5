/**
 * The storage target plug-in interface (F3) and the errors a target reports. A target knows
 * nothing of SIP or recordings: it stores files under paths and reads them back.
 */
import { CallsealError } from '../common/errors.ts';

/** What failed, so an admin knows where to look (F3 "test" action). */
export type TargetStage = 'config' | 'dns' | 'connect' | 'auth' | 'hostkey' | 'permission' | 'path' | 'write' | 'verify' | 'locked';

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

/** How a new copy is to be locked, on targets with a retention of their own (F6). */
export interface PutOptions {
  /** End of the recording's retention (ms since epoch): the copy cannot be deleted before. */
  readonly retainUntilMs?: number | undefined;
  /** The recording is under legal hold: the copy cannot be deleted until the hold is released. */
  readonly legalHold?: boolean | undefined;
}

/** Which stored version an operation applies to (versioned object stores). */
export interface VersionOptions {
  /** One version; without it, every version of the path. */
  readonly versionId?: string | undefined;
  /** S3 GOVERNANCE mode: act although the version is locked (needs the permission to bypass). */
  readonly bypassGovernance?: boolean | undefined;
}

/** The lock of one stored copy as the target reports it. */
export interface LockState {
  /** COMPLIANCE and GOVERNANCE as in S3 Object Lock; `label` a tenant retention label (OneDrive). */
  readonly mode: 'COMPLIANCE' | 'GOVERNANCE' | 'label' | 'none';
  readonly retainUntilMs: number | undefined;
  readonly legalHold: boolean;
  readonly versionId?: string;
  /** The retention label's name (mode `label`). */
  readonly label?: string;
  /** Whether nobody, not even an administrator of the storage, can delete the copy before it ends. */
  readonly worm: boolean;
}

/**
 * A storage target. Paths are relative to the target's root and use `/`.
 *
 * The optional `remove`, `setRetention`, `setLegalHold` and `describeLock` are there on targets
 * that can do them; retention code checks for them. A refusal because a copy is locked (retention
 * or legal hold) is a {@link TargetError} with stage `locked`.
 */
export interface Target {
  readonly kind: string;
  /** Writes a test file and removes it; reports exactly what failed. */
  test(): Promise<TargetTestResult>;
  /**
   * Stores a local file at `remotePath`, creating folders; idempotent (overwrites the same name,
   * or adds a version on a versioned store). Targets without locks ignore `options`.
   */
  put(localPath: string, remotePath: string, options?: PutOptions): Promise<void>;
  /** Size of a stored file, or undefined when it is not there. */
  stat(remotePath: string): Promise<{ size: number } | undefined>;
  /** SHA-256 of a stored file, read back through the protocol. */
  sha256(remotePath: string): Promise<string>;
  /** Names of files under a folder. */
  list(prefix: string): Promise<string[]>;
  /** Copies stored files to local paths (the recording browser's access to archived recordings). */
  getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void>;
  close(): Promise<void>;
  /**
   * Deletes a stored copy for good (every version unless one is named; retention, F6). A file that
   * is not there is no error, so a retried deletion never fails on what an earlier attempt removed;
   * a target that refuses (a version still under WORM retention or legal hold) throws `locked`.
   */
  remove?(remotePath: string, options?: VersionOptions): Promise<void>;
  /** Sets the retention end of a stored copy; shortening a COMPLIANCE lock is refused (`locked`). */
  setRetention?(remotePath: string, retainUntilMs: number, options?: VersionOptions): Promise<void>;
  /** Places (`on`) or releases a legal hold on a stored copy. */
  setLegalHold?(remotePath: string, on: boolean, options?: VersionOptions): Promise<void>;
  /** The lock of a stored copy, or undefined when it is not there. */
  describeLock?(remotePath: string, options?: VersionOptions): Promise<LockState | undefined>;
  /**
   * Optional batch forms, for protocols where each call costs a login (SMB through smbclient) or
   * that gain from requests in parallel (S3). Targets with locks honour each item's `options`.
   */
  putMany?(items: readonly { readonly local: string; readonly remote: string; readonly options?: PutOptions | undefined }[]): Promise<void>;
  statMany?(remotes: readonly string[]): Promise<Map<string, number | undefined>>;
  sha256Many?(remotes: readonly string[]): Promise<Map<string, string>>;
  /** Removes several files at once, where each call costs a login (SMB). */
  removeMany?(remotes: readonly string[]): Promise<void>;
}

/** Batch operations on any target: its own batch forms, or one call per file. */
export const batch = {
  async put(t: Target, items: readonly { readonly local: string; readonly remote: string; readonly options?: PutOptions | undefined }[]): Promise<void> {
    if (items.length === 0) return;
    if (t.putMany) {
      await t.putMany(items);
      return;
    }
    for (const i of items) await t.put(i.local, i.remote, i.options);
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
