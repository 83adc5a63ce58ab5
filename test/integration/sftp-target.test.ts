/**
 * The SFTP target against OpenSSH's sshd: a batch goes through OpenSSH's own sftp client (key
 * targets), trusting only the pinned host key; files with names the client cannot take go
 * through ssh2. Checked on the server with sha256sum, not by callseal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { SftpTarget } from '../../src/archive/index.ts';
import { startSshd, type Sshd } from '../helpers/servers.ts';
import { run } from '../helpers/callseal.ts';

let sshd: Sshd;
let dir: string;

beforeAll(async () => {
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'callseal-sftp-'));
});
afterAll(async () => {
  await sshd.stop();
});

describe('SFTP target', () => {
  it('uploads a batch through OpenSSH sftp, replacing older copies, verified by sha256sum on the server', async () => {
    const t = new SftpTarget({ kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'batch' });
    try {
      const items = Array.from({ length: 12 }, (_, i) => {
        const local = join(dir, `20261123-1200${String(i).padStart(2, '0')}-000_+4930_+4989_x${i}.wav`);
        writeFileSync(local, randomBytes(10_000 + i));
        return { local, remote: `2026/11/23/${local.split('/').pop() ?? ''}` };
      });
      // An older, different copy of the first file is already there: it is replaced.
      await t.put(items[1]?.local ?? '', items[0]?.remote ?? '');
      await t.putMany(items);
      expect(t.lastBatchClient).toBe('openssh');
      const remoteDir = join(sshd.data, 'batch/2026/11/23');
      expect(readdirSync(remoteDir).sort()).toEqual(items.map((i) => i.remote.split('/').pop()).sort());
      const sums = items.map((i) => `${createHash('sha256').update(readFileSync(i.local)).digest('hex')}  ${i.remote.split('/').pop() ?? ''}`).join('\n');
      writeFileSync(join(remoteDir, '..', 'sums.txt'), `${sums}\n`);
      expect(run('sha256sum', ['-c', '../sums.txt'], remoteDir)).not.toMatch(/FAILED/);
      expect(await t.sha256(items[0]?.remote ?? '')).toBe(createHash('sha256').update(readFileSync(items[0]?.local ?? '')).digest('hex'));
    } finally {
      await t.close();
    }
  });

  it('takes names OpenSSH sftp would glob through ssh2', async () => {
    const t = new SftpTarget({ kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'glob' });
    try {
      const local = join(dir, 'star*1.wav');
      writeFileSync(local, 'x');
      await t.putMany([{ local, remote: 'a/star*1.wav' }]);
      expect(t.lastBatchClient).toBe('ssh2');
      expect(readdirSync(join(sshd.data, 'glob/a'))).toEqual(['star*1.wav']);
    } finally {
      await t.close();
    }
  });

  it('reports a stopped server as a connect failure', async () => {
    const t = new SftpTarget({ kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'down' });
    const local = join(dir, 'down.wav');
    writeFileSync(local, 'y');
    await t.stat('x');
    await sshd.stop();
    try {
      await expect(t.putMany([{ local, remote: 'down.wav' }, { local, remote: 'down2.wav' }])).rejects.toThrow(/\[connect\]/);
    } finally {
      await t.close();
      await sshd.start();
    }
  });
});
