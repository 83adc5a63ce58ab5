/**
 * Throwaway real servers on loopback for archive tests (recipes of TEST-SERVERS.md): OpenSSH's
 * sshd (SFTP), Samba's smbd (SMB), and an SMTP server (the smtp-server package) that captures mail.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { freePort } from './callseal.ts';

async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); r(true); });
      s.on('error', () => { r(false); });
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Process ids of every descendant of `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => { for (const c of children.get(p) ?? []) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

/** A running sshd with one key-authenticated user (root) chrooted by ForceCommand to `data`. */
export interface Sshd {
  readonly port: number;
  readonly data: string;
  readonly clientKey: string;
  readonly hostKeySha256: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<Sshd> {
  const d = mkdtempSync(join(tmpdir(), 'callseal-sshd-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'client')]);
  writeFileSync(join(d, 'authorized_keys'), readFileSync(join(d, 'client.pub')));
  mkdirSync(join(d, 'data'));
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  writeFileSync(join(d, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${d}/host`, `PidFile ${d}/sshd.pid`, `AuthorizedKeysFile ${d}/authorized_keys`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
    'Subsystem sftp internal-sftp', `ForceCommand internal-sftp -d ${d}/data`, '',
  ].join('\n'));
  const pub = readFileSync(join(d, 'host.pub'), 'utf8').split(' ')[1] ?? '';
  const hostKeySha256 = `SHA256:${createHash('sha256').update(Buffer.from(pub, 'base64')).digest('base64').replace(/=+$/, '')}`;
  let child: ChildProcess | undefined;
  const sshd: Sshd = {
    port, data: join(d, 'data'), clientKey: readFileSync(join(d, 'client'), 'utf8'), hostKeySha256,
    start: async () => {
      // Own process group, so stopping it also ends the sessions already open (a real outage).
      child = spawn('/usr/sbin/sshd', ['-f', join(d, 'sshd_config'), '-D', '-e'], { stdio: 'ignore', detached: true });
      await waitPort(port);
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c?.pid || c.exitCode !== null) return;
      const exited = new Promise((r) => { c.on('exit', r); });
      // sshd puts each session in its own session (setsid): end the whole process tree.
      for (const pid of [...descendants(c.pid), c.pid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await exited;
    },
  };
  await sshd.start();
  return sshd;
}

/** A running smbd with share `share` for user `tester` / `Secret123`; `start` runs it again after `stop` (an outage). */
export interface Smbd {
  readonly port: number;
  readonly share: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSmbd(): Promise<Smbd> {
  const d = mkdtempSync(join(tmpdir(), 'callseal-smbd-'));
  for (const sub of ['private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'share']) mkdirSync(join(d, sub));
  const port = await freePort();
  writeFileSync(join(d, 'smb.conf'), `[global]
server role = standalone server
disable netbios = yes
smb ports = ${port}
interfaces = 127.0.0.1
bind interfaces only = yes
private dir = ${d}/private
lock directory = ${d}/lock
state directory = ${d}/state
cache directory = ${d}/cache
pid directory = ${d}/pid
ncalrpc dir = ${d}/ncalrpc
log file = ${d}/log.%m
passdb backend = tdbsam:${d}/private/passdb.tdb
username map = ${d}/usermap
rpc start on demand helpers = no
load printers = no
printcap name = /dev/null
disable spoolss = yes
[share]
path = ${d}/share
read only = no
valid users = root
`);
  writeFileSync(join(d, 'usermap'), 'root = tester\n');
  execFileSync('smbpasswd', ['-c', join(d, 'smb.conf'), '-s', '-a', 'root'], { input: 'Secret123\nSecret123\n' });
  let child: ChildProcess | undefined;
  const smbd: Smbd = {
    port, share: join(d, 'share'),
    start: async () => {
      // detached + --no-process-group: smbd must not signal the test runner's process group (TEST-SERVERS.md).
      child = spawn('smbd', ['--foreground', '--no-process-group', '--debug-stdout', '-s', join(d, 'smb.conf')], { detached: true, stdio: 'ignore' });
      await waitPort(port);
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c?.pid || c.exitCode !== null) return;
      const exited = new Promise((r) => { c.on('exit', r); });
      c.kill('SIGTERM');
      await exited;
    },
  };
  await smbd.start();
  return smbd;
}

/** An SMTP server that keeps every message. */
export interface MailCatcher {
  readonly port: number;
  readonly messages: { subject: string; to: string; text: string }[];
  stop(): Promise<void>;
}

export async function startMailCatcher(): Promise<MailCatcher> {
  const messages: MailCatcher['messages'] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => { raw += c.toString(); });
      stream.on('end', () => {
        messages.push({ subject: /^Subject: (.*)$/m.exec(raw.replace(/\r?\n[ \t]+/g, ' '))?.[1]?.trim() ?? '', to: session.envelope.rcptTo.map((r) => r.address).join(','), text: raw });
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((r) => { server.listen(port, '127.0.0.1', () => { r(); }); });
  return { port, messages, stop: () => new Promise<void>((r) => { server.close(() => { r(); }); }) };
}

/** A throwaway PostgreSQL (trust auth) on loopback. */
export interface Postgres {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  return `/usr/lib/postgresql/${versions[versions.length - 1] ?? '15'}/bin`;
}

export async function startPostgres(): Promise<Postgres> {
  const t = mkdtempSync(join(tmpdir(), 'callseal-pg-'));
  execFileSync('chmod', ['755', t]);
  execFileSync('chown', ['postgres:postgres', t]);
  const bin = pgBin();
  execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/initdb`, '-D', `${t}/data`, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'], { stdio: 'ignore' });
  const port = await freePort();
  const pg: Postgres = {
    port,
    start: async () => {
      execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/pg_ctl`, '-D', `${t}/data`, '-l', `${t}/server.log`, '-w', '-o', `-p ${port} -k ${t} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'], { stdio: 'ignore' });
      await waitPort(port);
    },
    stop: () => {
      execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/pg_ctl`, '-D', `${t}/data`, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore' });
      return Promise.resolve();
    },
  };
  await pg.start();
  return pg;
}

/** A throwaway MariaDB (root without password) on loopback. */
export interface Mariadb {
  readonly port: number;
  readonly socket: string;
  stop(): Promise<void>;
}

export async function startMariadb(): Promise<Mariadb> {
  const t = mkdtempSync(join(tmpdir(), 'callseal-my-'));
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${t}/data`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' });
  const port = await freePort();
  const socket = `${t}/mysqld.sock`;
  const child = spawn('mariadbd', ['--no-defaults', `--datadir=${t}/data`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', '--user=root', `--pid-file=${t}/mysqld.pid`, `--log-error=${t}/error.log`, '--skip-log-bin'], { stdio: 'ignore' });
  await waitPort(port, 30_000);
  return {
    port, socket,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => { child.on('exit', r); });
    },
  };
}
