import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/**
 * Characters that must not reach a terminal as they are: C0 and C1 controls and DEL (escape sequences could
 * retitle the window, erase or rewrite lines, or set the clipboard) and the bidirectional overrides and
 * isolates (they make text read as other text). Tab and newline are kept only in messages.
 */
const UNPRINTABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;
const UNPRINTABLE_IN_JSON = /(?!\n)[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;
const UNPRINTABLE_IN_MESSAGES = /(?![\t\n])[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

function escapeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x100
    ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
    : `\\u${code.toString(16).toUpperCase()}`;
}

/**
 * JSON text (asciicast lines) made safe for a terminal without changing what it means: every control character
 * but the newline between lines, and the bidirectional overrides and isolates, are written as JSON's `\uXXXX`
 * (which can only stand inside a string, where it is the same character). A recording holds what a session
 * printed, C1 controls included (CSI, OSC as UTF-8): printed raw, they would act on the reader's terminal.
 * Multibyte characters split between chunks are joined first.
 */
export function terminalSafeJson(): Transform {
  const decoder = new StringDecoder('utf8');
  const safe = (text: string) =>
    text.replace(UNPRINTABLE_IN_JSON, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, safe(decoder.write(chunk)));
    },
    flush(done) {
      done(null, safe(decoder.end()));
    },
  });
}

/** `text` safe to print on a terminal: what a server or an agent said, with unprintable characters escaped. */
export function printable(text: string, { message = false } = {}): string {
  return text.replace(message ? UNPRINTABLE_IN_MESSAGES : UNPRINTABLE, escapeCharacter);
}

/** Prints rows as an aligned table, or as JSON with --output json under `key` (camelCase, as the API names it). */
export function printList(
  rows: Record<string, unknown>[],
  columns: [string, string][],
  format: string,
  key: string,
): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ [key]: rows }, null, 2)}\n`);
    return;
  }
  const cells = rows.map((row) => columns.map(([field]) => show(row[field])));
  const headers = columns.map(([, title]) => title);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) =>
    `${values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  process.stdout.write(line(headers));
  for (const row of cells) process.stdout.write(line(row));
  if (rows.length === 0)
    process.stdout.write(`(no ${key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)})\n`);
}

export function printObject(value: unknown, format: string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else {
    // Times (createdAt, lastSeenAt, …) for people, as the tables show them; JSON keeps epoch milliseconds.
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      process.stdout.write(
        `${printable(k)}: ${k.endsWith('At') && typeof v === 'number' ? isoTime(v) : show(v)}\n`,
      );
  }
}

export function show(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object' && !Array.isArray(value)) {
    return printable(
      Object.entries(value)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    );
  }
  if (Array.isArray(value)) return printable(value.join(','));
  return printable(String(value));
}

/** A time for people: ISO 8601 in UTC, to the second. */
export function isoTime(ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}
