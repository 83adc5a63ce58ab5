/**
 * sipp as the PBX and as the trunk around callseal's in-line B2BUA: scenario files generated per
 * test, sipp bound to its own loopback address per side (PBX 127.0.0.1, trunk 127.0.0.2) so the
 * B2BUA tells the sides apart by source address as it does in a real installation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, freeUdpBlock } from './callseal.ts';

/** The SDP a side offers or answers (`c=` its own address). */
export function sideSdp(ip: string, direction = 'sendrecv', version = 1): string {
  return [
    'v=0', `o=sipp 4242 ${version} IN IP4 ${ip}`, 's=-', `c=IN IP4 ${ip}`, 't=0 0',
    'm=audio [media_port] RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', `a=${direction}`, '',
  ].join('\r\n');
}

/** Extra header lines, each on its own line (no empty line: that would end the header). */
function lines(headers: readonly string[] | undefined): string {
  return (headers ?? []).map((h) => `      ${h}\n`).join('');
}

/** One step of a generated scenario: raw sipp XML. */
export type Step = string;

const HEAD = `<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n`;

/** A scenario from its steps. */
export function scenario(name: string, steps: readonly Step[]): string {
  return `${HEAD}<scenario name="${name}">\n${steps.join('\n')}\n</scenario>\n`;
}

/** The PBX's INVITE to `user` (SDP offer unless `sdp` is empty), with the extra header lines given. */
export function pbxInvite(user: string, o: { readonly sdp?: string; readonly headers?: readonly string[]; readonly cseq?: number } = {}): Step {
  const body = o.sdp ?? sideSdp('[local_ip]');
  return `  <send retrans="500">
    <![CDATA[
      INVITE sip:${user}@carrier.example.net SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${user}@carrier.example.net>
      Call-ID: [call_id]
      CSeq: ${o.cseq ?? 1} INVITE
      Contact: <sip:201@[local_ip]:[local_port]>
      Max-Forwards: 70
${lines(o.headers)}${body === '' ? '' : '      Content-Type: application/sdp\n'}      Content-Length: [len]

${body}
    ]]>
  </send>`;
}

/** An in-dialog request of the side that sent the INVITE (sipp UAC): `[last_To:]` names the dialog. */
export function uacInDialog(method: string, cseq: number, o: { readonly body?: string; readonly type?: string; readonly headers?: readonly string[] } = {}): Step {
  return `  <send${method === 'ACK' ? '' : ' retrans="500"'}>
    <![CDATA[
      ${method} sip:callseal@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Anders" <sip:201@pbx.example.com>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      Contact: <sip:201@[local_ip]:[local_port]>
      Max-Forwards: 70
${lines(o.headers)}${o.body !== undefined ? `      Content-Type: ${o.type ?? 'application/sdp'}\n` : ''}      Content-Length: [len]

${o.body ?? ''}
    ]]>
  </send>`;
}

/** The answer of the side that received a request (sipp UAS), `[last_*]` copied; `body` an SDP or other body. */
export function uasAnswer(status: number, reason: string, o: { readonly body?: string; readonly type?: string; readonly headers?: readonly string[] } = {}): Step {
  return `  <send>
    <![CDATA[
      SIP/2.0 ${status} ${reason}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:trunk@[local_ip]:[local_port]>
${lines(o.headers)}${o.body !== undefined ? `      Content-Type: ${o.type ?? 'application/sdp'}\n` : ''}      Content-Length: [len]

${o.body ?? ''}
    ]]>
  </send>`;
}

/** An in-dialog request of the side that received the INVITE (sipp UAS): to the Contact it was given. */
export function uasInDialog(method: string, cseq: number, o: { readonly body?: string; readonly type?: string } = {}): Step {
  return `  <send retrans="500">
    <![CDATA[
      ${method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:trunk@carrier.example.net>;tag=[pid]SIPpTag01[call_number]
      To: [$peer]
      Call-ID: [$cid]
      CSeq: ${cseq} ${method}
      Contact: <sip:trunk@[local_ip]:[local_port]>
      Max-Forwards: 70
${o.body !== undefined ? `      Content-Type: ${o.type ?? 'application/sdp'}\n` : ''}      Content-Length: [len]

${o.body ?? ''}
    ]]>
  </send>`;
}

/** Receives an INVITE as UAS; `keep` stores what `uasInDialog` needs (sipp refuses variables it never uses). */
export function uasRecvInvite(keep = false): Step {
  if (!keep) return '  <recv request="INVITE" rrs="true"/>';
  return `  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="cid"/>
    </action>
  </recv>`;
}

/** Receives a request (`optional` lets it be skipped). */
export function recvRequest(method: string): Step {
  return `  <recv request="${method}"/>`;
}

/** Receives a response. */
export function recvResponse(status: number, o: { readonly optional?: boolean; readonly rrs?: boolean } = {}): Step {
  return `  <recv response="${status}"${o.optional ? ' optional="true"' : ''}${o.rrs ? ' rrs="true"' : ''}/>`;
}

/** A pause. */
export function pause(ms: number): Step {
  return `  <pause milliseconds="${ms}"/>`;
}

/** A running sipp. */
export interface SippRun {
  readonly port: number;
  readonly child: ChildProcess;
  /** Exit code and the last of its output and error log. */
  readonly done: Promise<{ readonly code: number | null; readonly out: string }>;
  /** The messages sipp sent and received (its `-trace_msg` log), once it exited. */
  messages(): string;
}

/** Starts sipp on `ip` with a scenario; as UAC when `target` is given, as UAS otherwise. */
export async function startSipp(dir: string, name: string, xml: string, o: { readonly ip: string; readonly target?: string; readonly port?: number; readonly timeoutSec?: number; readonly transport?: 'u1' | 't1' }): Promise<SippRun> {
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  const port = o.port ?? await freePort(27000, 28999);
  const mediaPort = await freeUdpBlock(29000, 32699, 8);
  const log = join(dir, `${name}.messages.log`);
  const args = [
    '-sf', file, '-i', o.ip, '-p', String(port), '-t', o.transport ?? 'u1', '-m', '1', '-mi', o.ip, '-mp', String(mediaPort),
    '-timeout', `${o.timeoutSec ?? 30}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(dir, `${name}.errors.log`),
    '-trace_msg', '-message_file', log, ...(o.target !== undefined ? [o.target] : []),
  ];
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<{ code: number | null; out: string }>((resolve) => {
    child.on('close', (code) => {
      const errors = join(dir, `${name}.errors.log`);
      resolve({ code, out: `${out.slice(-2000)}\n${existsSync(errors) ? readFileSync(errors, 'utf8').slice(-3000) : ''}` });
    });
  });
  return { port, child, done, messages: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
}

/** The messages of a sipp message log that start with `startLine`, each as text. */
export function messagesStarting(log: string, startLine: string): string[] {
  return log.split(/\n(?=-{10,})/).map((block) => block.replace(/^-{10,}[^\n]*\n/, '').replace(/^(?:UDP|TCP) message (?:sent|received)[^\n]*\n\n?/, '').trimStart()).filter((m) => m.startsWith(startLine));
}
