/**
 * Receive-side credit for one channel. The peer may send `credit` more bytes. Bytes it sent are `unreleased` until
 * the application releases them, then `pending` until a WINDOW frame returns them; credit + unreleased + pending
 * always equals `size`, so the credit the peer holds never exceeds the window we granted (<= 2^32-1).
 *
 * Grants are batched: a WINDOW frame goes out once half the window is pending, or as soon as the pending credit
 * is at least what the peer has left (so a peer is never left starved while released credit sits here).
 */
export class ReceiveWindow {
  readonly size: number;
  #credit: number;
  #unreleased = 0;
  #pending = 0;

  constructor(size: number) {
    this.size = size;
    this.#credit = size;
  }

  /** Bytes the peer may still send. */
  get credit(): number {
    return this.#credit;
  }

  /** Received but not yet released by the application. */
  get unreleased(): number {
    return this.#unreleased;
  }

  /** Accounts for `bytes` received; false when they exceed the peer's credit (a flow-control violation). */
  consume(bytes: number): boolean {
    if (bytes > this.#credit) return false;
    this.#credit -= bytes;
    this.#unreleased += bytes;
    return true;
  }

  /** The application is done with `bytes` received bytes (clamped to what it holds). */
  release(bytes: number): void {
    const released = Math.min(bytes, this.#unreleased);
    this.#unreleased -= released;
    this.#pending += released;
  }

  /** The increment to send in a WINDOW frame now, or 0 when it is better to wait for more. */
  takeGrant(): number {
    const pending = this.#pending;
    if (pending === 0 || (pending < this.size / 2 && pending < this.#credit)) return 0;
    this.#pending = 0;
    this.#credit += pending;
    return pending;
  }
}
