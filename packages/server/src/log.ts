import pino from 'pino';

export type Logger = pino.Logger;

/** Paths that may carry secrets anywhere in a log record. */
const REDACT = [
  'password',
  'token',
  'activationCode',
  'secret',
  'secretsKey',
  'authorization',
  '*.password',
  '*.token',
  '*.activationCode',
  '*.secret',
  '*.secretsKey',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { service: 'sesame' },
    },
    options.destination,
  );
}
