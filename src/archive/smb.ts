/**
 * SMB/CIFS target (F3) through Samba's own `smbclient` (Debian package `smbclient`): SMB2/3 with
 * NTLMv2 against Samba's defaults. No npm SMB client works unmodified against Samba 4.17 (NTLMv1
 * only, OpenSSL failures, or silently corrupted reads on STATUS_PENDING; see TEST-SERVERS.md), so
 * callseal drives smbclient with the credentials in a 0600 auth file (never in argv) and judges
 * success by `NT_STATUS_` in its output, not by its exit code. Verification streams the file back
 * (`get f -`) through SHA-256.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { runTargetTest, TargetError, type Target, type TargetStage, type TargetTestResult } from './target.ts';

/** Configuration of an SMB target. */
export interface SmbTargetConfig {
  readonly kind: 'smb';
  readonly host: string;
  readonly port: number;
  readonly share: string;
  readonly username: string;
  readonly password: string;
  readonly domain?: string | undefined;
  readonly folder: string;
}

/** Statuses that are not failures for the command that caused them. */
const HARMLESS = /NT_STATUS_OBJECT_NAME_COLLISION/;

function stageOf(text: string): TargetStage {
  if (/NT_STATUS_(LOGON_FAILURE|ACCOUNT_|WRONG_PASSWORD)/.test(text)) return 'auth';
  if (/NT_STATUS_ACCESS_DENIED|NT_STATUS_BAD_NETWORK_NAME/.test(text)) return 'permission';
  if (/NT_STATUS_(CONNECTION_REFUSED|IO_TIMEOUT|HOST_UNREACHABLE|NETWORK_UNREACHABLE)|Connection to .* failed/.test(text)) return 'connect';
  if (/NT_STATUS_(OBJECT_PATH_NOT_FOUND|OBJECT_NAME_NOT_FOUND|NO_SUCH_FILE)/.test(text)) return 'path';
  if (/not known|NT_STATUS_UNSUCCESSFUL|resolve/i.test(text)) return 'dns';
  return 'write';
}

function quote(p: string): string {
  if (/["\n\r;]/.test(p)) throw new TargetError('path', `path not allowed for SMB: ${p}`);
  return `"${p}"`;
}

/** A Windows or Samba share. */
export class SmbTarget implements Target {
  readonly kind = 'smb';
  readonly #c: SmbTargetConfig;
  readonly #authDir: string;
  readonly #authFile: string;

  constructor(config: SmbTargetConfig) {
    this.#c = config;
    this.#authDir = mkdtempSync(join(tmpdir(), 'callseal-smb-'));
    this.#authFile = join(this.#authDir, 'auth');
    writeFileSync(this.#authFile, `username = ${config.username}\npassword = ${config.password}\n${config.domain ? `domain = ${config.domain}\n` : ''}`, { mode: 0o600 });
  }

  #path(remotePath: string): string {
    const p = posix.normalize(posix.join(this.#c.folder || '.', remotePath));
    if (p.startsWith('..') || p.startsWith('/')) throw new TargetError('path', `path ${remotePath} leaves the target folder`);
    return p;
  }

  /** Runs smbclient commands; resolves with stdout bytes, rejects on any NT_STATUS_ failure. */
  #smb(commands: string, stageHint: TargetStage, stdoutData = false, alsoHarmless?: RegExp): Promise<Buffer> {
    const args = [`//${this.#c.host}/${this.#c.share}`, '-p', String(this.#c.port), '-A', this.#authFile, '-c', commands];
    return new Promise((resolve, reject) => {
      const child = spawn('smbclient', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out.push(d); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('error', (e) => { reject(new TargetError('config', `smbclient cannot run: ${e.message}`, { cause: e })); });
      child.on('close', (code) => {
        const stdout = Buffer.concat(out);
        const text = `${err}\n${stdoutData ? '' : stdout.toString()}`;
        const failures = text.split('\n').filter((l) => /NT_STATUS_/.test(l) && !HARMLESS.test(l) && !(alsoHarmless?.test(l) ?? false));
        if (failures.length > 0 || (code !== 0 && !stdoutData && text.trim() !== '' && !/NT_STATUS_/.test(text) && /failed/i.test(text))) {
          const stage = stageOf(failures.join(' ') || text);
          reject(new TargetError(stage === 'write' ? stageHint : stage, `smbclient: ${(failures[0] ?? text).trim().slice(0, 300)}`));
          return;
        }
        if (code !== 0 && stdoutData) {
          reject(new TargetError(stageHint, `smbclient exited with ${String(code)}: ${err.trim().slice(0, 300)}`));
          return;
        }
        resolve(stdout);
      });
    });
  }

  #mkdirs(dir: string): string {
    const parts = dir.split('/').filter((x) => x && x !== '.');
    return parts.map((_, i) => `mkdir ${quote(parts.slice(0, i + 1).join('/'))}`).join('; ');
  }

  async put(localPath: string, remotePath: string): Promise<void> {
    const dst = this.#path(remotePath);
    const dir = posix.dirname(dst);
    const mk = this.#mkdirs(dir);
    await this.#smb(`${mk ? `${mk}; ` : ''}put ${quote(localPath)} ${quote(dst)}`, 'write');
  }

  async stat(remotePath: string): Promise<{ size: number } | undefined> {
    try {
      const out = (await this.#smb(`allinfo ${quote(this.#path(remotePath))}`, 'path')).toString();
      const m = /stream: \[::\$DATA\], (\d+) bytes/.exec(out);
      return m?.[1] ? { size: Number(m[1]) } : undefined;
    } catch (err) {
      if (err instanceof TargetError && err.stage === 'path') return undefined;
      throw err;
    }
  }

  async sha256(remotePath: string): Promise<string> {
    const data = await this.#smb(`get ${quote(this.#path(remotePath))} -`, 'verify', true);
    return createHash('sha256').update(data).digest('hex');
  }

  async list(prefix: string): Promise<string[]> {
    const out = (await this.#smb(`ls ${quote(`${this.#path(prefix)}/*`)}`, 'path')).toString();
    return out.split('\n').map((l) => /^\s{2}(\S.*?)\s+[ADHNRS]*\s+\d+\s+\w{3} \w{3}/.exec(l)?.[1]).filter((n): n is string => n !== undefined && n !== '.' && n !== '..');
  }

  remove(remotePath: string): Promise<void> {
    return this.removeMany([remotePath]);
  }

  /**
   * Removes files in one session. smbclient goes on after a failed command, so each missing
   * file's NT_STATUS_OBJECT_NAME_NOT_FOUND (already removed) is harmless here; any other status fails.
   */
  async removeMany(remotes: readonly string[]): Promise<void> {
    if (remotes.length === 0) return;
    await this.#smb(remotes.map((r) => `del ${quote(this.#path(r))}`).join('; '), 'permission', false, /NT_STATUS_(OBJECT_NAME_NOT_FOUND|NO_SUCH_FILE|OBJECT_PATH_NOT_FOUND)/);
  }

  test(): Promise<TargetTestResult> {
    return runTargetTest(this.kind, async () => {
      const local = join(this.#authDir, 'test.txt');
      writeFileSync(local, 'callseal target test\n');
      const name = this.#path(`.callseal-test-${randomBytes(4).toString('hex')}`);
      const mk = this.#mkdirs(posix.dirname(name));
      await this.#smb(`${mk ? `${mk}; ` : ''}put ${quote(local)} ${quote(name)}; del ${quote(name)}`, 'permission');
    });
  }

  /** All files in one smbclient session. */
  async putMany(items: readonly { readonly local: string; readonly remote: string }[]): Promise<void> {
    const dirs = new Set<string>();
    const cmds: string[] = [];
    for (const i of items) {
      const dst = this.#path(i.remote);
      const dir = posix.dirname(dst);
      if (!dirs.has(dir)) {
        dirs.add(dir);
        const mk = this.#mkdirs(dir);
        if (mk) cmds.push(mk);
      }
      cmds.push(`put ${quote(i.local)} ${quote(dst)}`);
    }
    if (cmds.length > 0) await this.#smb(cmds.join('; '), 'write');
  }

  /** Sizes from one `allinfo` per file, all in one session. */
  async statMany(remotes: readonly string[]): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    if (remotes.length === 0) return out;
    const dirs = new Map<string, string[]>();
    for (const r of remotes) {
      const p = this.#path(r);
      dirs.set(posix.dirname(p), [...(dirs.get(posix.dirname(p)) ?? []), r]);
    }
    for (const [dir, rs] of dirs) {
      let listing = '';
      try {
        listing = (await this.#smb(`ls ${quote(`${dir}/*`)}`, 'path')).toString();
      } catch (err) {
        if (!(err instanceof TargetError && err.stage === 'path')) throw err;
      }
      for (const r of rs) {
        const name = posix.basename(this.#path(r));
        const line = listing.split('\n').find((l) => l.trimStart().startsWith(`${name} `));
        const m = line ? /\s(\d+)\s+\w{3} \w{3}\s/.exec(line.slice(line.indexOf(name) + name.length)) : undefined;
        out.set(r, m?.[1] ? Number(m[1]) : undefined);
      }
    }
    return out;
  }

  /** Copies files to local paths in one session. */
  async getMany(items: readonly { readonly remote: string; readonly local: string }[]): Promise<void> {
    if (items.length === 0) return;
    await this.#smb(items.map((i) => `get ${quote(this.#path(i.remote))} ${quote(i.local)}`).join('; '), 'path');
  }

  /** Reads the files back in one session into a private folder and hashes them there. */
  async sha256Many(remotes: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (remotes.length === 0) return out;
    const dir = mkdtempSync(join(this.#authDir, 'verify-'));
    try {
      await this.#smb(remotes.map((r, i) => `get ${quote(this.#path(r))} ${quote(join(dir, String(i)))}`).join('; '), 'verify');
      for (const [i, r] of remotes.entries()) out.set(r, createHash('sha256').update(readFileSync(join(dir, String(i)))).digest('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  }

  close(): Promise<void> {
    rmSync(this.#authDir, { recursive: true, force: true });
    return Promise.resolve();
  }
}
