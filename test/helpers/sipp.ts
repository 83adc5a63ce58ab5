/**
 * Drives the real sipp (Debian `sip-tester`) as a SIPREC client: scenario files are generated per
 * test from a few parameters, and sipp runs against callseal on loopback.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, freeUdpBlock } from './callseal.ts';

/** A participant in the generated metadata. */
export interface MetaParty {
  readonly id: string;
  readonly aor: string;
  readonly name: string;
  /** Stream id this participant sends. */
  readonly sends: string;
}

/** Metadata document (RFC 7865) for two participants and two labelled streams. */
export function rsMetadata(caller: MetaParty, callee: MetaParty, options: { sessionId?: string; mode?: 'complete' | 'partial'; labels?: [string, string] } = {}): string {
  const [l1, l2] = options.labels ?? ['1', '2'];
  const sid = options.sessionId ?? 'c2Vzc2lvbjE=';
  const party = (p: MetaParty): string => `  <participant participant_id="${p.id}">
    <nameID aor="${p.aor}">
      <name xml:lang="en">${p.name}</name>
    </nameID>
  </participant>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>${options.mode ?? 'complete'}</datamode>
  <session session_id="${sid}">
    <sipSessionID>abc123</sipSessionID>
  </session>
${party(caller)}
${party(callee)}
  <stream stream_id="${caller.sends}" session_id="${sid}">
    <label>${l1}</label>
  </stream>
  <stream stream_id="${callee.sends}" session_id="${sid}">
    <label>${l2}</label>
  </stream>
  <participantstreamassoc participant_id="${caller.id}">
    <send>${caller.sends}</send>
    <recv>${callee.sends}</recv>
  </participantstreamassoc>
  <participantstreamassoc participant_id="${callee.id}">
    <send>${callee.sends}</send>
    <recv>${caller.sends}</recv>
  </participantstreamassoc>
</recording>`;
}

/** Default caller and callee used by most tests. */
export const ALICE: MetaParty = { id: 'cDE=', aor: 'sip:+4930123456@pbx.example.com', name: 'Alice Anders', sends: 'c3Ry' };
export const BOB: MetaParty = { id: 'cDI=', aor: 'sip:+4989765432@carrier.example.net', name: 'Bob Berger', sends: 'c3Qy' };

/** What a generated SIPREC call does. */
export interface SiprecCallOptions {
  readonly codec?: 'PCMA' | 'PCMU';
  readonly metadata?: string;
  /** A pcap to play after the ACK (two streams, ports B and B+2). */
  readonly pcap?: string;
  /** How long to stay in the call after starting the pcap. */
  readonly holdMs?: number;
  /** Metadata for a re-INVITE sent in the middle of the call. */
  readonly reinviteMetadata?: string;
  /** Send the re-INVITE with both streams `a=inactive` (hold), then resume. */
  readonly reinviteHold?: boolean;
  readonly transport?: 'u1' | 't1' | 'l1';
  /** pcaps played one after the other, each followed by a pause (replaces `pcap` and `holdMs`). */
  readonly sequence?: readonly { readonly pcap: string; readonly pauseMs: number }[];
}

function sdp(codec: 'PCMA' | 'PCMU', direction: string, ports: [string, string] = ['[media_port]', '[media_port+2]']): string {
  const pt = codec === 'PCMA' ? 8 : 0;
  return `v=0
o=src 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=SIPREC
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio ${ports[0]} RTP/AVP ${pt} 101
a=rtpmap:${pt} ${codec}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=label:1
a=${direction}
m=audio ${ports[1]} RTP/AVP ${pt} 101
a=rtpmap:${pt} ${codec}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=label:2
a=${direction}`;
}

function multipart(sdpText: string, metadata: string | undefined): { contentType: string; body: string } {
  if (!metadata) return { contentType: 'application/sdp', body: sdpText };
  return {
    contentType: 'multipart/mixed;boundary=callseal-test-boundary',
    body: `--callseal-test-boundary
Content-Type: application/sdp

${sdpText}
--callseal-test-boundary
Content-Type: application/rs-metadata+xml
Content-Disposition: recording-session

${metadata}
--callseal-test-boundary--`,
  };
}

function reinvite(cseq: number, sdpText: string, metadata: string | undefined): string {
  const { contentType, body } = multipart(sdpText, metadata);
  return `  <send retrans="500">
    <![CDATA[
      INVITE sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:src@[local_ip]:[local_port];transport=[transport]>;+sip.src
      Max-Forwards: 70
      Require: siprec
      Content-Type: ${contentType}
      Content-Length: [len]

${body}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
`;
}

/** Generates a SIPREC UAC scenario: INVITE, ACK, media, optional re-INVITE, BYE. */
export function siprecScenario(o: SiprecCallOptions): string {
  const codec = o.codec ?? 'PCMA';
  const { contentType, body } = multipart(sdp(codec, 'sendonly'), o.metadata);
  const holdMs = o.holdMs ?? 2000;
  let middle = `  <pause milliseconds="${holdMs}"/>\n`;
  if (o.reinviteMetadata !== undefined || o.reinviteHold) {
    const half = Math.floor(holdMs / 2);
    middle = `  <pause milliseconds="${half}"/>\n` +
      reinvite(2, sdp(codec, o.reinviteHold ? 'inactive' : 'sendonly'), o.reinviteMetadata) +
      `  <pause milliseconds="${holdMs - half}"/>\n`;
  }
  return `<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="siprec-uac">
  <send retrans="500">
    <![CDATA[
      INVITE sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:srs@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:src@[local_ip]:[local_port];transport=[transport]>;+sip.src
      Max-Forwards: 70
      Require: siprec
      Content-Type: ${contentType}
      Content-Length: [len]

${body}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
${o.pcap ? `  <nop>\n    <action>\n      <exec play_pcap_audio="${o.pcap}"/>\n    </action>\n  </nop>\n` : ''}${o.sequence ? o.sequence.map((step) => `  <nop>\n    <action>\n      <exec play_pcap_audio="${step.pcap}"/>\n    </action>\n  </nop>\n  <pause milliseconds="${step.pauseMs}"/>\n`).join('') : middle}  <send retrans="500">
    <![CDATA[
      BYE sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`;
}

/**
 * A SIPREC call whose re-INVITE (CSeq 2) gets its 200 and no ACK: sipp then waits for callseal's
 * BYE, which must carry `Reason: SIP;cause=408` (RFC 3326), and answers it 200.
 */
export function reinviteWithoutAckScenario(metadata: string, waitForByeMs: number): string {
  const { contentType, body } = multipart(sdp('PCMA', 'sendonly'), metadata);
  const withAck = siprecScenario({ metadata, holdMs: 0 });
  const head = withAck.slice(0, withAck.indexOf('  <pause milliseconds="0"/>'));
  return `${head}  <pause milliseconds="300"/>
  <send retrans="500">
    <![CDATA[
      INVITE sip:srs@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:src@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:src@[local_ip]:[local_port];transport=[transport]>;+sip.src
      Max-Forwards: 70
      Require: siprec
      Content-Type: ${contentType}
      Content-Length: [len]

${body}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <recv request="BYE" timeout="${waitForByeMs}">
    <action>
      <ereg regexp="SIP;cause=408" search_in="hdr" header="Reason:" check_it="true" assign_to="1"/>
    </action>
  </recv>
  <Reference variables="1"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
`;
}

/** Result of a sipp run. */
export interface SippResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly errors: string;
}

/** Runs sipp with a scenario file against `target` (host:port); resolves when sipp exits. */
export async function runSipp(dir: string, scenario: string, target: string, options: { transport?: string; calls?: number; rate?: number; concurrent?: number; mediaPort?: number; extra?: readonly string[]; timeoutSec?: number } = {}): Promise<SippResult> {
  const file = join(dir, `scenario-${Date.now()}-${Math.random().toString(16).slice(2)}.xml`);
  writeFileSync(file, scenario);
  const args = [
    '-sf', file, '-m', String(options.calls ?? 1), '-i', '127.0.0.1', '-p', String(await freePort(27000, 28999)), '-t', options.transport ?? 'u1',
    '-r', String(options.rate ?? 10), '-l', String(options.concurrent ?? options.calls ?? 1),
    '-mi', '127.0.0.1', '-mp', String(options.mediaPort ?? await freeUdpBlock(29000, 32699, 8)),
    '-timeout', `${options.timeoutSec ?? 60}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', `${file}.errors.log`,
    ...(options.extra ?? []), target,
  ];
  return new Promise((resolve) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      const errorsFile = `${file}.errors.log`;
      const errors = existsSync(errorsFile) ? readFileSync(errorsFile, 'utf8') : '';
      resolve({ code, stdout: stdout.slice(-4000), stderr: stderr.slice(-4000), errors: errors.slice(-4000) });
    });
  });
}

/** Lists files under a folder, recursively, relative paths. */
export function listFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}
