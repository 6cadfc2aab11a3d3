import { Buffer } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';

// Appends bytes to a file in big batches. Callers encode straight into a slab buffer (`reserve`, then
// `commit`); committed regions are written with one writev when 64 KiB are pending or `flushDelayMs`
// (20 ms) after the first unwritten commit, and while a write is in flight everything committed meanwhile
// forms the next batch. The delay turns a shell's many small outputs (and every keystroke) into a few
// large writes instead of one thread-pool write per event-loop turn.
// Pending bytes (committed, not yet on disk) are bounded by the caller through `commit`'s boolean and
// `onDrain`. The first write error is final: later bytes are dropped and `onError` callbacks run, and on close
// the file is cut back to the end of the last commit written whole (each commit is whole records, so a disk that
// filled up mid-write leaves a file of whole records, not a cut-off last line).
// A full slab is reused once all its bytes are on disk, so a long flood of output encodes into the same few
// slabs instead of a fresh megabyte of memory per megabyte recorded (each new slab is memory outside the
// JavaScript heap, and a steady stream of them makes V8 run full garbage collections to free them).

const FIRST_SLAB_BYTES = 64 * 1024;
/** Written slabs kept for reuse. */
const MAX_SPARE_SLABS = 2;

export type BatchedFileWriterOptions = {
  maxPendingBytes: number;
  /** Start a write at once when this many bytes are pending (default 64 KiB). */
  flushBytes?: number;
  /** Longest time committed bytes wait before a write starts (default 20 ms). */
  flushDelayMs?: number;
  /** Largest slab that events are encoded into (default 1 MiB; slabs start at 64 KiB and double, and a
   * bigger reservation gets a slab of its own size). */
  slabBytes?: number;
  /** Turns a system error into the error callers see (say which file and what to do). */
  describe: (error: unknown) => Error;
};

export class BatchedFileWriter {
  #handle: FileHandle;
  #options: Required<BatchedFileWriterOptions>;
  #slab: Buffer;
  #start = 0; // first committed byte of the slab not yet queued
  #end = 0; // end of the committed bytes in the slab
  #queued: Buffer[] = [];
  /** Slabs replaced while some of their bytes were still unwritten: reusable once `written` reaches `until`. */
  #retired: { slab: Buffer; until: number }[] = [];
  #spare: Buffer[] = [];
  #committed = 0;
  #written = 0;
  /** Bytes of the file up to the end of the last commit written whole. */
  #whole = 0;
  #writing: Promise<void> | undefined;
  #scheduled = false;
  #failed: Error | undefined;
  #drain: (() => void)[] = [];
  #errors: ((error: Error) => void)[] = [];
  #closing: Promise<void> | undefined;
  #closed = false; // everything is written and no more bytes are taken

  constructor(handle: FileHandle, options: BatchedFileWriterOptions) {
    this.#handle = handle;
    this.#options = { flushBytes: 64 * 1024, flushDelayMs: 20, slabBytes: 1024 * 1024, ...options };
    this.#slab = Buffer.allocUnsafe(Math.min(FIRST_SLAB_BYTES, this.#options.slabBytes));
  }

  get bytesWritten(): number {
    return this.#written;
  }

  get pendingBytes(): number {
    return this.#committed - this.#written;
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** True while pending bytes are within the limit and nothing has failed. */
  get accepting(): boolean {
    return this.#failed === undefined && this.pendingBytes <= this.#options.maxPendingBytes;
  }

  /** Returns the slab to encode into, with at least `size` free bytes from `offset` on. */
  reserve(size: number): Buffer {
    if (this.#slab.length - this.#end < size) {
      this.#queue();
      this.#retired.push({ slab: this.#slab, until: this.#committed });
      this.#recycle();
      const next = Math.max(Math.min(this.#options.slabBytes, 2 * this.#slab.length), size);
      this.#slab = this.#takeSpare(next) ?? Buffer.allocUnsafe(next);
      this.#start = 0;
      this.#end = 0;
    }
    return this.#slab;
  }

  /** Where the next bytes go in the slab returned by `reserve`. */
  get offset(): number {
    return this.#end;
  }

  /** Commits the slab bytes up to `end`. Returns false when the caller should pause (see `onDrain`). */
  commit(end: number): boolean {
    if (this.#failed || this.#closed) return false;
    this.#committed += end - this.#end;
    this.#end = end;
    if (this.#writing === undefined) {
      if (this.pendingBytes >= this.#options.flushBytes) this.#pump();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(() => {
          this.#scheduled = false;
          this.#pump();
        }, this.#options.flushDelayMs);
      }
    }
    return this.accepting;
  }

  /** Calls `callback` once, when pending bytes are back within the limit (soon if they already are). */
  onDrain(callback: () => void): void {
    if (this.#failed) return;
    if (this.accepting) queueMicrotask(callback);
    else this.#drain.push(callback);
  }

  /** Calls `callback` once with the write error (soon if it already happened). */
  onError(callback: (error: Error) => void): void {
    const failed = this.#failed;
    if (failed) queueMicrotask(() => callback(failed));
    else this.#errors.push(callback);
  }

  /** Resolves when everything committed so far is written; rejects with the write error. */
  async flush(): Promise<void> {
    while (!this.#failed) {
      if (this.#writing) {
        await this.#writing;
        continue;
      }
      this.#queue();
      if (this.#queued.length === 0) break;
      this.#pump();
    }
    if (this.#failed) throw this.#failed;
  }

  /** Writes everything, fsyncs and closes the file. Idempotent; rejects with the first error, if any. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.flush();
      this.#closed = true;
      await this.#handle.sync();
    } catch (error) {
      this.#fail(error);
    }
    if (this.#failed && this.#written > this.#whole) {
      try {
        await this.#handle.truncate(this.#whole);
        this.#written = this.#whole;
      } catch {
        // the file keeps its cut-off end; the write error is what is reported
      }
    }
    try {
      await this.#handle.close();
    } catch (error) {
      this.#fail(error);
    }
    if (this.#failed) throw this.#failed;
  }

  /** Moves the retired slabs whose bytes are all written to the spares, keeping the biggest few. */
  #recycle(): void {
    while (this.#retired.length > 0 && this.#retired[0]!.until <= this.#written) {
      this.#spare.push(this.#retired.shift()!.slab);
      if (this.#spare.length > MAX_SPARE_SLABS) {
        this.#spare.sort((a, b) => b.length - a.length);
        this.#spare.length = MAX_SPARE_SLABS;
      }
    }
  }

  /** A spare slab of at least `size` bytes, if one is free. */
  #takeSpare(size: number): Buffer | undefined {
    const index = this.#spare.findIndex((slab) => slab.length >= size);
    return index < 0 ? undefined : this.#spare.splice(index, 1)[0];
  }

  #queue(): void {
    if (this.#end > this.#start) this.#queued.push(this.#slab.subarray(this.#start, this.#end));
    this.#start = this.#end;
  }

  #pump(): void {
    if (this.#writing || this.#failed || this.#closed) return;
    this.#queue();
    if (this.#queued.length === 0) return;
    const batch = this.#queued;
    this.#queued = [];
    this.#writing = this.#write(batch).then(
      () => this.#wrote(),
      (error) => this.#fail(error),
    );
  }

  /** Writes all of `batch` at the file position, going on after partial writes. */
  async #write(batch: Buffer[]): Promise<void> {
    // Each buffer of a batch ends where a commit ended.
    const ends: number[] = [];
    let end = this.#written;
    for (const buffer of batch) {
      end += buffer.length;
      ends.push(end);
    }
    let rest = batch;
    while (rest.length > 0) {
      const { bytesWritten } = await this.#handle.writev(rest);
      if (bytesWritten === 0) throw new Error('the file accepted no bytes');
      this.#written += bytesWritten;
      while (ends.length > 0 && ends[0]! <= this.#written) this.#whole = ends.shift()!;
      rest = skip(rest, bytesWritten);
    }
  }

  #wrote(): void {
    this.#writing = undefined;
    this.#recycle();
    this.#pump();
    if (this.#drain.length > 0 && this.accepting) {
      const callbacks = this.#drain;
      this.#drain = [];
      for (const callback of callbacks) callback();
    }
  }

  #fail(error: unknown): void {
    this.#writing = undefined;
    if (this.#failed) return;
    const failed = this.#options.describe(error);
    this.#failed = failed;
    this.#queued = [];
    this.#retired = [];
    this.#spare = [];
    this.#drain = [];
    const callbacks = this.#errors;
    this.#errors = [];
    for (const callback of callbacks) callback(failed);
  }
}

/** `buffers` without their first `count` bytes. */
function skip(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  let i = 0;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}
