/**
 * The storage and database checks of invariant 3 ("never silently skip a call"): every
 * `recording.storageCheckMs` the recordings' file system is measured and written to, and the
 * database is written to. Below `recording.minFreeMb`, or when the spool or the database cannot be
 * written, new sessions are refused (the intake gate, 503 with Warning); below
 * `recording.stopFreeMb` running recordings are ended and sealed before the disk is full; below
 * `http.diskWarnPercent` one warning goes out. Each change is alerted once, and once when it is
 * over. The checks act only through the callbacks they are given: they know no SIP and no mail.
 */
import { statfs, writeFile } from 'node:fs/promises';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

/** What the storage check found last; `/healthz` shows it. */
export interface StorageStatus {
  readonly freeMb: number | undefined;
  readonly writable: boolean | undefined;
  readonly problem: string | undefined;
  readonly checkedAtMs: number | undefined;
}

/** What the database check found last; `/healthz` shows it. */
export interface DatabaseStatus {
  readonly writable: boolean | undefined;
  readonly problem: string | undefined;
  readonly checkedAtMs: number | undefined;
}

/** Why new sessions are refused, or undefined when they are taken. */
export type IntakeBlock = { readonly code: 'CS_STORAGE_LOW' | 'CS_DATABASE_UNWRITABLE'; readonly text: string } | undefined;

/** Options of {@link IntakeMonitor}. */
export interface IntakeMonitorOptions {
  readonly recordingsRoot: string;
  /** One small file rewritten in place: no file comes and goes in the spool or recordings tree. */
  readonly probeFile: string;
  readonly minFreeMb: number;
  readonly stopFreeMb: number;
  readonly diskWarnPercent: number;
  readonly checkMs: number;
  /** Writes to the database; throws when it cannot be written. */
  readonly probeDatabase: () => void;
  /** Ends every running recording with `reason`; returns the Call-IDs it ended. */
  readonly endRecordings: (reason: string) => readonly string[];
  /** Opens or closes the intake gate for new sessions. */
  readonly setIntake: (block: IntakeBlock) => void;
  /** Sends an alert; resolves whether or not it was delivered. */
  readonly alert: (subject: string, text: string) => Promise<unknown>;
  /** Notes a problem for the dashboard's "last errors". */
  readonly noteError: (message: string) => void;
  readonly log: Logger;
}

/** Runs the storage and database checks and keeps the intake gate in step with them. */
export class IntakeMonitor {
  readonly #o: IntakeMonitorOptions;
  #storage: StorageStatus = { freeMb: undefined, writable: undefined, problem: undefined, checkedAtMs: undefined };
  #database: DatabaseStatus = { writable: undefined, problem: undefined, checkedAtMs: undefined };
  #storageBlock: string | undefined;
  #databaseBlock: string | undefined;
  #stoppedForDisk = false;
  #diskLow = false;
  #checking = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: IntakeMonitorOptions) {
    this.#o = options;
  }

  /** The last storage check. */
  get storage(): StorageStatus {
    return this.#storage;
  }

  /** The last database check. */
  get database(): DatabaseStatus {
    return this.#database;
  }

  /** Runs the first check, then one every `checkMs`. */
  async start(): Promise<void> {
    if (this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.#checking) return;
      this.#checking = true;
      void this.check().finally(() => { this.#checking = false; });
    }, this.#o.checkMs);
    this.#timer.unref();
    await this.check();
  }

  /** Checks storage and database once and sets the intake gate. */
  async check(): Promise<void> {
    try {
      await this.#checkStorage();
    } catch (err) {
      const problem = `storage check failed: ${errorMessage(err)}`;
      this.#storage = { ...this.#storage, problem };
      this.#storageBlock = problem;
      this.#o.log.warn({ err: errorMessage(err) }, 'storage check failed');
    }
    this.#checkDatabase();
    this.#o.setIntake(this.#databaseBlock !== undefined ? { code: 'CS_DATABASE_UNWRITABLE', text: this.#databaseBlock }
      : this.#storageBlock !== undefined ? { code: 'CS_STORAGE_LOW', text: this.#storageBlock } : undefined);
  }

  /** Stops the checks; idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #checkStorage(): Promise<void> {
    const o = this.#o;
    const fs = await statfs(o.recordingsRoot);
    const freeMb = (fs.bavail * fs.bsize) / (1024 * 1024);
    let writable: boolean;
    let problem: string | undefined;
    try {
      await writeFile(o.probeFile, `${Date.now()}\n`, { mode: 0o600 });
      writable = true;
    } catch (err) {
      writable = false;
      problem = `recordings storage not writable: ${errorMessage(err)}`;
    }
    if (problem === undefined && freeMb < o.minFreeMb) problem = `free space for recordings ${freeMb.toFixed(0)} MiB is below the floor of ${o.minFreeMb} MiB (recording.minFreeMb)`;
    this.#storage = { freeMb: Math.floor(freeMb), writable, problem, checkedAtMs: Date.now() };
    if (freeMb < o.stopFreeMb && !this.#stoppedForDisk) {
      this.#stoppedForDisk = true;
      const ended = o.endRecordings(`disk-low: ${freeMb.toFixed(0)} MiB free, below recording.stopFreeMb (${o.stopFreeMb} MiB)`);
      if (ended.length > 0) {
        const text = `free space for recordings ${freeMb.toFixed(0)} MiB is below ${o.stopFreeMb} MiB (recording.stopFreeMb): ${ended.length} running recording(s) ended and sealed`;
        o.noteError(text);
        void o.alert('recordings ended: disk nearly full', `${text}\n\nCall-IDs:\n${ended.join('\n')}\n`);
      }
    } else if (freeMb >= o.stopFreeMb) this.#stoppedForDisk = false;
    if (problem !== undefined && this.#storageBlock === undefined) {
      o.noteError(problem);
      void o.alert('new calls refused: storage', `${problem}\n\nNew recording sessions get 503 until this is resolved: ${o.recordingsRoot}\n`);
    } else if (problem === undefined && this.#storageBlock !== undefined) {
      void o.alert('new calls taken again: storage', `storage is usable again (${freeMb.toFixed(0)} MiB free); new recording sessions are taken\n`);
    }
    this.#storageBlock = problem;
    await this.#checkDiskWarning(fs.blocks > 0 ? (fs.bavail / fs.blocks) * 100 : 100);
  }

  /** One mail (and dashboard entry) when free space falls below `http.diskWarnPercent`, one when it is back. */
  async #checkDiskWarning(percent: number): Promise<void> {
    const o = this.#o;
    if (percent < o.diskWarnPercent && !this.#diskLow) {
      this.#diskLow = true;
      const text = `free disk space for recordings is ${percent.toFixed(1)} % (warning below ${o.diskWarnPercent} %): ${o.recordingsRoot}`;
      o.noteError(text);
      await o.alert('disk space low', `${text}\n`);
    } else if (percent >= o.diskWarnPercent && this.#diskLow) {
      this.#diskLow = false;
      await o.alert('disk space recovered', `free disk space for recordings is ${percent.toFixed(1)} % again\n`);
    }
  }

  #checkDatabase(): void {
    const o = this.#o;
    let problem: string | undefined;
    try {
      o.probeDatabase();
    } catch (err) {
      problem = `database not writable: ${errorMessage(err)}`;
    }
    this.#database = { writable: problem === undefined, problem, checkedAtMs: Date.now() };
    if (problem !== undefined && this.#databaseBlock === undefined) {
      o.noteError(problem);
      void o.alert('new calls refused: database', `${problem}\n\nNew recording sessions get 503 until the database can be written again.\n`);
    } else if (problem === undefined && this.#databaseBlock !== undefined) {
      void o.alert('new calls taken again: database', 'the database can be written again; new recording sessions are taken\n');
    }
    this.#databaseBlock = problem;
  }
}
