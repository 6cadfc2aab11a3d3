import type { Channel } from './channel.ts';
import type { JsonObject } from './frame-types.ts';

/** A channel the peer wants to open; the application accepts or rejects it (synchronously or later). */
export interface OpenRequest {
  readonly spec: JsonObject;
  /** Not answered yet, and still answerable: false once the connection dropped or the peer broke the protocol on it. */
  readonly pending: boolean;
  accept(info?: JsonObject): Channel;
  reject(code: string, message: string): void;
}

export type OpenRequestHandlers = {
  accept(info: JsonObject): Channel;
  reject(code: string, message: string): void;
  /** A channel for a request the connection dropped meanwhile: already closed, its onClose still fires. */
  closed(code: string, message: string): Channel;
};

export class IncomingOpenRequest implements OpenRequest {
  readonly spec: JsonObject;
  readonly #handlers: OpenRequestHandlers;
  #answered = false;
  #cancelled: { code: string; message: string } | undefined;

  constructor(spec: JsonObject, handlers: OpenRequestHandlers) {
    this.spec = spec;
    this.#handlers = handlers;
  }

  get pending(): boolean {
    return !this.#answered && this.#cancelled === undefined;
  }

  accept(info: JsonObject = {}): Channel {
    if (this.#answered) throw new Error('this open request was already answered');
    if (this.#cancelled) {
      this.#answered = true;
      return this.#handlers.closed(this.#cancelled.code, this.#cancelled.message);
    }
    const channel = this.#handlers.accept(info); // throws (unanswered) when info cannot be encoded
    this.#answered = true;
    return channel;
  }

  reject(code: string, message: string): void {
    if (this.#answered) throw new Error('this open request was already answered');
    this.#answered = true;
    if (!this.#cancelled) this.#handlers.reject(code, message);
  }

  /** The request can no longer be accepted (connection closed, or the peer misbehaved on that channel). */
  cancel(code: string, message: string): void {
    this.#cancelled ??= { code, message };
  }
}
