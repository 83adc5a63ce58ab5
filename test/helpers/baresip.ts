/**
 * baresip as a real phone in tests: a config folder per phone (free SIP, RTP and ctrl_tcp ports,
 * the given loopback address), the audio it sends from a WAV (padded with silence so the call does
 * not end with the file), what it receives written to `snd_path` by the sndfile module, and the
 * ctrl_tcp commands (netstring JSON) to dial, send RFC 4733 digits (`sndcode`) and hang up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, freeUdpBlock, onLines, run } from './callseal.ts';

/** A running baresip. */
export interface Baresip {
  readonly child: ChildProcess;
  readonly sipPort: number;
  /** Where it writes what it receives (`*-dec.wav`) and what it sends. */
  readonly sndPath: string;
  /** Every line it printed. */
  readonly output: string[];
  command(command: string, params?: string): Promise<string>;
  /** The WAV files of what it received. */
  received(): string[];
  stop(): Promise<void>;
}

/** How {@link startBaresip} sets the phone up. */
export interface BaresipOptions {
  readonly ip: string;
  /** Its microphone: a mono 16-bit 8 kHz WAV; by default `seconds` of silence made by sox. */
  readonly source?: string;
  readonly seconds?: number;
  /** Account parameters, e.g. `;mediaenc=srtp-mand`. */
  readonly accountParams?: string;
  /** `audio_codecs` of the account; PCMA,PCMU by default. */
  readonly codecs?: string;
  /** The account's user part; `caller` by default. */
  readonly user?: string;
  /** Answers incoming calls at once. */
  readonly autoAnswer?: boolean;
  /** Prints the SIP messages (into `output`). */
  readonly sipTrace?: boolean;
}

/** Starts baresip in `dir`. */
export async function startBaresip(dir: string, o: BaresipOptions): Promise<Baresip> {
  mkdirSync(dir, { recursive: true });
  const sndPath = join(dir, 'rec');
  mkdirSync(sndPath, { recursive: true });
  // Ports as test/helpers/callseal.ts shares them out: listeners 10000-14999, media 29000-32699.
  const sipPort = await freeUdpBlock(10000, 14999, 2, 2); // baresip also opens TLS on SIP port + 1
  const ctrlPort = await freePort();
  const rtpBase = await freeUdpBlock(29000, 32699, 20, 2);
  const source = o.source ?? join(dir, 'source.wav');
  if (o.source === undefined) run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', source, 'trim', '0', String(o.seconds ?? 60)]);
  writeFileSync(join(dir, 'config'), [
    'poll_method epoll', `sip_listen ${o.ip}:${sipPort}`, 'audio_player aubridge,nil', `audio_source aufile,${source}`, 'audio_alert aubridge,nil',
    'ausrc_srate 8000', 'auplay_srate 8000', 'ausrc_channels 1', 'auplay_channels 1', `rtp_ports ${rtpBase}-${rtpBase + 19}`, 'rtp_timeout 0',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so', 'module aubridge.so', 'module sndfile.so', 'module srtp.so',
    'module ctrl_tcp.so', 'module_app account.so', 'module_app menu.so', `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`, `snd_path ${sndPath}`,
    `net_interface ${o.ip}`, '',
  ].join('\n'));
  writeFileSync(join(dir, 'accounts'), `<sip:${o.user ?? 'caller'}@${o.ip}:${sipPort}>;regint=0;audio_codecs=${o.codecs ?? 'PCMA,PCMU'}${o.accountParams ?? ''}${o.autoAnswer === true ? ';answermode=auto' : ''}\n`);
  const child = spawn('baresip', [...(o.sipTrace === true ? ['-s'] : []), '-f', dir], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  onLines(child.stdout, (l) => { output.push(l); });
  onLines(child.stderr, (l) => { output.push(l); });
  const command = (cmd: string, params = ''): Promise<string> => new Promise((resolve, reject) => {
    const msg = JSON.stringify({ command: cmd, params, token: 't' });
    const s = net.connect(ctrlPort, '127.0.0.1', () => { s.write(`${Buffer.byteLength(msg)}:${msg},`); });
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (/"response":\s*true/.test(buf)) { s.end(); resolve(buf); }
    });
    s.on('error', reject);
    setTimeout(() => { s.destroy(); resolve(buf); }, 3000).unref();
  });
  // Ready once ctrl_tcp answers.
  for (let i = 0; ; i++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(ctrlPort, '127.0.0.1', () => { s.end(); resolve(); });
        s.on('error', reject);
      });
      break;
    } catch (err) {
      if (i > 100 || child.exitCode !== null) throw new Error(`baresip did not start: ${output.join('\n')}`, { cause: err });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    child, sipPort, sndPath, output, command,
    received: () => readdirSync(sndPath).filter((f) => f.endsWith('-dec.wav')).map((f) => join(sndPath, f)),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<boolean>((r) => child.once('exit', () => { r(true); }));
      child.kill('SIGTERM');
      const gone = await Promise.race([exited, new Promise<boolean>((r) => setTimeout(() => { r(false); }, 2000))]);
      if (!gone) child.kill('SIGKILL');
    },
  };
}
