/**
 * `<base>_hash.txt` (E1) in the format of `sha256sum`/`shasum -a 256`: one line per file,
 * `<64 hex>  <file name>`, so `sha256sum -c` and `shasum -a 256 -c` accept it in the folder.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { CallsealError, ParseError } from '../common/errors.ts';

const CHUNK_BYTES = 4 * 1024 * 1024;
let shared: Buffer | undefined;

/**
 * SHA-256 of a file, read in 4 MiB chunks into one reused buffer (bounded memory for files of
 * any size, no stream overhead). Callers run one at a time (the sealer is serialized).
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const buf = shared ?? Buffer.allocUnsafe(CHUNK_BYTES);
  shared = undefined;
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
    shared = buf;
  }
  return hash.digest('hex');
}

/** Renders the hash file for `[name, hex]` pairs. */
export function renderHashFile(entries: readonly (readonly [name: string, sha256: string])[]): string {
  for (const [name] of entries) {
    // File names come from the allowlist in recording/naming.ts; this guards the format itself.
    if (/[\r\n\\]/.test(name) || name.includes('/')) throw new CallsealError('CS_SEAL_FAILED', `file name not allowed in a hash file: ${name}`);
  }
  return entries.map(([name, hex]) => `${hex}  ${name}\n`).join('');
}

/** Parses a hash file; accepts text (`  `) and binary (` *`) markers. */
export function parseHashFile(text: string): [name: string, sha256: string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m?.[1] || !m[2]) throw new ParseError('CS_SEAL_HASHFILE_INVALID', `malformed hash file line "${line.slice(0, 100)}"`);
    out.push([m[2], m[1].toLowerCase()]);
  }
  return out;
}
