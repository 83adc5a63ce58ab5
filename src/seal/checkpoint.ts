/**
 * Signed checkpoints (E8 +, issue 7): at start, every few minutes while something changed, and at
 * shutdown, callseal writes the head of the recording chain and the head of the audit trail (seq
 * and SHA-256) into `chain/checkpoints/<year>/checkpoint-<ms>.txt` in the recordings tree, signed
 * with the recording key (`.sig`, base64 RSA SHA-256, checked by `openssl dgst -sha256 -verify`).
 * They anchor the audit trail outside the database: rewriting the trail in the database no longer
 * matches the last signed head. This module writes and reads checkpoints; it does not decide trust.
 */
import { verify as rsaVerify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import type { KeyStore } from './keystore.ts';
import { CHAIN_DIR } from './rollover.ts';

/** Folder of the checkpoints, relative to the recordings root. */
export const CHECKPOINT_DIR = `${CHAIN_DIR}/checkpoints`;
/** Suffix of a checkpoint's signature. */
export const CHECKPOINT_SIG = '.sig';
/** Default interval between checkpoints while something changes. */
export const CHECKPOINT_INTERVAL_MS = 5 * 60_000;

/** What one checkpoint states. */
export interface Checkpoint {
  readonly createdAtMs: number;
  readonly reason: string;
  readonly chainEpoch: number;
  readonly chainHeadSequence: number;
  readonly chainHeadRecording: string;
  readonly chainHeadSignature: string;
  /** Head of the audit trail; sequence 0 when it is empty. */
  readonly auditHeadSequence: number;
  readonly auditHeadSha256: string;
  readonly publicKeySha256: string;
}

/** A checkpoint read from the tree, with its text and signature as found. */
export interface CheckpointFile {
  /** Path relative to the recordings root. */
  readonly file: string;
  readonly text: string;
  readonly signature: string | undefined;
  readonly checkpoint: Checkpoint | undefined;
}

/** Renders a checkpoint as the signed text. */
export function renderCheckpoint(c: Checkpoint): string {
  const rows: [string, string][] = [
    ['format', 'callseal-checkpoint 1'],
    ['created-at-ms', String(c.createdAtMs)],
    ['reason', c.reason],
    ['chain-epoch', String(c.chainEpoch)],
    ['chain-head-sequence', String(c.chainHeadSequence)],
    ['chain-head-recording', c.chainHeadRecording],
    ['chain-head-signature', c.chainHeadSignature],
    ['audit-head-sequence', String(c.auditHeadSequence)],
    ['audit-head-sha256', c.auditHeadSha256],
    ['public-key-sha256', c.publicKeySha256],
  ];
  return rows.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
}

/** Parses `key: value` lines (rollover records and checkpoints). */
export function parseFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0 && !out.has(line.slice(0, i))) out.set(line.slice(0, i), line.slice(i + 2));
  }
  return out;
}

/** Parses a checkpoint; undefined when it is not one. */
export function parseCheckpoint(text: string): Checkpoint | undefined {
  const f = parseFields(text);
  if (f.get('format') !== 'callseal-checkpoint 1') return undefined;
  const num = (k: string): number => Number(f.get(k) ?? 'x');
  const c: Checkpoint = {
    createdAtMs: num('created-at-ms'), reason: f.get('reason') ?? '', chainEpoch: num('chain-epoch'), chainHeadSequence: num('chain-head-sequence'),
    chainHeadRecording: f.get('chain-head-recording') ?? '', chainHeadSignature: f.get('chain-head-signature') ?? '',
    auditHeadSequence: num('audit-head-sequence'), auditHeadSha256: f.get('audit-head-sha256') ?? '', publicKeySha256: f.get('public-key-sha256') ?? '',
  };
  return [c.createdAtMs, c.chainEpoch, c.chainHeadSequence, c.auditHeadSequence].every(Number.isInteger) ? c : undefined;
}

/**
 * Reads checkpoints from `<root>/chain/checkpoints/`, oldest first; with `latest`, only the newest
 * that many (the audit check needs the last few, not years of them).
 */
export function readCheckpoints(root: string, latest?: number): CheckpointFile[] {
  const dir = join(root, CHECKPOINT_DIR);
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  const years = readdirSync(dir).filter((n) => /^\d{4}$/.test(n)).sort().reverse();
  for (const y of years) {
    const names = readdirSync(join(dir, y)).filter((n) => /^checkpoint-\d+\.txt$/.test(n)).sort().reverse();
    for (const n of names) files.push(`${CHECKPOINT_DIR}/${y}/${n}`);
    if (latest !== undefined && files.length >= latest) break;
  }
  const chosen = (latest !== undefined ? files.slice(0, latest) : files).reverse();
  return chosen.map((file) => {
    const text = readFileSync(join(root, file), 'utf8');
    let signature: string | undefined;
    try {
      signature = readFileSync(join(root, `${file}${CHECKPOINT_SIG}`), 'utf8').trim();
    } catch {
      signature = undefined;
    }
    return { file, text, signature, checkpoint: parseCheckpoint(text) };
  });
}

/** Whether a checkpoint's signature verifies with one of the keys. */
export function checkpointSignedBy(c: CheckpointFile, keys: readonly KeyObject[]): boolean {
  if (c.signature === undefined) return false;
  const sig = Buffer.from(c.signature, 'base64');
  return keys.some((k) => rsaVerify('sha256', Buffer.from(c.text, 'utf8'), k, sig));
}

/** The audit heads of the newest checkpoints whose signature verifies with `keys` (anchors for AuditLog.verify). */
export function auditAnchors(root: string, keys: readonly KeyObject[], latest = 20): { seq: number; sha256: string; atMs: number; file: string }[] {
  return readCheckpoints(root, latest)
    .filter((c) => c.checkpoint !== undefined && c.checkpoint.auditHeadSequence > 0 && checkpointSignedBy(c, keys))
    .map((c) => ({ seq: c.checkpoint?.auditHeadSequence ?? 0, sha256: c.checkpoint?.auditHeadSha256 ?? '', atMs: c.checkpoint?.createdAtMs ?? 0, file: c.file }));
}

/** Options of {@link Checkpointer}. */
export interface CheckpointerOptions {
  readonly recordingsRoot: string;
  readonly keys: KeyStore;
  /** The current chain head. */
  readonly chainHead: () => { epoch: number; seq: number; base: string | undefined; signature: string | undefined } | undefined;
  /** The current audit head. */
  readonly auditHead: () => { seq: number; sha256: string } | undefined;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/** Writes signed checkpoints: now, every interval while a head moved, and at close. */
export class Checkpointer {
  readonly #o: CheckpointerOptions;
  #timer: NodeJS.Timeout | undefined;
  #last = '';
  #closed = false;

  constructor(o: CheckpointerOptions) {
    this.#o = o;
  }

  /** Writes a checkpoint if a head moved since the last one (or `force`); returns its path. */
  write(reason: string, force = false): string | undefined {
    const { keys } = this.#o;
    const head = this.#o.chainHead();
    const audit = this.#o.auditHead();
    const state = JSON.stringify([head, audit]);
    if (!force && state === this.#last) return undefined;
    const nowMs = (this.#o.now ?? Date.now)();
    const text = renderCheckpoint({
      createdAtMs: nowMs, reason, chainEpoch: head?.epoch ?? keys.epoch, chainHeadSequence: head?.seq ?? 0,
      chainHeadRecording: head?.base ?? 'genesis', chainHeadSignature: head?.signature ?? '',
      auditHeadSequence: audit?.seq ?? 0, auditHeadSha256: audit?.sha256 ?? '', publicKeySha256: keys.spkiSha256,
    });
    const dir = join(this.#o.recordingsRoot, CHECKPOINT_DIR, String(new Date(nowMs).getUTCFullYear()));
    mkdirSync(dir, { recursive: true });
    let name = `checkpoint-${String(nowMs).padStart(14, '0')}.txt`;
    for (let i = 1; existsSync(join(dir, name)); i++) name = `checkpoint-${String(nowMs + i).padStart(14, '0')}.txt`;
    writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, `${name}${CHECKPOINT_SIG}`), `${keys.sign(Buffer.from(text, 'utf8')).toString('base64')}\n`);
    this.#last = state;
    return join(dir, name);
  }

  /** Writes the first checkpoint and starts the interval. */
  start(): void {
    this.#safeWrite('start', true);
    this.#timer = setInterval(() => { this.#safeWrite('periodic', false); }, this.#o.intervalMs ?? CHECKPOINT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the interval and writes the shutdown checkpoint (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#safeWrite('shutdown', true);
  }

  #safeWrite(reason: string, force: boolean): void {
    try {
      this.write(reason, force);
    } catch (err) {
      this.#o.log.error({ reason, err: errorMessage(err) }, 'checkpoint could not be written');
    }
  }
}
