/**
 * Encryption of credentials at rest (F5): AES-256-GCM with a key in `secret/credentials.key`
 * (created with mode 0600, kept apart from the database).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Seals and opens small JSON values. */
export class SecretBox {
  readonly #key: Buffer;

  constructor(home: string) {
    const dir = join(home, 'secret');
    const file = join(dir, 'credentials.key');
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    }
    this.#key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const data = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    return `${iv.toString('base64')}.${c.getAuthTag().toString('base64')}.${data.toString('base64')}`;
  }

  open(text: string): unknown {
    const [iv = '', tag = '', data = ''] = text.split('.');
    const d = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return JSON.parse(Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]).toString('utf8')) as unknown;
  }
}
