import { writeSync } from 'node:fs';

const RETRY_MS = [1, 2, 5, 10, 20] as const;

/**
 * Writes keystrokes into a PTY master (a non-blocking fd) synchronously: node-pty's own write goes through
 * the thread pool, which costs a keystroke's echo a thread hand-off. When the terminal's input buffer is
 * full (a big paste into a program that is not reading), the rest waits here, in order, and is retried on a
 * short timer; `onWritten` reports each chunk once it is fully in the PTY, so the caller can return flow-
 * control credit only then and this queue stays bounded by the channel's window.
 */
export class PtyInput {
  readonly #fd: number;
  #queue: { data: Uint8Array; onWritten: () => void }[] = [];
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;

  constructor(fd: number) {
    this.#fd = fd;
  }

  write(data: Uint8Array, onWritten: () => void): void {
    if (this.#closed) return;
    this.#queue.push({ data, onWritten });
    if (this.#queue.length === 1) this.#flush();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#queue = [];
  }

  #flush(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0] as { data: Uint8Array; onWritten: () => void };
      let written: number;
      try {
        written = writeSync(this.#fd, head.data);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
          this.close(); // the terminal is gone (EIO after the shell exited): the exit handler ends the channel
          return;
        }
        written = 0;
      }
      if (written < head.data.length) {
        head.data = head.data.subarray(written);
        const delay = RETRY_MS[Math.min(this.#attempt++, RETRY_MS.length - 1)];
        this.#retry = setTimeout(() => this.#flush(), delay);
        return;
      }
      this.#attempt = 0;
      this.#queue.shift();
      head.onWritten();
    }
  }
}
