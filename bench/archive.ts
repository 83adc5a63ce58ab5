/**
 * bench/archive: upload throughput of callseal's SFTP, SMB and S3 targets against real servers on
 * loopback (OpenSSH sshd, Samba smbd, Ceph radosgw), as a ratio to `scp`, `smbclient` and
 * `aws s3 cp` moving the same files in the same run (target ≥ 0.8). Files are sized like
 * one-minute stereo G.711 recordings.
 *
 * Usage: npm run bench -- archive [--files 40]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S3Target, SftpTarget, SmbTarget } from '../src/archive/index.ts';
import { startSmbd, startSshd } from '../test/helpers/servers.ts';
import { awsCli, startRgw } from '../test/helpers/rgw.ts';
import { arg } from './lib/args.ts';


export async function archiveBench(): Promise<Record<string, number>> {
  const count = arg('files', 40);
  const dir = mkdtempSync(join(tmpdir(), 'callseal-bench-archive-'));
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, `rec${String(i).padStart(3, '0')}.wav`);
    writeFileSync(f, randomBytes(960_094));
    files.push(f);
  }
  const mib = (count * 960_094) / 1024 / 1024;
  const [sshd, smbd] = await Promise.all([startSshd(), startSmbd()]);
  const keyFile = join(dir, 'client.key');
  writeFileSync(keyFile, sshd.clientKey, { mode: 0o600 });
  const time = async (fn: () => unknown): Promise<number> => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  };
  let sftpSmb: Record<string, number> = {};
  try {
    // scp (OpenSSH 9 speaks SFTP underneath), one process for all files.
    mkdirSync(join(sshd.data, 'scp'), { recursive: true });
    let scpSec = await time(() => execFileSync('scp', ['-q', '-i', keyFile, '-P', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', ...files, 'root@127.0.0.1:scp/']));
    const sftp = new SftpTarget({ kind: 'sftp', host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.clientKey, hostKeySha256: sshd.hostKeySha256, folder: 'callseal' });
    // The outbox hands a batch of recordings (here all 40 files) to the target: OpenSSH's sftp client uploads them.
    await sftp.stat('2026/11/23/none');
    let sftpSec = await time(() => sftp.putMany(files.map((f) => ({ local: f, remote: `2026/11/23/${f.split('/').pop() ?? ''}` }))));
    // Second round of both, interleaved, best of two (as for SMB below).
    scpSec = Math.min(scpSec, await time(() => execFileSync('scp', ['-q', '-i', keyFile, '-P', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', ...files, 'root@127.0.0.1:scp/'])));
    sftpSec = Math.min(sftpSec, await time(() => sftp.putMany(files.map((f) => ({ local: f, remote: `2026/11/23/${f.split('/').pop() ?? ''}` })))));
    // The same over ssh2 in Node, one file after the other (the path for password targets).
    const sftpNodeSec = await time(async () => { for (const f of files) await sftp.put(f, `node/${f.split('/').pop() ?? ''}`); });
    const sftpVerifySec = await time(async () => { for (const f of files) await sftp.sha256(`2026/11/23/${f.split('/').pop() ?? ''}`); });
    await sftp.close();

    const auth = join(dir, 'smb.auth');
    writeFileSync(auth, 'username = tester\npassword = Secret123\n', { mode: 0o600 });
    let smbclientSec = await time(() => execFileSync('smbclient', [`//127.0.0.1/share`, '-p', String(smbd.port), '-A', auth, '-c', `mkdir plain; cd plain; lcd ${dir}; prompt; mput rec*.wav`], { stdio: 'ignore' }));
    const back = mkdtempSync(join(dir, 'back-'));
    const smbclientGetSec = await time(() => execFileSync('smbclient', [`//127.0.0.1/share`, '-p', String(smbd.port), '-A', auth, '-c', `cd plain; lcd ${back}; prompt; mget rec*.wav`], { stdio: 'ignore' }));
    const smb = new SmbTarget({ kind: 'smb', host: '127.0.0.1', port: smbd.port, share: 'share', username: 'tester', password: 'Secret123', folder: 'callseal' });
    const remotes = files.map((f) => `2026/11/23/${f.split('/').pop() ?? ''}`);
    // The outbox hands up to 20 recordings to an SMB target in one batch: one smbclient session per step.
    let smbSec = await time(() => smb.putMany(files.map((f, i) => ({ local: f, remote: remotes[i] ?? '' }))));
    // A second round of both, interleaved, best of two: the server's disk write-back of one run
    // otherwise lands on the next.
    const smbclientSec2 = await time(() => execFileSync('smbclient', [`//127.0.0.1/share`, '-p', String(smbd.port), '-A', auth, '-c', `cd plain; lcd ${dir}; prompt; mput rec*.wav`], { stdio: 'ignore' }));
    smbSec = Math.min(smbSec, await time(() => smb.putMany(files.map((f, i) => ({ local: f, remote: remotes[i] ?? '' })))));
    smbclientSec = Math.min(smbclientSec, smbclientSec2);
    // The whole verified copy as the outbox does it: put, sizes, SHA-256 read back.
    const smbVerifiedSec = await time(async () => {
      await smb.putMany(files.map((f, i) => ({ local: f, remote: remotes[i] ?? '' })));
      await smb.statMany(remotes);
      await smb.sha256Many(remotes);
    });
    await smb.close();

    const result = {
      files: count, mib: Number(mib.toFixed(1)),
      scpMiBps: Number((mib / scpSec).toFixed(1)), sftpMiBps: Number((mib / sftpSec).toFixed(1)), sftpRatio: Number((scpSec / sftpSec).toFixed(2)),
      sftpReadBackMiBps: Number((mib / sftpVerifySec).toFixed(1)), sftpNodeMiBps: Number((mib / sftpNodeSec).toFixed(1)), sftpNodeRatio: Number((scpSec / sftpNodeSec).toFixed(2)),
      smbclientMiBps: Number((mib / smbclientSec).toFixed(1)), smbMiBps: Number((mib / smbSec).toFixed(1)), smbRatio: Number((smbclientSec / smbSec).toFixed(2)),
      smbVerifiedMiBps: Number((mib / smbVerifiedSec).toFixed(1)), smbVerifiedRatio: Number(((smbclientSec + smbclientGetSec) / smbVerifiedSec).toFixed(2)),
    };
    console.log('\narchive');
    console.log(`  files                        ${count} × 0.92 MiB (${result.mib} MiB), loopback`);
    console.log(`  SFTP: scp                    ${result.scpMiBps} MiB/s`);
    console.log(`  SFTP: callseal target batch  ${result.sftpMiBps} MiB/s — ratio ${result.sftpRatio} (target ≥ 0.8); verification read-back ${result.sftpReadBackMiBps} MiB/s`);
    console.log(`  SFTP: ssh2 put (password)    ${result.sftpNodeMiBps} MiB/s — ratio ${result.sftpNodeRatio}`);
    console.log(`  SMB: smbclient mput          ${result.smbclientMiBps} MiB/s`);
    console.log(`  SMB: callseal target batch   ${result.smbMiBps} MiB/s — ratio ${result.smbRatio} (target ≥ 0.8)`);
    console.log(`  SMB: verified copy           ${result.smbVerifiedMiBps} MiB/s (put, sizes, read-back) — ratio ${result.smbVerifiedRatio} to smbclient mput + mget`);
    sftpSmb = result;
  } finally {
    await Promise.all([sshd.stop(), smbd.stop()]);
  }
  const all = { ...sftpSmb, ...await s3Bench(dir, files, mib) };
  mkdirSync(resolve(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(resolve(import.meta.dirname, 'out/archive.json'), JSON.stringify(all, null, 2));
  return all;
}

/**
 * S3 against Ceph radosgw: callseal's target uploading the batch as the outbox hands it (COMPLIANCE
 * lock, Content-MD5 on every request) against `aws s3 cp --recursive` of the same folder to the
 * same bucket, best of two interleaved rounds; and the whole verified copy (put, sizes, read-back).
 */
async function s3Bench(dir: string, files: readonly string[], mib: number): Promise<Record<string, number>> {
  const rgw = await startRgw();
  const s3 = new S3Target({
    kind: 's3', endpoint: rgw.endpoint, region: 'us-east-1', bucket: 'bench', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey,
    pathStyle: true, prefix: 'callseal', lockMode: 'COMPLIANCE',
  });
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  };
  try {
    await awsCli(rgw, ['s3api', 'create-bucket', '--bucket', 'bench', '--object-lock-enabled-for-bucket']);
    // The first requests create the pools (seconds): warm up before measuring.
    await s3.put(files[0] ?? '', 'warmup.wav');
    await awsCli(rgw, ['s3', 'cp', files[0] ?? '', 's3://bench/warmup-cli.wav', '--only-show-errors', '--no-progress']);
    const items = (round: number): { local: string; remote: string; options: { retainUntilMs: number } }[] => files.map((f) => ({
      local: f, remote: `r${round}/2026/11/23/${f.split('/').pop() ?? ''}`, options: { retainUntilMs: Date.now() + 600_000 },
    }));
    const cli = (round: number): Promise<unknown> => awsCli(rgw, ['s3', 'cp', dir, `s3://bench/cli${round}/`, '--recursive', '--exclude', '*', '--include', 'rec*.wav', '--only-show-errors', '--no-progress']);
    let cliSec = await time(() => cli(1));
    let s3Sec = await time(() => s3.putMany(items(1)));
    cliSec = Math.min(cliSec, await time(() => cli(2)));
    s3Sec = Math.min(s3Sec, await time(() => s3.putMany(items(2))));
    const remotes = items(3).map((i) => i.remote);
    const verifiedSec = await time(async () => {
      await s3.putMany(items(3));
      await s3.statMany(remotes);
      await s3.sha256Many(remotes);
    });
    const r = {
      awsCliMiBps: Number((mib / cliSec).toFixed(1)), s3MiBps: Number((mib / s3Sec).toFixed(1)), s3Ratio: Number((cliSec / s3Sec).toFixed(2)),
      s3VerifiedMiBps: Number((mib / verifiedSec).toFixed(1)),
    };
    console.log(`  S3: aws s3 cp --recursive    ${r.awsCliMiBps} MiB/s (Ceph radosgw, memstore)`);
    console.log(`  S3: callseal target batch    ${r.s3MiBps} MiB/s — ratio ${r.s3Ratio} (target ≥ 0.8); COMPLIANCE lock, Content-MD5`);
    console.log(`  S3: verified copy            ${r.s3VerifiedMiBps} MiB/s (put, sizes, read-back)`);
    return r;
  } finally {
    await s3.close();
    await rgw.stop();
  }
}
