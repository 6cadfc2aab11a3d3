import { type Channel, channelInternals } from './channel.ts';
import type { JsonObject } from './frame-types.ts';
import { MAX_U32 } from './frame-types.ts';
import type { IncomingOpenRequest } from './open-request.ts';

export type PendingOpen = { spec: JsonObject; resolve(channel: Channel): void; reject(error: Error): void };

/** Every channel id a connection has in use, by state, and the allocation of new ids. */
export class ChannelTable {
  /** Accepted channels, until both sides sent close. */
  readonly channels = new Map<number, Channel>();
  /** Our open frames waiting for accept or reject. */
  readonly outgoing = new Map<number, PendingOpen>();
  /** The peer's open frames waiting for the application's answer. */
  readonly incoming = new Map<number, IncomingOpenRequest>();
  /** Ids we sent close for without a Channel object (a failed open), until the peer's close answers. */
  readonly closing = new Set<number>();
  readonly #firstId: number;
  #nextId: number;

  /** Side 'a' allocates odd ids, side 'b' even ids. */
  constructor(side: 'a' | 'b') {
    this.#firstId = side === 'a' ? 1 : 2;
    this.#nextId = this.#firstId;
  }

  /** Whether the peer (not this side) allocates `id`. */
  isPeerId(id: number): boolean {
    return id % 2 !== this.#firstId % 2;
  }

  has(id: number): boolean {
    return this.channels.has(id) || this.outgoing.has(id) || this.incoming.has(id) || this.closing.has(id);
  }

  /** Ids in use in any state (what maxChannels limits). */
  get size(): number {
    return this.channels.size + this.outgoing.size + this.incoming.size + this.closing.size;
  }

  /** Channels open or being opened, in either direction (closed ones waiting for the peer's close excluded). */
  get openCount(): number {
    let open = 0;
    for (const channel of this.channels.values()) if (!channel.closed) open++;
    return open + this.outgoing.size + this.incoming.size;
  }

  allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id + 2 > MAX_U32 ? this.#firstId : id + 2;
      if (!this.has(id)) return id;
    }
  }

  /** The connection is gone: every channel closes locally, every pending open fails. */
  abortAll(code: string, message: string, error: Error): void {
    for (const channel of this.channels.values()) channelInternals.abort(channel, code, message);
    for (const pending of this.outgoing.values()) pending.reject(error);
    for (const request of this.incoming.values()) request.cancel(code, message);
    this.channels.clear();
    this.outgoing.clear();
    this.incoming.clear();
    this.closing.clear();
  }
}
