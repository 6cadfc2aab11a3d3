import type { EventInbox } from './event-inbox.ts';
import { noop } from './invoke-handler.ts';

/** The application's event handlers of a Channel; setting any of them starts event delivery. */
export class ChannelHandlers {
  /** Queued writes all went out (fires after a write() that returned false). */
  onDrain: () => void = noop;
  readonly #inbox: EventInbox;
  #onData: (data: Uint8Array) => void = noop;
  #onResize: (cols: number, rows: number) => void = noop;
  #onEof: () => void = noop;
  #onExit: (code: number | null, signal: string | null) => void = noop;
  #onClose: (code: string, message: string) => void = noop;

  constructor(inbox: EventInbox) {
    this.#inbox = inbox;
  }

  /** Received data; the view may be kept (it is a view of the received message). */
  get onData(): (data: Uint8Array) => void {
    return this.#onData;
  }
  set onData(handler: (data: Uint8Array) => void) {
    this.#onData = handler;
    this.#inbox.unhold();
  }

  get onResize(): (cols: number, rows: number) => void {
    return this.#onResize;
  }
  set onResize(handler: (cols: number, rows: number) => void) {
    this.#onResize = handler;
    this.#inbox.unhold();
  }

  get onEof(): () => void {
    return this.#onEof;
  }
  set onEof(handler: () => void) {
    this.#onEof = handler;
    this.#inbox.unhold();
  }

  get onExit(): (code: number | null, signal: string | null) => void {
    return this.#onExit;
  }
  set onExit(handler: (code: number | null, signal: string | null) => void) {
    this.#onExit = handler;
    this.#inbox.unhold();
  }

  /** Fires exactly once, whoever closed the channel (peer, us, connection death). */
  get onClose(): (code: string, message: string) => void {
    return this.#onClose;
  }
  set onClose(handler: (code: string, message: string) => void) {
    this.#onClose = handler;
    this.#inbox.unhold();
  }
}
