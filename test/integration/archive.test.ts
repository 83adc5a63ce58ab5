/**
 * Archive against real servers on loopback: OpenSSH sshd (SFTP, host key pinned, key auth), Samba
 * smbd with its defaults (SMB through smbclient), and an SMTP server capturing alert mail.
 * A sealed recording reaches both targets, verified, and only then leaves the local disk; with the
 * SFTP server stopped, recordings stay local, jobs retry, one alert mail goes out; when it comes
 * back every file lands once, a recovery mail follows, and the local copies are deleted.
 * `sha256sum -c` and verify.sh judge the copies on the servers' disks. An auditor plays, downloads
 * and verifies a recording whose local copy is gone: callseal fetches it back, skipping a copy that
 * was tampered with on one server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { apiCall, until } from '../helpers/api.ts';
import { run, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { login } from '../helpers/web.ts';
import { startMailCatcher, startSmbd, startSshd, type MailCatcher, type Smbd, type Sshd } from '../helpers/servers.ts';
import { ALICE, BOB, listFiles, rsMetadata } from '../helpers/sipp.ts';
import { RawSrc, RtpSender } from '../helpers/src.ts';
import { linearToAlaw, tone } from '../helpers/g711.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'archive-test-token';
let cs: CallsealProcess;
let sshd: Sshd;
let smbd: Smbd;
let mail: MailCatcher;

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return apiCall(cs.httpPort, TOKEN, method, path, body);
}

async function oneCall(): Promise<void> {
  const src = await RawSrc.connect('UDP', cs.sipPort);
  try {
    const { ports } = await src.invite([{ label: '1', payloadType: 8, codec: 'PCMA' }, { label: '2', payloadType: 8, codec: 'PCMA' }], rsMetadata(ALICE, BOB));
    const a = new RtpSender(ports[0] ?? 0, 8);
    await a.play(tone(440, 0.4, linearToAlaw));
    a.close();
    await src.bye();
  } finally {
    src.close();
  }
}


const localWavs = (): string[] => listFiles(join(cs.home, 'recordings')).filter((f) => f.endsWith('.wav'));
const remoteFiles = (root: string): string[] => listFiles(root);

beforeAll(async () => {
  [sshd, smbd, mail] = await Promise.all([startSshd(), startSmbd(), startMailCatcher()]);
  cs = await startCallseal({
    env: { CALLSEAL_API_TOKEN: TOKEN },
    config: {
      archive: { retryBaseMs: 300, retryMaxMs: 1500, tickMs: 200 },
      alerts: { smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'callseal@example.test', to: ['ops@example.test'] } },
    },
  });
});
afterAll(async () => {
  await cs.stop();
  await Promise.all([sshd.stop(), smbd.stop(), mail.stop()]);
});

describe('archive to SFTP and SMB', () => {
  it('stores targets with credentials encrypted and never shown; tests report what failed', async () => {
    expect((await api('PUT', '/api/targets/sftp1', { name: 'SFTP archive', pathTemplate: 'calls/$Y/$M/$D', config: { kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'archive' } })).status).toBe(200);
    expect((await api('PUT', '/api/targets/smb1', { name: 'SMB share', config: { kind: 'smb', host: '127.0.0.1', port: smbd.port, share: 'share', username: 'tester', password: 'Secret123', folder: 'recordings' } })).status).toBe(200);
    expect((await api('PUT', '/api/targets/badkey', { name: 'wrong host key', config: { kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: `SHA256:${'A'.repeat(43)}` } })).status).toBe(200);
    expect((await api('PUT', '/api/targets/badpass', { name: 'wrong password', config: { kind: 'smb', host: '127.0.0.1', port: smbd.port, share: 'share', username: 'tester', password: 'nope' } })).status).toBe(200);
    const list = JSON.stringify((await api('GET', '/api/targets')).json);
    expect(list).not.toContain('Secret123');
    expect(list).not.toContain('PRIVATE KEY');
    expect(list).toContain('(set)');
    expect((await api('POST', '/api/targets/sftp1/test')).json).toMatchObject({ ok: true });
    expect((await api('POST', '/api/targets/smb1/test')).json).toMatchObject({ ok: true });
    expect((await api('POST', '/api/targets/badkey/test')).json).toMatchObject({ ok: false, stage: 'hostkey' });
    expect((await api('POST', '/api/targets/badpass/test')).json).toMatchObject({ ok: false, stage: 'auth' });
    // A misconfigured target cannot be selected.
    const refused = await api('PUT', '/api/settings/record-all', { name: 'Record all calls', scope: { kind: 'all' }, targetIds: ['badkey'] });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toContain('misconfigured');
    expect((await api('PUT', '/api/settings/record-all', { name: 'Record all calls', scope: { kind: 'all' }, targetIds: ['sftp1', 'smb1'] })).status).toBe(200);
  });

  it('copies a sealed recording to both targets, verified, then deletes the local copy', async () => {
    await oneCall();
    await cs.waitForLog((l) => l['msg'] === 'local copy deleted: every target has a verified copy', 30_000);
    expect(localWavs()).toEqual([]);
    const sftpFiles = remoteFiles(join(sshd.data, 'archive'));
    const smbFiles = remoteFiles(join(smbd.share, 'recordings'));
    expect(sftpFiles.filter((f) => f.endsWith('.wav'))).toHaveLength(1);
    expect(smbFiles.filter((f) => f.endsWith('.wav'))).toHaveLength(1);
    expect(sftpFiles[0]).toMatch(/^calls\/\d{4}\/\d{2}\/\d{2}\//);
    for (const [root, files] of [[join(sshd.data, 'archive'), sftpFiles], [join(smbd.share, 'recordings'), smbFiles]] as const) {
      const hash = files.find((f) => f.endsWith('_hash.txt')) ?? '';
      const folder = join(root, hash, '..');
      const check = spawnSync('sha256sum', ['-c', hash.split('/').pop() ?? ''], { cwd: folder, encoding: 'utf8' });
      expect(check.status, check.stdout).toBe(0);
      const base = join(root, hash.replace(/_hash\.txt$/, ''));
      const v = spawnSync(join(ROOT, 'tools/verify.sh'), ['--cert', join(cs.home, 'recordings', 'callseal-cert.pem'), base], { encoding: 'utf8' });
      expect(v.status, v.stdout + v.stderr).toBe(0);
      expect(files.some((f) => f.endsWith('.part'))).toBe(false);
    }
  });

  it('lets an auditor play, download and verify an archived recording; a tampered archive copy is skipped', async () => {
    expect((await api('POST', '/api/accounts', { username: 'audit', displayName: 'Auditor', roles: ['auditor'], password: 'archive-auditor-1' })).status).toBe(201);
    const auditor = await login(cs.httpPort, 'audit', 'archive-auditor-1');
    const items = ((await auditor.call('GET', '/api/recordings')).json as { items: { id: string; baseName: string; local: boolean; readable: boolean }[] }).items;
    const rec = items[0];
    expect(rec).toMatchObject({ local: false, readable: true });
    const id = rec?.id ?? '';
    // The SFTP copy's metadata file is edited on the server: that copy fails verification.
    const sftpRoot = join(sshd.data, 'archive');
    const infoPath = join(sftpRoot, remoteFiles(sftpRoot).find((f) => f.endsWith('_info.txt')) ?? '');
    const saved = readFileSync(infoPath);
    appendFileSync(infoPath, 'edited: yes\n');
    try {
      const audio = await auditor.call('GET', `/api/recordings/${id}/audio`);
      expect(audio.status, audio.text).toBe(200);
      // What plays is the SMB copy, as sox decodes it from the share.
      const smbRoot = join(smbd.share, 'recordings');
      const smbWav = join(smbRoot, remoteFiles(smbRoot).find((f) => f.endsWith('.wav')) ?? '');
      const dir = mkdtempSync(join(tmpdir(), 'callseal-archived-'));
      run('sox', [smbWav, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', join(dir, 'sox.raw')]);
      expect(audio.bytes.subarray(44).equals(readFileSync(join(dir, 'sox.raw')))).toBe(true);
      const kit = await auditor.call('GET', `/api/recordings/${id}/kit.zip`);
      writeFileSync(join(dir, 'kit.zip'), kit.bytes);
      run('unzip', ['-q', 'kit.zip'], dir);
      expect(run('bash', ['verify.sh', '--cert', 'callseal-cert.pem', rec?.baseName ?? ''], dir)).toMatch(/OK/);
      expect((await auditor.call('GET', `/api/recordings/${id}/verify`)).json).toMatchObject({ ok: true, source: 'archive', signature: 'valid', matchesLog: true });
      const trail = ((await auditor.call('GET', `/api/audit?object=recording:${id}`)).json as { entries: { action: string; outcome: string; details: { targetId?: string; problem?: string } }[] }).entries;
      const fetches = trail.filter((e) => e.action === 'fetch-archive');
      expect(fetches.find((e) => e.outcome === 'failed')?.details).toMatchObject({ targetId: 'sftp1', problem: expect.stringContaining('_info.txt SHA-256 differs') as unknown });
      expect(fetches.find((e) => e.outcome === 'ok')?.details).toMatchObject({ targetId: 'smb1' });
      expect(localWavs()).toEqual([]);
    } finally {
      writeFileSync(infoPath, saved);
    }
  });

  it('keeps recordings local while SFTP is down, sends one alert, and delivers everything once when it returns', async () => {
    await sshd.stop();
    const mailsBefore = mail.messages.length;
    await oneCall();
    await oneCall();
    await until('both recordings sealed', () => cs.logs.filter((l) => l['msg'] === 'recording finished').length >= 3);
    await until('an alert mail', () => mail.messages.length > mailsBefore);
    // Several retries happen; still exactly one alert for the streak.
    await new Promise((r) => setTimeout(r, 3000));
    const alertsNow = mail.messages.slice(mailsBefore);
    expect(alertsNow).toHaveLength(1);
    expect(alertsNow[0]?.subject).toContain('target sftp1 is failing');
    expect(localWavs()).toHaveLength(2);
    const status = (await api('GET', '/api/outbox')).json as { backlog: { targetId: string; failing: number; lastError: string }[] };
    expect(status.backlog.find((b) => b.targetId === 'sftp1')).toMatchObject({ failing: expect.any(Number) as number });
    expect(status.backlog.find((b) => b.targetId === 'sftp1')?.lastError).toMatch(/connect/);

    await sshd.start();
    await until('local copies deleted', () => localWavs().length === 0, 30_000);
    await until('a recovery mail', () => mail.messages.slice(mailsBefore).some((m) => m.subject.includes('works again')));
    const sftpWavs = remoteFiles(join(sshd.data, 'archive')).filter((f) => f.endsWith('.wav'));
    const smbWavs = remoteFiles(join(smbd.share, 'recordings')).filter((f) => f.endsWith('.wav'));
    expect(sftpWavs).toHaveLength(3);
    expect(smbWavs).toHaveLength(3);
    expect(new Set(sftpWavs).size).toBe(3);
    expect(remoteFiles(join(sshd.data, 'archive')).some((f) => f.endsWith('.part'))).toBe(false);
    expect(mail.messages.slice(mailsBefore)).toHaveLength(2);
    // The chain is complete on the archive copy.
    const v = spawnSync(join(ROOT, 'bin/callseal'), ['verify', join(sshd.data, 'archive'), '--cert', join(cs.home, 'recordings', 'callseal-cert.pem')], { encoding: 'utf8' });
    expect(v.status, v.stdout).toBe(0);
    expect(existsSync(join(cs.home, 'recordings'))).toBe(true);
    expect(readdirSync(join(cs.home, 'recordings')).includes('callseal-cert.pem')).toBe(true);
  });

  it('resumes after kill -9 with a half-written copy on the target: no duplicate, no loss', async () => {
    await sshd.stop();
    await oneCall();
    await until('the copy to fail', () => cs.logs.some((l) => l['msg'] === 'archive copy failed; kept locally' && l['target'] === 'sftp1' && cs.logs.filter((x) => x['msg'] === 'recording finished').length >= 4));
    const wav = localWavs()[0] ?? '';
    expect(wav).not.toBe('');
    await cs.stop('SIGKILL');
    // What an upload cut off by the kill leaves: a truncated file under the final name and a stale temporary file.
    const remote = join(sshd.data, 'archive', 'calls', wav);
    const { mkdirSync, writeFileSync, readFileSync } = await import('node:fs');
    mkdirSync(join(remote, '..'), { recursive: true });
    const full = readFileSync(join(cs.home, 'recordings', wav));
    writeFileSync(remote, full.subarray(0, 1000));
    writeFileSync(`${remote}.part`, full.subarray(0, 500));
    await sshd.start();
    cs = await startCallseal({
      home: cs.home, env: { CALLSEAL_API_TOKEN: TOKEN },
      config: { archive: { retryBaseMs: 300, retryMaxMs: 1500, tickMs: 200 }, alerts: { smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'callseal@example.test', to: ['ops@example.test'] } } },
    });
    await until('the local copy to be deleted after the resumed upload', () => localWavs().length === 0, 30_000);
    expect(readFileSync(remote).equals(full)).toBe(true);
    const names = remoteFiles(join(sshd.data, 'archive'));
    expect(names.filter((f) => f.endsWith('.wav'))).toHaveLength(4);
    expect(names.some((f) => f.endsWith('.part'))).toBe(false);
    const v = spawnSync(join(ROOT, 'bin/callseal'), ['verify', join(sshd.data, 'archive'), '--cert', join(cs.home, 'recordings', 'callseal-cert.pem')], { encoding: 'utf8' });
    expect(v.status, v.stdout).toBe(0);
  });

  it('duplicates a target (credentials kept, still hidden, untested until tested)', async () => {
    const dup = await api('POST', '/api/targets/smb1/duplicate', { newId: 'smb2' });
    expect(dup.status).toBe(201);
    expect((await api('POST', '/api/targets/smb2/test')).json).toMatchObject({ ok: true });
    expect(JSON.stringify((await api('GET', '/api/targets')).json)).not.toContain('Secret123');
  });
});
