import { invokeHandler, noop } from './invoke-handler.ts';

/**
 * Incoming channel events in arrival order. Events are held until the application sets its first handler,
 * then delivered from a microtask (so that all the handler assignments made in the same turn are in place).
 */
export class EventInbox {
  readonly #onFailure: ((error: unknown) => void) | undefined;
  #events: (() => void)[] = [];
  #next = 0;
  #held = true;
  #unholdScheduled = false;
  #delivering = false;

  constructor(onFailure?: (error: unknown) => void) {
    this.#onFailure = onFailure;
  }

  emit(event: () => void): void {
    this.#events.push(event);
    if (!this.#held) this.#deliver();
  }

  /** Drops the events not yet delivered. */
  clear(): void {
    this.#events = [];
    this.#next = 0;
  }

  /** A handler was set: start delivering once the current turn is over. */
  unhold(): void {
    if (!this.#held || this.#unholdScheduled) return;
    this.#unholdScheduled = true;
    queueMicrotask(() => {
      this.#held = false;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#delivering) return; // an event handler fed more events: the loop below picks them up
    this.#delivering = true;
    try {
      while (this.#next < this.#events.length) {
        const event = this.#events[this.#next]!;
        this.#events[this.#next++] = noop; // let delivered data be collected
        invokeHandler(event, this.#onFailure);
      }
    } finally {
      this.#delivering = false;
    }
    this.clear();
  }
}
