import type { Channel } from './channel.ts';
import { ChannelRouter, reasonText } from './channel-router.ts';
import { ConnectionClosedError, ProtocolError } from './errors.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import {
  type Frame,
  type JsonObject,
  MAX_U32,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
} from './frame-types.ts';
import { Handshake, type Peer } from './handshake.ts';
import { invokeHandler } from './invoke-handler.ts';
import { Keepalive } from './keepalive.ts';
import { type MuxOptions, type ResolvedMuxOptions, resolveMuxOptions } from './mux-options.ts';

export type { MuxOptions } from './mux-options.ts';

/** Reports an unexpected exception without letting it escape (see invokeHandler). */
const rethrowLater = (error: unknown) =>
  invokeHandler(() => {
    throw error;
  });

export interface Transport {
  /** One frame = one WebSocket binary message. */
  send(bytes: Uint8Array): void;
  /**
   * The transport holds as much unsent data as it should; channel data then waits until `Mux.transportDrained()`
   * is called. Without it the transport is never full.
   */
  full?(): boolean;
  /** Bytes sent but not yet written to the network, when the transport knows (pings are not answered past 64 KiB). */
  unsentBytes?(): number;
  /** The application closes the socket (mapping `code` to a WebSocket close code). */
  close(code: string, message: string): void;
}

/** Unsent bytes past which a ping is not answered (the peer is not reading what it has). */
const UNREAD_PONG_LIMIT = 64 * 1024;

/** One connection carrying many channels, with a hello handshake, keepalive and per-channel flow control. */
export class Mux {
  readonly #transport: Transport;
  readonly #options: ResolvedMuxOptions;
  readonly #keepalive: Keepalive;
  readonly #handshake = new Handshake();
  readonly #router: ChannelRouter;
  #closeError: Error | undefined;
  #nextNonce = 0;
  /** The nonce of the ping to answer at the end of this turn (undefined: no answer pending). */
  #pongNonce: number | undefined;
  /** Channels whose data waits for the transport to drain, in the order they started waiting. */
  #waiting = new Set<() => void>();

  constructor(transport: Transport, options: MuxOptions) {
    this.#transport = transport;
    this.#options = resolveMuxOptions(options);
    this.#router = new ChannelRouter({
      options: this.#options,
      link: {
        sendBytes: (bytes) => this.#sendBytes(bytes),
        transportFull: () => this.#transport.full?.() === true,
        whenTransportDrains: (resume) => {
          if (!this.closed) this.#waiting.add(resume);
        },
        error: (error) => this.#reportError(error),
        handlerFailed: (error) => {
          const { onHandlerError } = this.#options;
          if (onHandlerError) invokeHandler(() => onHandlerError(error));
          else rethrowLater(error);
        },
      },
      fail: (error) => this.#fail(error),
    });
    const { keepaliveIntervalMs, keepaliveTimeoutMs } = this.#options;
    this.#keepalive = new Keepalive({
      intervalMs: keepaliveIntervalMs,
      timeoutMs: keepaliveTimeoutMs,
      ping: () => this.#send({ type: 'ping', nonce: this.#nextNonce++ % (MAX_U32 + 1) }),
      onTimeout: () => {
        const problem = `nothing received from the peer for ${keepaliveTimeoutMs} ms`;
        this.#fail(new ProtocolError('KEEPALIVE_TIMEOUT', problem));
      },
    });
  }

  /** Both hellos exchanged and a version agreed (the highest common one); rejects if the mux closes first. */
  get ready(): Promise<Peer> {
    return this.#handshake.ready;
  }

  /** The agreed protocol version, once the peer's hello arrived. */
  get version(): number | undefined {
    return this.#handshake.peer?.version;
  }

  get closed(): boolean {
    return this.#closeError !== undefined;
  }

  /** Channels open or being opened, in either direction. */
  get channelCount(): number {
    return this.#router.table.openCount;
  }

  /**
   * Channel ids in use in any state: with those closed here but still sending what was queued, or waiting for the
   * peer's close (what maxChannels counts, and what a limit on the memory channels hold should count).
   */
  get channelsInUse(): number {
    return this.#router.table.size;
  }

  /** Sends our hello, exactly once; either side may go first. */
  hello(info: JsonObject): void {
    if (this.#handshake.sent) throw new Error('Mux.hello() was already called');
    if (this.closed) return;
    this.#send({ type: 'hello', version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION, info });
    this.#handshake.markSent();
  }

  /** Feeds one incoming WebSocket binary message. Never throws. */
  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    try {
      this.#keepalive.touch();
      this.#receive(bytes);
    } catch (error) {
      rethrowLater(error);
    }
  }

  /** Opens a channel (after the handshake). Rejects with ChannelRejectedError, or the error that closed the mux. */
  async open(spec: JsonObject): Promise<Channel> {
    if (!this.#handshake.done) await this.ready;
    if (this.#closeError) throw this.#closeError;
    return this.#router.open(spec);
  }

  /**
   * The transport can take data again: the channels that waited send, in the order they started waiting. When
   * it fills up again, those not reached yet stay first in line, so a fast channel cannot starve a slow one.
   */
  transportDrained(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (let i = 0; i < waiting.length; i++) {
      if (this.closed) return;
      if (this.#transport.full?.() === true) {
        const again = [...this.#waiting];
        this.#waiting = new Set([...waiting.slice(i), ...again]);
        return;
      }
      (waiting[i] as () => void)();
    }
  }

  /** Sends goaway, closes every channel (their onClose fire), then closes the transport. */
  close(code = 'NORMAL', message = ''): void {
    this.#shutdown(code, message, undefined, true);
  }

  /** The socket died: closes every channel locally and fires onClose, sending nothing. */
  transportClosed(code = 'TRANSPORT_CLOSED', message = 'the connection was lost'): void {
    this.#shutdown(code, message, undefined, false);
  }

  #receive(bytes: Uint8Array): void {
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, this.#options.maxFrameBytes);
    } catch (error) {
      const problem =
        error instanceof ProtocolError ? error : new ProtocolError('MALFORMED_FRAME', String(error));
      if (problem.channel === undefined || !this.#handshake.done) this.#fail(problem);
      else this.#router.malformed(problem.channel, bytes[0]!, problem);
      return;
    }
    switch (frame.type) {
      case 'hello': {
        const error = this.#handshake.receive(
          frame.version,
          frame.minVersion,
          frame.info,
          this.#options.onHello,
        );
        if (error) this.#fail(error);
        else if (!this.closed) this.#handshake.complete();
        break;
      }
      case 'ping':
        // One pong per turn, for the last ping of it, and none while the peer leaves what we sent unread: a peer
        // that sends pings in bulk and never reads would otherwise pile up an answer per ping in this side's
        // memory (liveness needs one; nonces are not matched).
        if ((this.#transport.unsentBytes?.() ?? 0) > UNREAD_PONG_LIMIT) break;
        if (this.#pongNonce === undefined) queueMicrotask(this.#answerPing);
        this.#pongNonce = frame.nonce;
        break;
      case 'pong':
        break;
      case 'goaway':
        this.#shutdown(frame.code, frame.message, undefined, false, true);
        break;
      default:
        if (this.#handshake.done) this.#router.receive(frame);
        else {
          const problem = `${frame.type} frame on channel ${frame.channel} before the hello exchange`;
          this.#fail(new ProtocolError('HANDSHAKE', problem));
        }
    }
  }

  readonly #answerPing = () => {
    const nonce = this.#pongNonce;
    this.#pongNonce = undefined;
    if (nonce !== undefined) this.#send({ type: 'pong', nonce });
  };

  #send(frame: Frame): void {
    this.#sendBytes(encodeFrame(frame));
  }

  #sendBytes(bytes: Uint8Array): void {
    if (!this.closed) this.#transport.send(bytes);
  }

  #reportError(error: ProtocolError): void {
    const { onError } = this.#options;
    if (onError) invokeHandler(() => onError(error));
  }

  /** A connection-level violation: goaway with the error, then close everything. */
  #fail(error: ProtocolError): void {
    this.#reportError(error);
    this.#shutdown(error.code, error.message, error, true);
  }

  #shutdown(
    code: string,
    message: string,
    cause: ProtocolError | undefined,
    goaway: boolean,
    closeTransport = goaway,
  ) {
    if (this.closed) return;
    this.#keepalive.stop();
    this.#waiting.clear();
    if (goaway) this.#send({ type: 'goaway', code: reasonText(code), message: reasonText(message) });
    const error = cause ?? new ConnectionClosedError(code, message);
    this.#closeError = error;
    this.#router.table.abortAll(code, message, error);
    this.#handshake.fail(error);
    if (closeTransport) {
      try {
        this.#transport.close(code, message);
      } catch (closeError) {
        rethrowLater(closeError); // still finish: onClose must fire
      }
    }
    const { onClose } = this.#options;
    if (onClose) invokeHandler(() => onClose({ code, message }));
  }
}
