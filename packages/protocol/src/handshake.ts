import { ProtocolError } from './errors.ts';
import { type JsonObject, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './frame-types.ts';

export type Peer = { version: number; info: JsonObject };

/** The hello exchange: both sides send one hello, in any order; the highest common version wins. */
export class Handshake {
  readonly ready: Promise<Peer>;
  #resolve: (peer: Peer) => void = () => {};
  #reject: (error: Error) => void = () => {};
  #sent = false;
  #peer: Peer | undefined;
  #received = false;
  #done = false;
  #failed = false;

  constructor() {
    this.ready = new Promise<Peer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => {}); // an unobserved rejection must not crash the process
  }

  get sent(): boolean {
    return this.#sent;
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** Both hellos exchanged. */
  get done(): boolean {
    return this.#done;
  }

  /** Our hello went out. */
  markSent(): void {
    this.#sent = true;
    this.#complete();
  }

  /** The peer's hello: returns the error that must close the connection, if any. */
  receive(
    version: number,
    minVersion: number,
    info: JsonObject,
    onHello?: (peer: Peer) => void,
  ): ProtocolError | undefined {
    if (this.#received) return new ProtocolError('HANDSHAKE', 'hello frame on channel 0: duplicate hello');
    this.#received = true;
    const agreed = Math.min(PROTOCOL_VERSION, version);
    if (agreed < Math.max(MIN_PROTOCOL_VERSION, minVersion)) {
      const ours = `${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;
      return new ProtocolError(
        'VERSION_MISMATCH',
        `the peer speaks protocol versions ${minVersion}..${version}, this side ${ours}`,
      );
    }
    try {
      onHello?.({ version: agreed, info }); // may call Mux.hello(): `ready` still waits for it to return
    } catch (error) {
      return new ProtocolError(
        'HANDSHAKE',
        `hello refused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    this.#peer = { version: agreed, info };
    return undefined;
  }

  /** Resolves `ready` if both hellos are in (call after receive() when the connection is still open). */
  complete(): void {
    this.#complete();
  }

  fail(error: Error): void {
    if (this.#done || this.#failed) return;
    this.#failed = true;
    this.#reject(error);
  }

  #complete(): void {
    if (this.#done || this.#failed || !this.#sent || !this.#peer) return;
    this.#done = true;
    this.#resolve(this.#peer);
  }
}
