/**
 * E-mail alerts (F4) through SMTP (nodemailer): one message when a target starts failing and one
 * when it recovers — one per target and failure streak, never one per attempt. The SMTP settings
 * come from the configuration file or, once entered in the web UI, from the database.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import type { DatabaseSync } from 'node:sqlite';
import type { SecretBox } from '../common/secretbox.ts';
import { smtpSchema } from '../config/schema.ts';
import { MetaRepository } from '../store/index.ts';
import type { z } from 'zod';

/** SMTP settings (as validated by the configuration schema). */
export type SmtpConfig = Readonly<z.infer<typeof smtpSchema>>;

/** Sends alert mails; without SMTP settings it only logs. */
export class Alerts {
  #smtp: SmtpConfig | undefined;
  readonly #log: Logger;
  #transport: Transporter | undefined;
  readonly #instance: string;

  constructor(smtp: SmtpConfig | undefined, instance: string, log: Logger) {
    this.#log = log;
    this.#instance = instance;
    this.configure(smtp);
  }

  /** Replaces the SMTP settings (from the web UI); undefined turns mail off. */
  configure(smtp: SmtpConfig | undefined): void {
    this.#transport?.close();
    this.#smtp = smtp;
    this.#transport = smtp ? nodemailer.createTransport({
      host: smtp.host, port: smtp.port, secure: smtp.secure, ignoreTLS: !smtp.secure,
      ...(smtp.user !== undefined ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    }) : undefined;
  }

  /** The SMTP settings without the password (for the UI). */
  describe(): { configured: boolean; host?: string; port?: number; secure?: boolean; user?: string | undefined; password?: string; from?: string; to: readonly string[] } {
    const s = this.#smtp;
    return s ? { configured: true, host: s.host, port: s.port, secure: s.secure, user: s.user, ...(s.password !== undefined ? { password: '(set)' } : {}), from: s.from, to: s.to } : { configured: false, to: [] };
  }

  /** Sends one mail; failures are logged, never thrown (an alert must not stop archiving). */
  async send(subject: string, text: string): Promise<boolean> {
    this.#log.warn({ subject }, 'alert');
    if (!this.#transport || !this.#smtp || this.#smtp.to.length === 0) return false;
    try {
      await this.#transport.sendMail({ from: this.#smtp.from, to: [...this.#smtp.to], subject: `[callseal ${this.#instance}] ${subject}`, text });
      return true;
    } catch (err) {
      this.#log.error({ err: errorMessage(err), subject }, 'alert mail could not be sent');
      return false;
    }
  }

  targetFailing(targetId: string, error: string, sinceMs: number): Promise<boolean> {
    return this.send(`target ${targetId} is failing`, `Copies to storage target "${targetId}" fail since ${new Date(sinceMs).toISOString()}.\n\nLast error: ${error}\n\nRecordings stay on the recorder and are retried; you get one more mail when the target works again.\n`);
  }

  /** F4: a cloud target's sign-in expired or lost its consent; copies wait until somebody acts. */
  signInLost(targetId: string, message: string): Promise<boolean> {
    return this.send(`target ${targetId}: Microsoft sign-in needs attention`, `The sign-in of storage target "${targetId}" stopped working, so no recording can be copied to it.\n\n${message}\n\nRecordings stay on the recorder and are retried. For a user sign-in, use "Sign in" on the target in the web UI; for an app sign-in, renew the secret or certificate, or grant the app's permissions again.\n`);
  }

  targetRecovered(targetId: string, failedForMs: number): Promise<boolean> {
    return this.send(`target ${targetId} works again`, `Storage target "${targetId}" accepts copies again after ${Math.round(failedForMs / 1000)} s of failures. Waiting recordings are being copied.\n`);
  }
}

const SMTP_KEY = 'alerts.smtp';

/**
 * SMTP settings entered in the web UI: stored sealed (AES-256-GCM, the password included) in the
 * database, and used instead of the configuration file's `alerts.smtp` until removed.
 */
export class AlertSettings {
  readonly #meta: MetaRepository;
  readonly #box: SecretBox;
  readonly #fromFile: SmtpConfig | undefined;

  constructor(db: DatabaseSync, box: SecretBox, fromFile: SmtpConfig | undefined) {
    this.#meta = new MetaRepository(db);
    this.#box = box;
    this.#fromFile = fromFile;
  }

  /** The settings in force and where they come from. */
  current(): { smtp: SmtpConfig | undefined; source: 'ui' | 'file' | 'none' } {
    const stored = this.#meta.get(SMTP_KEY);
    if (stored !== undefined) return { smtp: smtpSchema.parse(this.#box.open(stored)), source: 'ui' };
    return { smtp: this.#fromFile, source: this.#fromFile ? 'file' : 'none' };
  }

  /** Validates and stores new settings; a missing password keeps the stored one. */
  save(raw: unknown): SmtpConfig {
    const given = smtpSchema.parse(raw);
    const old = this.current().smtp;
    const smtp = given.password === undefined && old?.password !== undefined && given.user !== undefined ? { ...given, password: old.password } : given;
    this.#meta.set(SMTP_KEY, this.#box.seal(smtp));
    return smtp;
  }

  /** Removes the stored settings: the configuration file's apply again. */
  reset(): SmtpConfig | undefined {
    this.#meta.delete(SMTP_KEY);
    return this.#fromFile;
  }
}
