/**
 * The API bearer token (admin access for scripts): `CALLSEAL_API_TOKEN`, or `secret/api-token`
 * under the home folder, created on the first start with mode 0600.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** The API bearer token: CALLSEAL_API_TOKEN, or secret/api-token (created with mode 0600). */
export function apiToken(home: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env['CALLSEAL_API_TOKEN'];
  if (given !== undefined && given !== '') return given;
  const dir = join(home, 'secret');
  const file = join(dir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
