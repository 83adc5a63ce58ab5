/**
 * Local or mounted directory target (F3 +): copy, fsync the file and its folder before success.
 */
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { fsyncPath } from '../common/fsync.ts';
import { dirname, join, normalize, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256File } from '../seal/index.ts';
import { runTargetTest, TargetError, type Target, type TargetTestResult } from './target.ts';

/** Configuration of a local target. */
export interface LocalTargetConfig {
  readonly kind: 'local';
  readonly path: string;
}

/** A folder on this machine (or a mounted share). */
export class LocalTarget implements Target {
  readonly kind = 'local';
  readonly #root: string;

  constructor(config: LocalTargetConfig) {
    this.#root = config.path;
  }

  #resolve(remotePath: string): string {
    const full = normalize(join(this.#root, remotePath));
    if (!full.startsWith(normalize(this.#root) + sep) && full !== normalize(this.#root)) throw new TargetError('path', `path ${remotePath} leaves the target folder`);
    return full;
  }

  async put(localPath: string, remotePath: string): Promise<void> {
    const dst = this.#resolve(remotePath);
    try {
      await mkdir(dirname(dst), { recursive: true });
    } catch (err) {
      throw new TargetError('permission', `cannot create ${dirname(dst)}: ${String(err)}`, { cause: err });
    }
    const tmp = `${dst}.part-${randomBytes(4).toString('hex')}`;
    try {
      await copyFile(localPath, tmp);
      await fsyncPath(tmp);
      await rename(tmp, dst);
      await fsyncPath(dirname(dst));
    } catch (err) {
      await rm(tmp, { force: true });
      throw new TargetError('write', `writing ${dst}: ${String(err)}`, { cause: err });
    }
  }

  async stat(remotePath: string): Promise<{ size: number } | undefined> {
    try {
      return { size: (await stat(this.#resolve(remotePath))).size };
    } catch {
      return undefined;
    }
  }

  sha256(remotePath: string): Promise<string> {
    return sha256File(this.#resolve(remotePath));
  }

  async getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void> {
    for (const i of items) await copyFile(this.#resolve(i.remote), i.local);
  }

  async remove(remotePath: string): Promise<void> {
    const path = this.#resolve(remotePath);
    try {
      await rm(path, { force: true });
      await fsyncPath(dirname(path)).catch((err: unknown) => {
        // A folder that is gone (removed by hand) holds nothing to sync.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
    } catch (err) {
      throw new TargetError('permission', `removing ${path}: ${String(err)}`, { cause: err });
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      return await readdir(this.#resolve(prefix));
    } catch {
      return [];
    }
  }

  test(): Promise<TargetTestResult> {
    return runTargetTest(this.kind, async () => {
      try {
        await stat(this.#root);
      } catch (err) {
        throw new TargetError('path', `folder ${this.#root} does not exist`, { cause: err });
      }
      const name = `.callseal-test-${randomBytes(4).toString('hex')}`;
      const local = join(this.#root, `${name}.src`);
      try {
        await writeFile(local, 'callseal target test\n');
      } catch (err) {
        throw new TargetError('permission', `cannot write in ${this.#root}`, { cause: err });
      }
      await this.put(local, name);
      await rm(local, { force: true });
      await rm(this.#resolve(name), { force: true });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
