import { Buffer } from 'node:buffer';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AsciicastHeader, EVENT_CODES, isPositiveInteger } from './asciicast-format.ts';
import { BatchedFileWriter } from './batched-file-writer.ts';
import { Utf8JsonEscaper } from './utf8-json-escaper.ts';

export type RecorderOptions = {
  /** File to create: parent directories are created (mode 0700), the file gets mode 0600 and must not exist. */
  path: string;
  width: number;
  height: number;
  /** Epoch ms for the header timestamp (default Date.now()). */
  startedAt?: number;
  title?: string;
  env?: Record<string, string>;
  /** Goes into the header under "sesame" (sessionId, user, instanceId, …). */
  meta?: Record<string, unknown>;
  /** Monotonic ms (default performance.now()); event times are relative to the recorder's creation. */
  clock?: () => number;
  /** Bound on encoded bytes not yet written to disk (default 1 MiB). */
  maxPendingBytes?: number;
};

export interface Recorder {
  /** Records output bytes; false when too much is pending: stop granting flow-control credit until onDrain. */
  output(data: Uint8Array): boolean;
  /** Records input bytes; returns like `output`. */
  input(data: Uint8Array): boolean;
  /** Records a terminal resize; throws RangeError unless both are positive integers. */
  resize(cols: number, rows: number): void;
  marker(label: string): void;
  /** Called once per registration when pending bytes are back within the limit; never after a failure. */
  onDrain(callback: () => void): void;
  /** Flushes the decoders and everything else, adds a final "m" event if given, fsyncs, closes. Idempotent;
   * rejects with `failed` when the recording is incomplete. */
  close(marker?: string): Promise<void>;
  readonly bytesWritten: number;
  /** The recording's size so far: what was written and what waits to be. */
  readonly bytesRecorded: number;
  readonly path: string;
  /** The disk write error, if any: later events are dropped and the session must end. */
  readonly failed: Error | undefined;
  onError(callback: (error: Error) => void): void;
}

const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;
/** Room for `[<time>,"o","` and `"]\n`. */
const FRAMING_BYTES = 64;
const CLOSE_EVENT = Buffer.from('"]\n', 'latin1');

/** Creates the recording file and writes its header; events are then appended in call order. */
export async function createAsciicastRecorder(options: RecorderOptions): Promise<Recorder> {
  const { path, width, height } = options;
  if (!isPositiveInteger(width) || !isPositiveInteger(height)) {
    throw new RangeError(`recording size must be positive integers, got ${width}x${height}`);
  }
  const maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  if (!(maxPendingBytes > 0)) {
    throw new RangeError(`maxPendingBytes must be positive, got ${maxPendingBytes}`);
  }
  const clock = options.clock ?? (() => performance.now());
  const origin = clock();
  const handle = await openNew(path);
  const writer = new BatchedFileWriter(handle, {
    maxPendingBytes,
    describe: (error) => writeFailed(path, error),
  });
  const line = Buffer.from(`${JSON.stringify(header(options))}\n`, 'utf8');
  const slab = writer.reserve(line.length);
  line.copy(slab, writer.offset);
  writer.commit(writer.offset + line.length);
  try {
    await writer.flush();
  } catch (error) {
    await writer.close().catch(() => {});
    throw error;
  }
  return new AsciicastRecorder(path, writer, clock, origin);
}

function header(options: RecorderOptions): AsciicastHeader {
  const result: AsciicastHeader = {
    version: 2,
    width: options.width,
    height: options.height,
    timestamp: Math.floor((options.startedAt ?? Date.now()) / 1000),
  };
  if (options.title !== undefined) result.title = options.title;
  if (options.env !== undefined) result.env = options.env;
  if (options.meta !== undefined) result.sesame = options.meta;
  return result;
}

async function openNew(path: string): Promise<FileHandle> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new Error(
      `cannot create recording ${path}: ${(error as Error).message}; check the recordings directory`,
      {
        cause: error,
      },
    );
  }
  try {
    return await open(path, 'wx', 0o600);
  } catch (error) {
    const message =
      (error as NodeJS.ErrnoException).code === 'EEXIST'
        ? `recording ${path} already exists; recordings are never overwritten, use a new file name`
        : `cannot create recording ${path}: ${(error as Error).message}; check the recordings directory`;
    throw new Error(message, { cause: error });
  }
}

function writeFailed(path: string, error: unknown): Error {
  return new Error(
    `writing recording ${path} failed: ${(error as Error).message}; the session cannot be recorded and must ` +
      'end (check free space and permissions of the recordings directory)',
    { cause: error },
  );
}

class AsciicastRecorder implements Recorder {
  readonly path: string;
  #writer: BatchedFileWriter;
  #clock: () => number;
  #origin: number;
  #lastMs = 0;
  #output = new Utf8JsonEscaper();
  #input = new Utf8JsonEscaper();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(path: string, writer: BatchedFileWriter, clock: () => number, origin: number) {
    this.path = path;
    this.#writer = writer;
    this.#clock = clock;
    this.#origin = origin;
  }

  get bytesWritten(): number {
    return this.#writer.bytesWritten;
  }

  get bytesRecorded(): number {
    return this.#writer.bytesWritten + this.#writer.pendingBytes;
  }

  get failed(): Error | undefined {
    return this.#writer.failed;
  }

  output(data: Uint8Array): boolean {
    if (this.#closed) return false;
    return this.#bytes(EVENT_CODES.output, this.#output, data);
  }

  input(data: Uint8Array): boolean {
    if (this.#closed) return false;
    return this.#bytes(EVENT_CODES.input, this.#input, data);
  }

  resize(cols: number, rows: number): void {
    if (!isPositiveInteger(cols) || !isPositiveInteger(rows)) {
      throw new RangeError(`terminal size must be positive integers, got ${cols}x${rows}`);
    }
    if (!this.#closed) this.#text(EVENT_CODES.resize, `${cols}x${rows}`);
  }

  marker(label: string): void {
    if (!this.#closed) this.#text(EVENT_CODES.marker, label);
  }

  onDrain(callback: () => void): void {
    this.#writer.onDrain(callback);
  }

  onError(callback: (error: Error) => void): void {
    this.#writer.onError(callback);
  }

  close(marker?: string): Promise<void> {
    this.#closing ??= this.#close(marker);
    return this.#closing;
  }

  async #close(marker: string | undefined): Promise<void> {
    this.#closed = true;
    this.#bytes(EVENT_CODES.output, this.#output, undefined);
    this.#bytes(EVENT_CODES.input, this.#input, undefined);
    if (marker !== undefined) this.#text(EVENT_CODES.marker, marker);
    await this.#writer.close();
  }

  /** Seconds since creation, never less than the previous event's. */
  #time(): string {
    const ms = this.#clock() - this.#origin;
    if (ms > this.#lastMs) this.#lastMs = ms;
    return (this.#lastMs / 1000).toFixed(6);
  }

  /** Appends an "o" or "i" event for `data`, or for the carried bytes when `data` is undefined. */
  #bytes(code: 'o' | 'i', escaper: Utf8JsonEscaper, data: Uint8Array | undefined): boolean {
    const writer = this.#writer;
    if (writer.failed) return false;
    const slab = writer.reserve(FRAMING_BYTES + Utf8JsonEscaper.maxBytes(data?.length ?? 0));
    const start = writer.offset;
    const bodyStart = start + slab.write(`[${this.#time()},"${code}","`, start, 'latin1');
    const bodyEnd = data ? escaper.write(data, slab, bodyStart) : escaper.end(slab, bodyStart);
    if (bodyEnd === bodyStart) return writer.accepting; // only part of a character so far
    CLOSE_EVENT.copy(slab, bodyEnd);
    return writer.commit(bodyEnd + CLOSE_EVENT.length);
  }

  #text(code: 'r' | 'm', data: string): void {
    const writer = this.#writer;
    if (writer.failed) return;
    const line = `[${this.#time()},"${code}",${JSON.stringify(data)}]\n`;
    const size = Buffer.byteLength(line, 'utf8');
    const slab = writer.reserve(size);
    writer.commit(writer.offset + slab.write(line, writer.offset, 'utf8'));
  }
}
