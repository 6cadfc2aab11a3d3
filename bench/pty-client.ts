/**
 * A terminal client (ssh, sesame, a local shell) running in a real PTY, driven by the benchmark. It never
 * keeps the output: it counts bytes, keeps a short tail for error messages, and scans each chunk for at
 * most one awaited marker, across chunk boundaries, so it is not the bottleneck it measures.
 */
import { type IPty, spawn } from 'node-pty';

export type ClientCommand = { file: string; args: string[]; env?: Record<string, string> };

const TAIL_BYTES = 2048;
const ESCAPE_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[a-zA-Z]`, 'g');

type Waiter = { needle: Buffer; carry: Buffer; done: () => void };

/** The last `keep` bytes of `head` followed by `chunk`, copied (so the chunk can be released). */
function tailOf(head: Buffer, chunk: Buffer, keep: number): Buffer {
  if (keep <= 0) return Buffer.alloc(0);
  if (chunk.length >= keep) return Buffer.from(chunk.subarray(chunk.length - keep));
  const joined = Buffer.concat([head, chunk]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
}

export class PtyClient {
  readonly name: string;
  /** Bytes read from the PTY so far. */
  bytes = 0;
  #pty: IPty;
  #tail: Buffer = Buffer.alloc(0);
  #waiter: Waiter | undefined;
  #onChunk: ((chunk: Buffer) => void) | undefined;
  #exited: string | undefined;
  readonly #exit: Promise<void>;
  #lastDataAt = 0;

  constructor(name: string, command: ClientCommand) {
    this.name = name;
    this.#pty = spawn(command.file, command.args, {
      name: 'xterm-256color',
      cols: 120,
      rows: 40,
      encoding: null,
      env: { ...process.env, ...command.env } as Record<string, string>,
    });
    this.#pty.onData((data) => this.#data(data as unknown as Buffer));
    this.#exit = new Promise((resolve) =>
      this.#pty.onExit(({ exitCode, signal }) => {
        this.#exited = `exited with ${exitCode}${signal ? ` (signal ${signal})` : ''}`;
        resolve();
      }),
    );
  }

  #data(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.#lastDataAt = Date.now();
    this.#onChunk?.(chunk);
    const w = this.#waiter;
    if (w) {
      const n = w.needle.length;
      const boundary = Buffer.concat([w.carry, chunk.subarray(0, n - 1)]);
      if (boundary.includes(w.needle) || chunk.includes(w.needle)) {
        this.#waiter = undefined;
        w.done();
      } else w.carry = tailOf(w.carry, chunk, n - 1);
    }
    this.#tail = tailOf(this.#tail, chunk, TAIL_BYTES);
  }

  /** What the terminal showed last, printable, for error messages. */
  tail(): string {
    return this.#tail.toString('utf8').replace(ESCAPE_SEQUENCE, '');
  }

  /** The client process (the program the PTY runs). */
  get pid(): number {
    return this.#pty.pid;
  }

  write(text: string): void {
    this.#pty.write(text);
  }

  #fail(what: string): Error {
    const state = this.#exited ? ` (client ${this.#exited})` : '';
    return new Error(`${this.name}: ${what}${state}; terminal shows:\n${this.tail()}`);
  }

  /** Writes `text` (if any) and resolves when `marker` appears in output that arrives after the call. */
  expect(marker: string, text = '', timeoutMs = 20_000): Promise<void> {
    if (this.#waiter) throw new Error(`${this.name}: already waiting for output`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(this.#fail(`timed out after ${timeoutMs} ms waiting for ${JSON.stringify(marker)}`));
      }, timeoutMs);
      this.#waiter = {
        needle: Buffer.from(marker),
        carry: Buffer.alloc(0),
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      if (text) this.write(text);
    });
  }

  /** Resolves once some output arrived and the terminal then stayed quiet for `quietMs`. */
  async settle(quietMs = 400, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.bytes === 0 || Date.now() - this.#lastDataAt < quietMs) {
      if (this.#exited) throw this.#fail('the client exited before the shell was ready');
      if (Date.now() > deadline) throw this.#fail(`no quiet shell prompt within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Sends one character and resolves with the microseconds until the terminal shows it back. The time is
   * taken in the data callback itself, before any promise hop.
   */
  roundTrip(char: string, timeoutMs = 5_000): Promise<number> {
    const byte = char.charCodeAt(0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onChunk = undefined;
        reject(this.#fail(`no echo of ${JSON.stringify(char)} within ${timeoutMs} ms`));
      }, timeoutMs);
      let start = 0n;
      this.#onChunk = (chunk) => {
        if (!chunk.includes(byte)) return;
        const micros = Number(process.hrtime.bigint() - start) / 1000;
        this.#onChunk = undefined;
        clearTimeout(timer);
        resolve(micros);
      };
      start = process.hrtime.bigint();
      this.#pty.write(char);
    });
  }

  /** Ends the client process alone (the shell it reached stays, for a client that shares it). */
  async kill(): Promise<void> {
    if (this.#exited) return;
    this.#waiter = undefined;
    this.#onChunk = undefined;
    this.#pty.kill('SIGKILL');
    await this.#exit;
  }

  /**
   * Interrupts whatever runs, exits the shell (so the client ends as it normally would and, say, writes its
   * profile) and kills the client if it is still there after `timeoutMs`.
   */
  async close(timeoutMs = 3_000): Promise<void> {
    if (this.#exited) return;
    this.#waiter = undefined;
    this.#onChunk = undefined;
    // After ^C, bash drops what is typed before its new prompt: wait for the prompt, then type exit.
    await this.expect('P> ', '\x03', 2_000).catch(() => {});
    this.#pty.write('exit\r');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#exit, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await this.kill();
  }
}
