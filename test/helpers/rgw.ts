/**
 * A throwaway single-node Ceph cluster with radosgw on loopback (REAL-COMPONENTS.md, recipe
 * ceph-rgw): one monitor, one memstore OSD and radosgw, no manager and no cephx, data in a temp
 * folder. S3 with Object Lock that is really enforced. Ports are picked free for each run; `stop()`
 * kills the processes (the data is in RAM and thrown away) instead of waiting the OSD's 6-10 s
 * shutdown.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The S3 user the helper creates. */
export const RGW_ACCESS_KEY = 'CALLSEALACCESSKEY000';
export const RGW_SECRET_KEY = 'callsealsecretkey0000000000000000000000';

/** A running radosgw. */
export interface Rgw {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Environment for the `aws` CLI against this radosgw (keys, region, no pager, no user config). */
  readonly awsEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => { resolve(false); });
    s.listen(port, '127.0.0.1', () => { s.close(() => { resolve(true); }); });
  });
}

/** The first of `count` consecutive free TCP ports in [min, max). */
async function freeTcpBlock(min: number, max: number, count: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = min + Math.floor(Math.random() * (max - min - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await tcpFree(p);
    if (free) return base;
  }
  throw new Error(`no ${count} free consecutive TCP ports in ${min}-${max}`);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`rgw: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts mon, OSD and radosgw in a new temp folder and creates the S3 user. */
export async function startRgw(): Promise<Rgw> {
  const d = mkdtempSync(join(tmpdir(), 'callseal-rgw-'));
  for (const sub of ['run', 'log', 'mon/ceph-a', 'osd/ceph-0', 'rgw']) mkdirSync(join(d, sub), { recursive: true });
  // One block: the monitor, the S3 port, and the messenger range the OSD binds in.
  const base = await freeTcpBlock(20000, 29000, 34);
  const monPort = base;
  const rgwPort = base + 1;
  const fsid = randomUUID();
  writeFileSync(join(d, 'ceph.conf'), `[global]
fsid = ${fsid}
mon_host = v2:127.0.0.1:${monPort}
mon_initial_members = a
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_port_min = ${base + 2}
ms_bind_port_max = ${base + 33}
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
run_dir = ${d}/run
log_file = ${d}/log/$name.log
admin_socket = ${d}/run/$name.asok
mon_data = ${d}/mon/$cluster-$id
osd_data = ${d}/osd/$cluster-$id
osd_objectstore = memstore
memstore_device_bytes = 1073741824
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw_data = ${d}/rgw
# radosgw defaults to a secure-only monitor connection, which auth none cannot do.
ms_mon_client_mode = crc
`);
  const env = { ...process.env, CEPH_CONF: join(d, 'ceph.conf') };
  const children: ChildProcess[] = [];
  const daemon = (name: string, cmd: string, args: readonly string[]): void => {
    const out = openSync(join(d, 'log', `${name}.out`), 'a');
    // Own process group: the daemons must not get the test runner's signals, nor it theirs.
    children.push(spawn(cmd, args, { cwd: d, env, stdio: ['ignore', out, out], detached: true }));
    closeSync(out);
  };
  const stop = async (): Promise<void> => {
    // memstore keeps everything in RAM: killing loses nothing the tests need, and the OSD's orderly
    // shutdown would cost 6-10 s.
    const exits = children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => { c.once('exit', r); }));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(exits);
    rmSync(d, { recursive: true, force: true });
  };
  try {
    await exec('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, 'monmap'], { cwd: d, env });
    await exec('ceph-authtool', ['--create-keyring', 'keyring', '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], { cwd: d, env });
    await exec('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', 'monmap', '--keyring', 'keyring'], { cwd: d, env });
    daemon('mon', 'ceph-mon', ['-i', 'a', '-f']);
    const osdUuid = randomUUID();
    await exec('ceph', ['--connect-timeout', '30', 'osd', 'new', osdUuid], { cwd: d, env, timeout: 40_000 });
    await exec('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid], { cwd: d, env });
    daemon('osd', 'ceph-osd', ['-i', '0', '-f']);
    await until('OSD up', async () => (await exec('ceph', ['osd', 'stat'], { cwd: d, env }).catch(() => ({ stdout: '' }))).stdout.includes('1 up'), 30_000);
    daemon('rgw', 'radosgw', ['-n', 'client.rgw.a', '-f']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw answering', async () => {
      try {
        return (await fetch(`${endpoint}/`)).status > 0;
      } catch {
        return false;
      }
    }, 60_000);
    await exec('radosgw-admin', ['user', 'create', '--uid=callseal', '--display-name=callseal', `--access-key=${RGW_ACCESS_KEY}`, `--secret-key=${RGW_SECRET_KEY}`], { cwd: d, env });
    const awsEnv: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'], HOME: d, AWS_ACCESS_KEY_ID: RGW_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: RGW_SECRET_KEY,
      AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '', AWS_CONFIG_FILE: join(d, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(d, 'aws-credentials'),
    };
    writeFileSync(join(d, 'aws-config'), '[default]\ns3 =\n  addressing_style = path\n');
    return { endpoint, accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY, awsEnv, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs the Debian `aws` CLI (v2) against the radosgw and parses its JSON answer. */
export async function awsCli(rgw: Rgw, args: readonly string[]): Promise<unknown> {
  const { stdout } = await exec('/usr/bin/aws', ['--endpoint-url', rgw.endpoint, '--output', 'json', ...args], { env: rgw.awsEnv, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim() === '' ? undefined : JSON.parse(stdout) as unknown;
}

/** Runs the `aws` CLI and returns its failure text (stderr), or undefined when it succeeded. */
export async function awsCliError(rgw: Rgw, args: readonly string[]): Promise<string | undefined> {
  try {
    await exec('/usr/bin/aws', ['--endpoint-url', rgw.endpoint, '--output', 'json', ...args], { env: rgw.awsEnv });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}
