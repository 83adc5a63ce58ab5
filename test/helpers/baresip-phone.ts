/**
 * baresip as a real phone in tests: a config folder per test (SIP on its own port, no registrar,
 * audio from a WAV by `aufile`, what it receives written by `sndfile` into `rec/`), SRTP by the
 * account's `mediaenc`, driven over `ctrl_tcp` with netstring JSON commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, freeUdpBlock } from './callseal.ts';

/** A running baresip. */
export interface Baresip {
  readonly sipPort: number;
  readonly child: ChildProcess;
  /** The folder `sndfile` writes what the phone received into. */
  readonly recDir: string;
  /** Sends one `ctrl_tcp` command and resolves with baresip's reply. */
  command(command: string, params?: string): Promise<string>;
  /** The WAV files of what the phone received. */
  received(): string[];
  /** Everything baresip printed. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts baresip in `dir` with `source` (mono 16-bit WAV at 8 kHz) as its microphone, on `ip`
 * (127.0.0.1 by default); `autoAnswer` answers incoming calls at once.
 */
export async function startBaresip(dir: string, source: string, o: { readonly mediaenc?: string; readonly codecs?: string; readonly ip?: string; readonly autoAnswer?: boolean } = {}): Promise<Baresip> {
  const ip = o.ip ?? '127.0.0.1';
  const sipPort = await freePort(33000, 33999);
  const ctrlPort = await freePort(34000, 34999);
  const rtpBase = await freeUdpBlock(35000, 35999, 20);
  const recDir = join(dir, 'rec');
  mkdirSync(recDir, { recursive: true });
  writeFileSync(join(dir, 'config'), [
    'poll_method epoll', `sip_listen ${ip}:${sipPort}`, 'audio_player aubridge,nil', `audio_source aufile,${source}`, 'audio_alert aubridge,nil',
    'ausrc_srate 8000', 'auplay_srate 8000', 'ausrc_channels 1', 'auplay_channels 1', `rtp_ports ${rtpBase}-${rtpBase + 19}`, 'rtp_timeout 0',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so', 'module aubridge.so', 'module sndfile.so', 'module srtp.so',
    'module ctrl_tcp.so', 'module_app account.so', 'module_app menu.so', `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`, `snd_path ${recDir}`,
    `net_interface ${ip}`, '',
  ].join('\n'));
  const enc = o.mediaenc !== undefined ? `;mediaenc=${o.mediaenc}` : '';
  const answer = o.autoAnswer === true ? ';answermode=auto' : '';
  writeFileSync(join(dir, 'accounts'), `<sip:alice@${ip}:${sipPort}>;regint=0;audio_codecs=${o.codecs ?? 'PCMU'}${enc}${answer}\n`);
  const child = spawn('baresip', ['-f', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  const command = (cmd: string, params = ''): Promise<string> => new Promise((resolve, reject) => {
    const msg = JSON.stringify({ command: cmd, params, token: 't1' });
    const socket = net.connect(ctrlPort, '127.0.0.1', () => { socket.write(`${Buffer.byteLength(msg)}:${msg},`); });
    let reply = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`baresip did not answer ${cmd}: ${reply}`)); }, 5000);
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('"response":true')) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
  // The control socket is up once baresip has read its config.
  for (let i = 0; ; i++) {
    try {
      await command('reginfo', '');
      break;
    } catch (err) {
      if (i > 50 || child.exitCode !== null) throw new Error(`baresip did not start: ${out}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    sipPort, child, recDir, command, output: () => out,
    received: () => readdirSync(recDir).filter((f) => f.endsWith('.wav')).map((f) => join(recDir, f)),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
