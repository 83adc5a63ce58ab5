/**
 * Checks what callseal puts on the wire with an outside parser: captures SIP on loopback with
 * tshark, then asks tshark's SIP and SDP dissectors for malformed fields and expert warnings in
 * the packets callseal sent. Capturing needs root (as the tests have here and in CI).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One packet from callseal that tshark's dissectors complain about. */
export interface TsharkFinding {
  readonly frame: number;
  readonly info: string;
  readonly expert: string;
}

/** A running loopback capture of one SIP port (UDP and TCP). */
export class SipCapture {
  readonly port: number;
  readonly file: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stopped = false;

  private constructor(port: number, file: string, child: ChildProcess, exited: Promise<void>) {
    this.port = port;
    this.file = file;
    this.#child = child;
    this.#exited = exited;
  }

  /** Starts capturing SIP on `port` (UDP and TCP) and resolves once tshark says it captures. */
  static async start(port: number): Promise<SipCapture> {
    const file = join(mkdtempSync(join(tmpdir(), 'callseal-pcap-')), 'sip.pcap');
    const child = spawn('tshark', ['-q', '-i', 'lo', '-f', `udp port ${port} or tcp port ${port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`tshark did not start capturing: ${stderr}`)); }, 15_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/Capturing on|Capture started/.test(stderr)) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('error', (err) => { clearTimeout(t); reject(err); });
      void exited.then(() => { clearTimeout(t); reject(new Error(`tshark exited before capturing: ${stderr}`)); });
    });
    // tshark reports the capture before the first packets reach the file: give it a moment.
    await new Promise((r) => setTimeout(r, 500));
    return new SipCapture(port, file, child, exited);
  }

  /** Stops the capture (SIGINT, so tshark writes out what it has); idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Packets sent just now may still be on their way through the capture buffer.
    await new Promise((r) => setTimeout(r, 300));
    if (this.#child.exitCode === null) this.#child.kill('SIGINT');
    await this.#exited;
  }

  #read(filter: string, fields: readonly string[], aggregator = ';'): string[][] {
    const p = String(this.port);
    const out = execFileSync('tshark', [
      '-r', this.file, '-d', `udp.port==${p},sip`, '-d', `tcp.port==${p},sip`, '-Y', filter, '-T', 'fields',
      '-E', 'separator=/t', '-E', 'occurrence=a', '-E', `aggregator=${aggregator}`, ...fields.flatMap((f) => ['-e', f]),
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  }

  /** Start lines of the SIP messages callseal sent (responses and requests), in capture order. */
  sent(): string[] {
    return this.#read(`(udp.srcport == ${this.port} || tcp.srcport == ${this.port}) && sip`, ['sip.Status-Line', 'sip.Request-Line']).map((r) => r.filter(Boolean).join(' '));
  }

  /**
   * Every request callseal sent with the Via header fields tshark read in it, each with its
   * transport, sent-by, branch and whether it has `rport`.
   */
  requestVias(): { readonly method: string; readonly vias: readonly string[]; readonly transport: string; readonly sentBy: string; readonly branch: string; readonly rport: boolean }[] {
    const p = this.port;
    return this.#read(`(udp.srcport == ${p} || tcp.srcport == ${p}) && sip.Method`, [
      'sip.Method', 'sip.Via', 'sip.Via.transport', 'sip.Via.sent-by.address', 'sip.Via.sent-by.port', 'sip.Via.branch', 'sip.Via.rport',
    ], '|').map(([method = '', vias = '', transport = '', address = '', port = '', branch = '', rport]) => ({
      method, vias: vias === '' ? [] : vias.split('|'), transport, sentBy: `${address}:${port}`, branch, rport: rport !== undefined,
    }));
  }

  /**
   * Packets callseal sent that tshark's SIP or SDP dissector marks malformed or warns about, or in
   * which it cannot find a field every such message needs: Via branch, From tag, Call-ID, CSeq,
   * a To tag on every response but 100 (RFC 3261 section 8.2.6.2), and in an SDP body the
   * version, origin, connection address and media ports. TCP's own analysis (a reset at teardown)
   * says nothing about SIP and is left out.
   */
  findings(): TsharkFinding[] {
    const p = this.port;
    const rows = this.#read(`udp.srcport == ${p} || (tcp.srcport == ${p} && tcp.len > 0)`, [
      'frame.number', '_ws.col.Info', '_ws.expert.message', '_ws.expert.severity', '_ws.malformed', 'sip.Status-Code', 'sip.Method',
      'sip.Via.branch', 'sip.from.tag', 'sip.to.tag', 'sip.Call-ID', 'sip.CSeq.seq', 'sip.CSeq.method', 'sip.Content-Type',
      'sdp.version', 'sdp.owner.sessionid', 'sdp.connection_info.address', 'sdp.media.port',
    ]);
    const out: TsharkFinding[] = [];
    for (const [frame = '', info = '', message = '', severity = '', malformed = '', status = '', method = '', ...rest] of rows) {
      const [branch = '', fromTag = '', toTagValue = '', callId = '', cseq = '', cseqMethod = '', contentType = '', ...sdp] = rest;
      const problems: string[] = [];
      if (malformed !== '') problems.push('malformed');
      if (severity.split(';').some((v) => Number(v) >= WARNING_SEVERITY)) problems.push(message);
      if (status === '' && method === '') problems.push('not read as SIP');
      const needed: [string, string][] = [['Via branch', branch], ['From tag', fromTag], ['Call-ID', callId], ['CSeq number', cseq], ['CSeq method', cseqMethod]];
      if (status !== '' && status !== '100') needed.push(['To tag', toTagValue]);
      if (/application\/sdp/i.test(contentType)) {
        const [version = '', sessionId = '', address = '', ports = ''] = sdp;
        needed.push(['SDP v=', version], ['SDP o= session id', sessionId], ['SDP c= address', address], ['SDP m= port', ports]);
      }
      for (const [what, value] of needed) if (value === '') problems.push(`no ${what}`);
      if (problems.length > 0) out.push({ frame: Number(frame), info, expert: problems.join('; ') });
    }
    return out;
  }
}

/** `_ws.expert.severity` of a warning (PI_WARN, 0x00600000); errors are higher. */
const WARNING_SEVERITY = 0x00600000;
