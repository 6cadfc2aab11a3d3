import { isLoopback } from '@sesame/agent/tls';
import { createTransport } from 'nodemailer';
import { SesameError } from '../errors.ts';
import type { Logger } from '../log.ts';

export type SmtpSettings = {
  host: string;
  port: number;
  /** TLS from the first byte (SMTPS, usually port 465). Defaults to `port === 465`; otherwise STARTTLS when offered. */
  secure?: boolean;
  /** Allow a server on another machine that offers no STARTTLS; otherwise TLS is required (see createMailer). */
  plaintext?: boolean;
  user?: string;
  password?: string;
  /** The sender, e.g. `Sesame <sesame@example.com>`. */
  from: string;
};

export type MailMessage = { to: string; subject: string; text: string; html?: string };

export type Mailer = { send(message: MailMessage): Promise<void> };

type Deps = { smtp: SmtpSettings; log: Pick<Logger, 'info' | 'warn'> };

/** A mail server that does not answer must not hold a sign-in request for long. */
const TIMEOUT_MS = 10_000;

/**
 * Sends mail through one SMTP server. Bodies carry one-time codes, so they are never logged; neither is the
 * password, and a failure's message is scrubbed of it before it reaches a log or a person.
 */
export function createMailer({ smtp, log }: Deps): Mailer {
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure ?? smtp.port === 465,
    // Codes and reset links must not fall back to clear text when STARTTLS is stripped on the way: required
    // unless the server is on this machine or `plaintext` says the network is trusted.
    requireTLS: !(smtp.secure ?? smtp.port === 465) && !smtp.plaintext && !isLoopback(smtp.host),
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    dnsTimeout: TIMEOUT_MS,
    logger: false,
    debug: false,
  });

  return {
    async send({ to, subject, text, html }) {
      try {
        const info = await transport.sendMail({
          from: smtp.from,
          to,
          subject,
          text,
          ...(html ? { html } : {}),
        });
        log.info({ to, subject, messageId: info.messageId }, 'email sent');
      } catch (error) {
        const reason = describeFailure(error, smtp.password);
        log.warn({ to, subject, smtpHost: smtp.host, smtpPort: smtp.port, reason }, 'email not sent');
        throw new SesameError(
          'UNAVAILABLE',
          `could not send email: ${reason} (SMTP server ${smtp.host}:${smtp.port}); check the SMTP settings or try again later`,
        );
      }
    },
  };
}

/** The error's message and code, with the password (and its base64, as sent by AUTH) cut out. */
function describeFailure(error: unknown, password: string | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  let reason = typeof code === 'string' && !message.includes(code) ? `${message} [${code}]` : message;
  if (password) {
    for (const secret of [password, Buffer.from(password).toString('base64')]) {
      reason = reason.split(secret).join('[redacted]');
    }
  }
  return reason.replace(/\s+/g, ' ').trim() || 'unknown error';
}
