/** Milliseconds on a clock that never jumps (a wall-clock step would otherwise fake a silence, or hide one). */
const monotonicNow = () => performance.now();

/** Starts a timer that never keeps a process alive on its own (Node timers get unref()). */
function startTimer(callback: () => void, ms: number): unknown {
  const handle = setTimeout(callback, ms);
  if (
    typeof handle === 'object' &&
    handle !== null &&
    'unref' in handle &&
    typeof handle.unref === 'function'
  ) {
    handle.unref();
  }
  return handle;
}

export type KeepaliveOptions = {
  /** Send a ping this often (0 = never). */
  intervalMs: number;
  /** Call onTimeout when nothing was received for this long (0 = never). */
  timeoutMs: number;
  ping: () => void;
  onTimeout: () => void;
};

/** Pings the peer periodically and notices when the peer went silent. Every received frame counts as liveness. */
export class Keepalive {
  readonly #options: KeepaliveOptions;
  #lastReceivedAt = monotonicNow();
  #pingTimer: unknown;
  #timeoutTimer: unknown;
  #stopped = false;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
    if (options.intervalMs > 0) this.#schedulePing();
    if (options.timeoutMs > 0) this.#scheduleTimeout(options.timeoutMs);
  }

  /** Something arrived from the peer. */
  touch(): void {
    this.#lastReceivedAt = monotonicNow();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#timeoutTimer);
  }

  #schedulePing(): void {
    this.#pingTimer = startTimer(() => {
      if (this.#stopped) return;
      this.#options.ping();
      if (!this.#stopped) this.#schedulePing();
    }, this.#options.intervalMs);
  }

  // One timer per timeout period, not one per frame: when it fires early, it sleeps for the time that is left.
  #scheduleTimeout(ms: number): void {
    this.#timeoutTimer = startTimer(() => {
      if (this.#stopped) return;
      const silentMs = monotonicNow() - this.#lastReceivedAt;
      if (silentMs >= this.#options.timeoutMs) this.#options.onTimeout();
      else this.#scheduleTimeout(this.#options.timeoutMs - silentMs);
    }, ms);
  }
}
