/**
 * E-mail alerts (F4) through SMTP (nodemailer): one message when a target starts failing and one
 * when it recovers — one per target and failure streak, never one per attempt.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';

/** SMTP settings. */
export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly from: string;
  readonly to: readonly string[];
}

/** Sends alert mails; without SMTP settings it only logs. */
export class Alerts {
  readonly #smtp: SmtpConfig | undefined;
  readonly #log: Logger;
  readonly #transport: Transporter | undefined;
  readonly #instance: string;

  constructor(smtp: SmtpConfig | undefined, instance: string, log: Logger) {
    this.#smtp = smtp;
    this.#log = log;
    this.#instance = instance;
    this.#transport = smtp ? nodemailer.createTransport({
      host: smtp.host, port: smtp.port, secure: smtp.secure, ignoreTLS: !smtp.secure,
      ...(smtp.user !== undefined ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    }) : undefined;
  }

  /** The SMTP settings without the password (for the UI). */
  describe(): { configured: boolean; host?: string; port?: number; secure?: boolean; user?: string | undefined; from?: string; to: readonly string[] } {
    const s = this.#smtp;
    return s ? { configured: true, host: s.host, port: s.port, secure: s.secure, user: s.user, from: s.from, to: s.to } : { configured: false, to: [] };
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

  targetRecovered(targetId: string, failedForMs: number): Promise<boolean> {
    return this.send(`target ${targetId} works again`, `Storage target "${targetId}" accepts copies again after ${Math.round(failedForMs / 1000)} s of failures. Waiting recordings are being copied.\n`);
  }
}
