import { MAX_U32 } from './frame-types.ts';

type QueueItem =
  | { kind: 'data'; data: Uint8Array; offset: number; onSent: (() => void) | undefined }
  | { kind: 'control'; send: () => void };

/**
 * Send side of one channel: the credit the peer granted and the writes waiting for it, in order. Data is kept
 * by reference and sent as subarrays of at most `maxChunk` bytes; control items (eof, exit, a graceful close)
 * go out in order once everything queued before them went out.
 */
export class SendQueue {
  readonly #maxChunk: number;
  readonly #minChunk: number;
  #items: (QueueItem | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #credit: number;

  /**
   * `minChunk`: no chunk smaller than this goes out while more is queued; the rest waits for more credit. A peer
   * that hands out credit a byte at a time then gets frames of this size, not one frame per byte.
   */
  constructor(credit: number, maxChunk: number, minChunk = 1) {
    this.#credit = credit;
    this.#maxChunk = maxChunk;
    this.#minChunk = Math.min(minChunk, maxChunk);
  }

  /** Data bytes queued and not yet sent. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  get credit(): number {
    return this.#credit;
  }

  /** Nothing queued. */
  get idle(): boolean {
    return this.#head === this.#items.length;
  }

  /** Adds credit from a WINDOW frame; false when the total would exceed 2^32-1 (a flow-control violation). */
  addCredit(increment: number): boolean {
    if (this.#credit + increment > MAX_U32) return false;
    this.#credit += increment;
    return true;
  }

  pushData(data: Uint8Array, onSent: (() => void) | undefined): void {
    this.#items.push({ kind: 'data', data, offset: 0, onSent });
    this.#bytes += data.length;
  }

  pushControl(send: () => void): void {
    this.#items.push({ kind: 'control', send });
  }

  /**
   * Sends what the credit allows, while `transportFull()` says the connection can take more (checked before each
   * chunk); the onSent callbacks of writes that went out completely are added to `done`.
   */
  drain(sendChunk: (chunk: Uint8Array) => void, done: (() => void)[], transportFull: () => boolean): void {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      if (item.kind === 'data') {
        while (item.offset < item.data.length) {
          if (this.#credit === 0 || this.#credit < Math.min(this.#minChunk, this.#bytes) || transportFull()) {
            this.#compact();
            return;
          }
          const size = Math.min(item.data.length - item.offset, this.#credit, this.#maxChunk);
          // The whole write as it was given when it fits (a relayed payload can then go out without a copy).
          const chunk =
            size === item.data.length ? item.data : item.data.subarray(item.offset, item.offset + size);
          item.offset += size;
          this.#credit -= size;
          this.#bytes -= size;
          sendChunk(chunk);
        }
        if (item.onSent) done.push(item.onSent);
      }
      this.#items[this.#head++] = undefined;
      if (item.kind === 'control') item.send();
    }
    this.clear();
  }

  /** Drops everything queued (the channel closed); their onSent callbacks never fire. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
