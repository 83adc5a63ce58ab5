/**
 * Export for a client's request (H7): every recording of a number (normalised as the policy
 * normalises numbers, caller or callee) and/or a period of call starts, as one ZIP streamed while
 * it is made (yazl: entries are read from disk when the archive reaches them, so memory stays
 * bounded whatever the export's size). It holds the sealed files under `recordings/<folder>/`,
 * the deletion records of recordings of the request that retention deleted, the certificates,
 * `verify.sh`, a README, and `manifest.txt`: one line per file in `sha256sum` format (so
 * `sha256sum -c manifest.txt` checks the whole export) with a comment line per recording, signed
 * by callseal's current key as `manifest.sig` (binary RSA PKCS#1 v1.5 SHA-256, checked by
 * `openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.txt`).
 * Each recording is verified before it goes in (hashes, signature, recording log); one whose local
 * copy is gone or fails is fetched back from a storage target that holds a good copy. A recording
 * no good copy exists of goes in as found and is named in the manifest and README as failing.
 * This module builds the archive; the caller audits it and sends it.
 */
import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { PassThrough, type Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { CallsealError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { normalizeNumber, userPart, type NumberContext } from '../policy/index.ts';
import { CHAIN_DIR, DELETION_SIG, HASH_SUFFIX, SIG_SUFFIX, parseHashFile, sha256File, verifyRecording, type KeyStore } from '../seal/index.ts';
import type { RecordingRepository, RecordingRow } from '../store/index.ts';
import { exportReadme } from './export-readme.ts';
import type { Outbox } from './outbox.ts';

/** Recordings one export holds at most. */
export const EXPORT_MAX_RECORDINGS = 10_000;
const PAGE = 500;

/** What to export: a number, a period of call starts, or both. */
export interface ExportQuery {
  readonly number?: string | undefined;
  readonly fromMs?: number | undefined;
  readonly toMs?: number | undefined;
}

/** What an export held, once it is complete. */
export interface ExportSummary {
  readonly recordings: number;
  /** Fetched back from a storage target (the local copy gone or failing). */
  readonly fromArchive: number;
  readonly deletedByRetention: number;
  /** Recordings without a good copy, each with what failed. */
  readonly problems: readonly string[];
}

/** What signs a manifest: the current key and its certificate. */
export type ManifestSigner = Pick<KeyStore, 'certificatePem' | 'certificateFingerprint' | 'spkiSha256' | 'sign'>;

/** Options of {@link Exporter}. */
export interface ExporterOptions {
  readonly repo: RecordingRepository;
  readonly outbox: Outbox;
  /** Signs the manifest. */
  readonly keys: ManifestSigner;
  /** Public keys of every chain epoch (current and earlier). */
  readonly verifyKeys: () => readonly KeyObject[];
  readonly recordingsRoot: string;
  /** Where copies fetched from targets wait until the archive has read them. */
  readonly workRoot: string;
  readonly numbers: NumberContext;
  readonly log: Logger;
  readonly maxRecordings?: number;
}

// Values from the network go into comment lines: nothing may start a new line there.
// eslint-disable-next-line no-control-regex -- removing control characters is the point.
const oneLine = (v: string): string => v.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Builds exports. */
export class Exporter {
  readonly #o: ExporterOptions;

  constructor(o: ExporterOptions) {
    this.#o = o;
  }

  /** The recordings of a request, in chain order; throws `CS_EXPORT_INVALID` for an empty or too large request. */
  select(q: ExportQuery): RecordingRow[] {
    const max = this.#o.maxRecordings ?? EXPORT_MAX_RECORDINGS;
    // Typed by people: spaces, dashes and brackets are separators (`030 123-456`).
    const wanted = q.number !== undefined && q.number !== '' ? normalizeNumber(userPart(q.number), this.#o.numbers) : undefined;
    if (wanted === '') throw new CallsealError('CS_EXPORT_INVALID', `"${q.number ?? ''}" is not a number`);
    if (wanted === undefined && q.fromMs === undefined && q.toMs === undefined) throw new CallsealError('CS_EXPORT_INVALID', 'an export names a number or a period (from, to)');
    // The stored numbers are as the SRC sent them (030..., +4930..., 0049...): they share their last digits.
    const digits = wanted?.replace(/^\+/, '').slice(-6);
    const out: RecordingRow[] = [];
    let after: { epoch: number; seq: number } | undefined;
    for (;;) {
      const page = this.#o.repo.candidates({ digits, fromMs: q.fromMs, toMs: q.toMs, limit: PAGE, after });
      for (const r of page) {
        if (wanted !== undefined && normalizeNumber(r.callerNumber, this.#o.numbers) !== wanted && normalizeNumber(r.calleeNumber, this.#o.numbers) !== wanted) continue;
        out.push(r);
        if (out.length > max) throw new CallsealError('CS_EXPORT_INVALID', `more than ${max} recordings match; export a shorter period`);
      }
      const last = page[page.length - 1];
      if (!last || page.length < PAGE) break;
      after = { epoch: last.chainEpoch, seq: last.chainSeq };
    }
    return out;
  }

  /**
   * Starts an export of `rows` (from {@link select}): returns the ZIP stream at once and, in `done`,
   * what it held once the last entry is added. Fetched copies are removed when the stream ends.
   */
  start(rows: readonly RecordingRow[], meta: { readonly query: ExportQuery; readonly actor: string; readonly nowMs: number }): { stream: Readable; done: Promise<ExportSummary> } {
    const zip = new ZipFile();
    // Through a PassThrough: a failure half-way can end the stream with an error.
    const stream = new PassThrough();
    pipeline(zip.outputStream, stream).catch((err: unknown) => { this.#o.log.warn({ err: errorMessage(err) }, 'export stream failed'); });
    const work: { dir: string | undefined } = { dir: undefined };
    const cleanup = async (): Promise<void> => {
      try {
        await finished(stream);
      } catch (err) {
        this.#o.log.warn({ err: errorMessage(err) }, 'export stream ended early');
      }
      if (work.dir !== undefined) await rm(work.dir, { recursive: true, force: true });
    };
    const done = this.#fill(zip, rows, meta, work).catch((err: unknown) => {
      // A failure after the first bytes went out cannot change the response: the archive ends
      // without its manifest, which no verifier accepts.
      stream.destroy(err instanceof Error ? err : new CallsealError('CS_EXPORT_INVALID', errorMessage(err)));
      throw err;
    });
    void done.then(cleanup, cleanup);
    return { stream, done };
  }

  async #fill(zip: ZipFile, rows: readonly RecordingRow[], meta: { readonly query: ExportQuery; readonly actor: string; readonly nowMs: number }, work: { dir: string | undefined }): Promise<ExportSummary> {
    const { recordingsRoot, keys } = this.#o;
    const lines: string[] = [];
    const problems: string[] = [];
    const epochs = new Set<number>();
    let count = 0;
    let fromArchive = 0;
    let deleted = 0;
    for (const r of rows) {
      if (r.deletionStartedMs !== undefined) {
        deleted++;
        const rec = r.deletionRecord;
        lines.push(`# deleted by retention on ${new Date(r.deletionStartedMs).toISOString()}: ${r.baseName} chain ${r.chainEpoch}:${r.chainSeq} start ${new Date(r.startMs).toISOString()}${rec !== undefined ? ` (record ${rec})` : ''}`);
        for (const p of rec !== undefined ? [rec, `${rec}${DELETION_SIG}`] : []) {
          const path = join(recordingsRoot, p);
          if (!existsSync(path)) continue;
          zip.addFile(path, p);
          lines.push(`${await sha256File(path)}  ${p}`);
        }
        continue;
      }
      count++;
      epochs.add(r.chainEpoch);
      const got = await this.#copyOf(r, work);
      if (got.source !== 'local') fromArchive++;
      if (got.problem !== undefined) problems.push(`${r.baseName}: ${got.problem}`);
      lines.push(`# recording ${count}: ${r.baseName} chain ${r.chainEpoch}:${r.chainSeq} start ${new Date(r.startMs).toISOString()} caller ${oneLine(r.callerNumber)} callee ${oneLine(r.calleeNumber)} direction ${r.direction} setting "${oneLine(r.setting)}" source ${got.source} ${got.problem === undefined ? 'verified' : `NOT VERIFIED: ${oneLine(got.problem)}`}`);
      for (const name of r.files) {
        const path = join(got.dir, name);
        if (!existsSync(path)) continue;
        const inZip = `recordings/${r.dir}/${name}`;
        zip.addFile(path, inZip);
        lines.push(`${got.hashes.get(name) ?? await sha256File(path)}  ${inZip}`);
      }
    }

    // The kit: certificates, the rollover records linking the keys, verify.sh, the README.
    const kit: { path?: string; data?: Buffer; name: string; mode?: number }[] = [];
    kit.push({ data: Buffer.from(keys.certificatePem), name: 'callseal-cert.pem' });
    for (const e of [...epochs].sort((a, b) => a - b)) {
      const p = join(recordingsRoot, `callseal-cert-epoch${e}.pem`);
      if (existsSync(p)) kit.push({ path: p, name: `callseal-cert-epoch${e}.pem` });
    }
    const chainDir = join(recordingsRoot, CHAIN_DIR);
    for (const n of existsSync(chainDir) ? readdirSync(chainDir).sort() : []) {
      if (/^(rollover-epoch\d+\.txt(\.old-key\.sig|\.new-key\.sig)?|certificate-epoch\d+\.pem)$/.test(n)) kit.push({ path: join(chainDir, n), name: `${CHAIN_DIR}/${n}` });
    }
    kit.push({ path: join(recordingsRoot, 'verify.sh'), name: 'verify.sh', mode: 0o100755 });
    const summary: ExportSummary = { recordings: count, fromArchive, deletedByRetention: deleted, problems };
    const example = rows.find((r) => r.deletionStartedMs === undefined);
    kit.push({ data: Buffer.from(exportReadme({ ...meta, summary, fingerprint: keys.certificateFingerprint, example: example ? `recordings/${example.dir}/${example.baseName}` : undefined })), name: 'README.txt' });
    lines.push('# verification kit');
    for (const k of kit) {
      if (k.data !== undefined) zip.addBuffer(k.data, k.name, k.mode !== undefined ? { mode: k.mode } : {});
      else if (k.path !== undefined && existsSync(k.path)) zip.addFile(k.path, k.name, k.mode !== undefined ? { mode: k.mode } : {});
      else continue;
      lines.push(`${k.data !== undefined ? sha256(k.data) : await sha256File(k.path ?? '')}  ${k.name}`);
    }
    const q = meta.query;
    const header = [
      '# callseal export manifest (format callseal-export 1)',
      `# created ${new Date(meta.nowMs).toISOString()} by ${oneLine(meta.actor)}`,
      `# request: number ${q.number !== undefined && q.number !== '' ? `${oneLine(q.number)} (normalised ${normalizeNumber(userPart(q.number), this.#o.numbers)})` : '-'}, from ${q.fromMs !== undefined ? new Date(q.fromMs).toISOString() : '-'}, to ${q.toMs !== undefined ? new Date(q.toMs).toISOString() : '-'}`,
      `# recordings: ${count} (${fromArchive} fetched from a storage target), deleted by retention: ${deleted}, without a good copy: ${problems.length}`,
      `# signed by the key of callseal-cert.pem (certificate SHA-256 ${keys.certificateFingerprint}, public key sha256 ${keys.spkiSha256}): manifest.sig, binary RSA PKCS#1 v1.5 SHA-256`,
      '# check: sha256sum -c manifest.txt',
      '#        openssl x509 -in callseal-cert.pem -noout -pubkey > pub.pem',
      '#        openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.txt',
    ];
    const manifest = Buffer.from(`${[...header, ...lines].join('\n')}\n`, 'utf8');
    zip.addBuffer(manifest, 'manifest.txt');
    zip.addBuffer(keys.sign(manifest), 'manifest.sig');
    zip.end();
    return summary;
  }

  /**
   * A verified copy of a recording: the local one, else one fetched from a storage target that
   * holds a good copy; else what exists, with the problem. `hashes` are the SHA-256 of the files as
   * verified (from the checked hash file, and of the hash and signature files themselves).
   */
  async #copyOf(r: RecordingRow, work: { dir: string | undefined }): Promise<{ dir: string; source: string; hashes: Map<string, string>; problem?: string }> {
    const local = join(this.#o.recordingsRoot, r.dir);
    const check = async (dir: string): Promise<string | undefined> => {
      const c = await verifyRecording(dir, r.baseName, this.#o.verifyKeys(), r);
      return c.ok ? undefined : [...c.files.filter((f) => !f.ok).map((f) => `${f.name} ${f.problem ?? ''}`), `signature ${c.signature}`, c.matchesLog ? '' : 'differs from the recording log'].filter(Boolean).join(', ');
    };
    let problem = 'the local copy is gone';
    if (existsSync(join(local, `${r.baseName}${HASH_SUFFIX}`))) {
      const localProblem = await check(local);
      if (localProblem === undefined) return { dir: local, source: 'local', hashes: await verifiedHashes(local, r.baseName) };
      problem = `the local copy fails: ${localProblem}`;
    }
    if (this.#o.outbox.fileCopies(r.id).length > 0) {
      if (work.dir === undefined) {
        await mkdir(this.#o.workRoot, { recursive: true, mode: 0o700 });
        work.dir = await mkdtemp(join(this.#o.workRoot, 'export-'));
      }
      const dir = join(work.dir, r.id);
      await mkdir(dir, { recursive: true });
      const problems: string[] = [];
      try {
        const targetId = await this.#o.outbox.fetch(r.id, dir, () => check(dir), (t, p) => { problems.push(`${t}: ${p}`); });
        return { dir, source: `archive:${targetId}`, hashes: await verifiedHashes(dir, r.baseName) };
      } catch (err) {
        problem = `${problem}; ${problems.join('; ') || errorMessage(err)}`;
      }
    }
    return { dir: local, source: 'local', hashes: new Map(), problem };
  }
}

/** SHA-256 of a verified recording's files: the hash file's lines, and the hash and signature files. */
async function verifiedHashes(dir: string, base: string): Promise<Map<string, string>> {
  const hashText = await readFile(join(dir, `${base}${HASH_SUFFIX}`), 'utf8');
  const out = new Map(parseHashFile(hashText));
  out.set(`${base}${HASH_SUFFIX}`, sha256(hashText));
  out.set(`${base}${SIG_SUFFIX}`, await sha256File(join(dir, `${base}${SIG_SUFFIX}`)));
  return out;
}
