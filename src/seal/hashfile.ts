/**
 * `<base>_hash.txt` (E1) in the format of `sha256sum`/`shasum -a 256`: one line per file,
 * `<64 hex>  <file name>`, so `sha256sum -c` and `shasum -a 256 -c` accept it in the folder.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ParseError } from '../common/errors.ts';

/** SHA-256 of a file, streamed (bounded memory for files of any size). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Renders the hash file for `[name, hex]` pairs. */
export function renderHashFile(entries: readonly (readonly [name: string, sha256: string])[]): string {
  for (const [name] of entries) {
    // File names come from the allowlist in recording/naming.ts; this guards the format itself.
    if (/[\r\n\\]/.test(name) || name.includes('/')) throw new ParseError('CS_SEAL_FAILED', `file name not allowed in a hash file: ${name}`);
  }
  return entries.map(([name, hex]) => `${hex}  ${name}\n`).join('');
}

/** Parses a hash file; accepts text (`  `) and binary (` *`) markers. */
export function parseHashFile(text: string): [name: string, sha256: string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m?.[1] || !m[2]) throw new ParseError('CS_SEAL_FAILED', `malformed hash file line "${line.slice(0, 100)}"`);
    out.push([m[2], m[1].toLowerCase()]);
  }
  return out;
}
