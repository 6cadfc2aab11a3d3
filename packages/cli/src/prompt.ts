import { CliError, ExitCodes } from './errors.ts';

/** Reads a secret from the terminal without echo, or the next line of stdin when it is not a terminal. */
export async function readSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) return readLine();
  return readTerminal(question, false);
}

/**
 * Asks for a short code (MFA): from the terminal with echo, or the next line of stdin. The question goes to
 * stderr either way, so a script driving the CLI can see what is asked.
 */
export async function readCode(question: string): Promise<string> {
  if (process.stdin.isTTY) return (await readTerminal(`${question} `, true)).trim();
  process.stderr.write(`${question}\n`);
  return (await readLine()).trim();
}

function readTerminal(question: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          done();
          return resolve(value);
        }
        if (char === '\u0003' || char === '\u0004') {
          done();
          return reject(new CliError('cancelled', ExitCodes.FAILURE));
        }
        if (char === '\u007f' || char === '\b') {
          if (echo && value.length > 0) process.stderr.write('\b \b');
          value = value.slice(0, -1);
        } else if (value.length < 1024 && char >= ' ') {
          value += char;
          if (echo) process.stderr.write(char);
        }
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** A pipe or socket stdin keeps the process alive even when paused, unless unref'd. */
const handle = (stream: NodeJS.ReadableStream) =>
  'unref' in stream && typeof stream.unref === 'function'
    ? (stream as unknown as { ref(): void; unref(): void })
    : undefined;

/** What was read past the last line, and whether the input ended, per stream. */
const buffers = new WeakMap<NodeJS.ReadableStream, { pending: string; ended: boolean }>();

/**
 * The next line of stdin (without the newline). Bytes after the line stay buffered for the next call, so a
 * script can pipe the password and then the MFA code; stdin is paused between calls so it does not keep the
 * process alive. At the end of input, the rest (perhaps empty) is the line.
 */
export function readLine(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const buffer = buffers.get(stdin) ?? { pending: '', ended: false };
  buffers.set(stdin, buffer);
  const take = (): string | undefined => {
    const at = buffer.pending.indexOf('\n');
    if (at >= 0) {
      const line = buffer.pending.slice(0, at).replace(/\r$/, '');
      buffer.pending = buffer.pending.slice(at + 1);
      return line;
    }
    if (buffer.ended || buffer.pending.length > 4096) {
      const rest = buffer.pending;
      buffer.pending = '';
      return rest;
    }
    return undefined;
  };
  // The end may have come while paused between two reads, with nobody listening.
  if ((stdin as { readableEnded?: boolean }).readableEnded) buffer.ended = true;
  const ready = take();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise((resolve) => {
    const finish = () => {
      const line = take();
      if (line === undefined) return;
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      handle(stdin)?.unref();
      resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      buffer.pending += chunk.toString();
      finish();
    };
    const onEnd = () => {
      buffer.ended = true;
      finish();
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    handle(stdin)?.ref();
    stdin.resume();
  });
}
