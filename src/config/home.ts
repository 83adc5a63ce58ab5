/**
 * Files of the installation's home folder (`CALLSEAL_HOME`) that are not configuration values:
 * the instance id, created on the first start, and files that the configuration names (TLS
 * certificates and keys), read once at start so a bad path stops start-up naming its field.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError, errorMessage } from '../common/errors.ts';

/** The instance id, created on first start. */
export async function instanceId(home: string): Promise<string> {
  const file = join(home, 'instance-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  await mkdir(home, { recursive: true });
  await writeFile(file, `${id}\n`, { flag: 'wx' });
  return id;
}

/** Reads a file named in the configuration; a failure names the field. */
export function readConfiguredFile(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('CS_CONFIG_INVALID', [{ path: field, message: `cannot read ${path}: ${errorMessage(err)}` }], { cause: err });
  }
}
