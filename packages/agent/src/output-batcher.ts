import { Buffer } from 'node:buffer';

/** A read from a PTY master returns at most 4095 bytes (Linux's line discipline buffer); this size means "full". */
export const FULL_READ_BYTES = 4095;
/** What one batch may gather before it leaves. */
export const MAX_BATCH_BYTES = 64 * 1024;
/** How long a batch may wait for more output. */
export const MAX_BATCH_DELAY_MS = 1;

type Options = { fullRead?: number; maxBytes?: number; maxDelayMs?: number };

/**
 * Sends a terminal's output in fewer, bigger frames while a program floods it, and a keystroke's echo at once.
 *
 * A PTY master hands out at most 4 KB per read, so a flood (`cat` of a big file) arrives as a stream of full
 * reads; forwarding each as its own frame costs every hop (agent, server, client) a system call and a wake-up
 * per 4 KB. A read that filled the buffer says more is already waiting: it is held and joined with the next
 * reads until one comes back short (the program paused), the batch reaches `maxBytes`, or `maxDelayMs` passed.
 * A short read with nothing held (typing, prompts, a screen update) is sent as it is, without a copy or delay.
 * At most `maxBytes` are ever held.
 */
export class OutputBatcher {
  readonly #send: (data: Uint8Array) => void;
  readonly #fullRead: number;
  readonly #maxBytes: number;
  readonly #maxDelayMs: number;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(send: (data: Uint8Array) => void, options: Options = {}) {
    this.#send = send;
    this.#fullRead = options.fullRead ?? FULL_READ_BYTES;
    this.#maxBytes = options.maxBytes ?? MAX_BATCH_BYTES;
    this.#maxDelayMs = options.maxDelayMs ?? MAX_BATCH_DELAY_MS;
  }

  push(chunk: Uint8Array): void {
    const full = chunk.length >= this.#fullRead;
    if (this.#bytes === 0 && !full) {
      this.#send(chunk);
      return;
    }
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    if (!full || this.#bytes + this.#fullRead > this.#maxBytes) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#maxDelayMs);
  }

  /** Sends what is held now (before an exit status, say). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#bytes === 0) return;
    const parts = this.#parts;
    const data = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    this.#send(data);
  }

  /** Drops what is held (the channel is gone). */
  discard(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#parts = [];
    this.#bytes = 0;
  }
}
