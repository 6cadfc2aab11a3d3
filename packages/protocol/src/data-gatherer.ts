/**
 * Data frames of at most this many bytes that arrive in the same turn as an earlier one are handed to the
 * application together, at the end of the turn (or before the next event of the channel). A peer can send a whole
 * window as one-byte frames; one by one, each would cost the relay, the recorder and the other side's queue an
 * object and a frame of their own. The first frame of a turn (a keystroke) is handed over at once, as it is.
 */
export const GATHERED_DATA_MAX = 512;

/** The incoming data of one channel, handed over as GATHERED_DATA_MAX describes. */
export class DataGatherer {
  readonly #handOver: (data: Uint8Array) => void;
  /** Told when data starts waiting here, with the function that hands it over. */
  readonly #waiting: (flush: () => void) => void;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  /** Data was handed over this turn: small frames after it are gathered. */
  #turnOpen = false;

  constructor(handOver: (data: Uint8Array) => void, waiting: (flush: () => void) => void) {
    this.#handOver = handOver;
    this.#waiting = waiting;
  }

  /** The payload of a data frame whose credit was counted. */
  add(data: Uint8Array): void {
    if (this.#turnOpen && data.length <= GATHERED_DATA_MAX) {
      if (this.#chunks.length === 0) this.#waiting(this.#flush);
      this.#chunks.push(data);
      this.#bytes += data.length;
      return;
    }
    this.flush();
    this.#handOver(data);
    if (!this.#turnOpen) {
      this.#turnOpen = true;
      queueMicrotask(this.#endTurn);
    }
  }

  /** Hands over what was gathered (before any other event of the channel, so order holds). */
  flush(): void {
    const chunks = this.#chunks;
    if (chunks.length === 0) return;
    const size = this.#bytes;
    this.clear();
    if (chunks.length === 1) {
      this.#handOver(chunks[0]!);
      return;
    }
    const data = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    this.#handOver(data);
  }

  /** Drops what was gathered (the application closed the channel). */
  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  readonly #flush = () => this.flush();

  readonly #endTurn = () => {
    this.#turnOpen = false;
    this.flush();
  };
}
