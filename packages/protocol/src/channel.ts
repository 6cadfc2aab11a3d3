import { ChannelHandlers } from './channel-handlers.ts';
import { DataGatherer } from './data-gatherer.ts';
import { ProtocolError, type ProtocolErrorCode } from './errors.ts';
import { EventInbox } from './event-inbox.ts';
import { encodeDataFrame, encodeFrame } from './frame-codec.ts';
import type { ChannelFrame, JsonObject } from './frame-types.ts';
import { invokeHandler } from './invoke-handler.ts';
import { ReceiveWindow } from './receive-window.ts';
import { SendQueue } from './send-queue.ts';

/** What a channel needs from its connection. */
export type ChannelLink = {
  /** Sends one encoded frame; does nothing once the connection is closed. */
  sendBytes(bytes: Uint8Array): void;
  /** Both sides sent close: the id may be forgotten. */
  finished(id: number): void;
  /**
   * The connection holds as much unsent data as it should (the peer reads slower than we write): data waits in
   * the channels, and so do the onSent callbacks that return credit upstream.
   */
  transportFull(): boolean;
  /** Calls `resume` once the connection can take data again (each function once, in the order first asked). */
  whenTransportDrains(resume: () => void): void;
  /** Reports a channel-level protocol error (onError). */
  error(error: ProtocolError): void;
  /** An application handler of this channel threw; the channel is closed with INTERNAL. */
  handlerFailed(error: unknown): void;
  /**
   * This channel holds gathered data (see DataGatherer): `flush` is called before any later event of the
   * connection, on any channel, so that the data is handed over first.
   */
  gathering(flush: () => void): void;
};

export type ChannelInit = {
  id: number;
  spec: JsonObject;
  info: JsonObject;
  /** Credit the peer granted us (its initial window). */
  sendWindow: number;
  /** Largest DATA payload the peer accepts. */
  peerMaxData: number;
  /** Window we granted the peer. */
  window: number;
  /** Largest DATA payload we accept. */
  maxData: number;
  /** No data frame smaller than this goes out while more is queued (MuxOptions.minPeerMaxData). */
  minChunk: number;
};

const MAX_CLOSE_TEXT = 1024;

type ChannelInternals = {
  receive(channel: Channel, frame: ChannelFrame): void;
  fail(channel: Channel, error: ProtocolError): void;
  abort(channel: Channel, code: string, message: string): void;
};
let internals: ChannelInternals;

/** Mux-side entry points into a channel (not part of the package's public API). */
export const channelInternals: ChannelInternals = {
  receive: (channel, frame) => internals.receive(channel, frame),
  fail: (channel, error) => internals.fail(channel, error),
  abort: (channel, code, message) => internals.abort(channel, code, message),
};

/**
 * One multiplexed channel. Created by Mux (open() or OpenRequest.accept()), never by applications.
 *
 * Incoming events are held until the application sets its first handler (then delivered in a microtask), so
 * nothing is lost between `await mux.open()` and the handler assignments that follow it.
 */
export class Channel extends ChannelHandlers {
  readonly id: number;
  readonly spec: JsonObject;
  readonly info: JsonObject;
  /** When true (default), credit is returned right after onData returns; else call release(). */
  autoRelease = true;

  readonly #link: ChannelLink;
  readonly #maxData: number;
  readonly #receiveWindow: ReceiveWindow;
  readonly #sendQueue: SendQueue;
  readonly #inbox: EventInbox;
  #flushing = false;
  #wantDrain = false;
  #closed = false;
  #closeSent = false;
  #peerClosed = false;
  #eofQueued = false;
  #peerEof = false;
  #peerExited = false;
  #queuedClose: Uint8Array | undefined;
  readonly #data: DataGatherer;

  static {
    internals = {
      receive: (channel, frame) => channel.#receive(frame),
      fail: (channel, error) => channel.#fail(error),
      abort: (channel, code, message) => channel.#abort(code, message),
    };
  }

  /** @internal */
  constructor(link: ChannelLink, init: ChannelInit) {
    const inbox = new EventInbox((error) => this.#handlerFailed(error));
    super(inbox);
    this.#inbox = inbox;
    this.#link = link;
    this.id = init.id;
    this.spec = init.spec;
    this.info = init.info;
    this.#maxData = init.maxData;
    this.#receiveWindow = new ReceiveWindow(init.window);
    this.#sendQueue = new SendQueue(init.sendWindow, init.peerMaxData, init.minChunk);
    this.#data = new DataGatherer(
      (data) => this.#handOver(data),
      (flush) => link.gathering(flush),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes written but still waiting for the peer's credit. */
  get bufferedBytes(): number {
    return this.#sendQueue.bufferedBytes;
  }

  /**
   * Sends what the peer's credit allows now and queues the rest (by reference, no copy). Returns false when
   * anything is queued. onSent fires once all of this write's bytes were handed to the transport. Writes after
   * close() or eof() are dropped (false, onSent never fires).
   */
  write(data: Uint8Array, onSent?: () => void): boolean {
    if (!(data instanceof Uint8Array)) throw new TypeError(`channel ${this.id}: write() takes a Uint8Array`);
    if (this.#closed || this.#eofQueued) return false;
    this.#sendQueue.pushData(data, onSent);
    this.#flush();
    if (this.#sendQueue.idle) return true;
    this.#wantDrain = true;
    return false;
  }

  /** Returns `bytes` of received data to the peer as credit (for autoRelease = false). */
  release(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new RangeError(`channel ${this.id}: release() takes a non-negative integer`);
    }
    this.#receiveWindow.release(bytes);
    this.#grant();
  }

  /** Sends a terminal size now (not queued behind data). */
  resize(cols: number, rows: number): void {
    if (this.#closed) return;
    this.#link.sendBytes(encodeFrame({ type: 'resize', channel: this.id, cols, rows }));
  }

  /** No more data from us; sent after the data already queued. */
  eof(): void {
    if (this.#closed || this.#eofQueued) return;
    this.#eofQueued = true;
    const bytes = encodeFrame({ type: 'eof', channel: this.id });
    this.#sendQueue.pushControl(() => this.#link.sendBytes(bytes));
    this.#flush();
  }

  /** The exit status of what ran on this channel; sent after the data already queued. */
  exit(code: number | null, signal: string | null): void {
    if (this.#closed) return;
    const bytes = encodeFrame({ type: 'exit', channel: this.id, code, signal });
    this.#sendQueue.pushControl(() => this.#link.sendBytes(bytes));
    this.#flush();
  }

  /**
   * Closes the channel (once; onClose fires now). A normal close (code '' or 'NORMAL') still sends the data,
   * eof and exit already queued, then the close frame; an error close drops the queue and sends close at once.
   * Data that arrives afterwards is ignored. The id is freed when the peer's close answers ours.
   */
  close(code = '', message = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.clear();
    this.#data.clear();
    const bytes = closeFrame(this.id, code, message);
    if ((code === '' || code === 'NORMAL') && !this.#sendQueue.idle) {
      this.#queuedClose = bytes;
      this.#sendQueue.pushControl(() => this.#sendClose(bytes));
      this.#flush();
    } else {
      this.#sendQueue.clear();
      this.#sendClose(bytes);
    }
    invokeHandler(
      () => this.onClose(code, message),
      (error) => this.#link.handlerFailed(error),
    );
  }

  /** A handler threw: this channel is in an unknown state, so it closes; the others carry on. */
  #handlerFailed(error: unknown): void {
    this.#link.handlerFailed(error);
    this.close('INTERNAL', 'internal error while handling this channel');
  }

  #receive(frame: ChannelFrame): void {
    if (frame.type === 'close') this.#peerClose(frame.code, frame.message);
    else if (frame.type === 'window') this.#receiveWindowFrame(frame.increment);
    else if (this.#closed) {
      // in flight when we closed: ignored
    } else if (frame.type === 'data') this.#receiveData(frame.data);
    else if (frame.type === 'resize') this.#inbox.emit(() => this.onResize(frame.cols, frame.rows));
    else if (frame.type === 'exit') {
      // One exit status per channel: a second would let a peer rewrite the status already reported.
      if (this.#peerExited) this.#violation('MALFORMED_FRAME', 'exit', 'a second exit status');
      else {
        this.#peerExited = true;
        this.#inbox.emit(() => this.onExit(frame.code, frame.signal));
      }
    } else if (frame.type !== 'eof')
      this.#violation('MALFORMED_FRAME', frame.type, 'the channel is already open');
    else if (!this.#peerEof) {
      this.#peerEof = true;
      this.#inbox.emit(() => this.onEof());
    }
  }

  #receiveData(data: Uint8Array): void {
    const size = data.length;
    const credit = this.#receiveWindow.credit;
    if (this.#peerEof) this.#violation('MALFORMED_FRAME', 'data', 'data after eof');
    else if (size > this.#maxData)
      this.#violation('FLOW_CONTROL', 'data', `${size} bytes exceeds maxData ${this.#maxData}`);
    else if (!this.#receiveWindow.consume(size)) {
      this.#violation('FLOW_CONTROL', 'data', `${size} bytes exceeds the window (${credit} left)`);
    } else if (size > 0) {
      this.#data.add(data);
      this.#grant();
    }
  }

  #handOver(data: Uint8Array): void {
    const size = data.length;
    this.#inbox.emit(() => {
      invokeHandler(
        () => this.onData(data),
        (error) => this.#handlerFailed(error),
      );
      if (this.autoRelease) this.release(size);
    });
  }

  #receiveWindowFrame(increment: number): void {
    if (this.#closeSent) return;
    if (this.#sendQueue.addCredit(increment)) this.#flush();
    else
      this.#violation('FLOW_CONTROL', 'window', `increment ${increment} would grow the window beyond 2^32-1`);
  }

  #violation(code: ProtocolErrorCode, type: string, problem: string): void {
    this.#fail(new ProtocolError(code, `${type} frame on channel ${this.id}: ${problem}`, this.id));
  }

  #peerClose(code: string, message: string): void {
    if (this.#peerClosed) return;
    this.#peerClosed = true;
    this.#sendQueue.clear();
    if (!this.#closed) {
      this.#closed = true;
      this.#inbox.emit(() => this.onClose(code, message));
      this.#sendClose(closeFrame(this.id, '', ''));
    } else if (!this.#closeSent) {
      this.#sendClose(this.#queuedClose ?? closeFrame(this.id, '', '')); // our graceful close was still queued
    } else {
      this.#link.finished(this.id);
    }
  }

  /** A channel-level protocol violation: send close with the error, report it, keep the connection. */
  #fail(error: ProtocolError): void {
    if (this.#closeSent) return;
    this.#data.flush();
    this.#sendQueue.clear();
    this.#sendClose(closeFrame(this.id, error.code, error.message));
    this.#link.error(error);
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.emit(() => this.onClose(error.code, error.message));
  }

  /** The connection is gone: finish locally, send nothing. */
  #abort(code: string, message: string): void {
    this.#data.flush();
    this.#sendQueue.clear();
    this.#closeSent = true;
    this.#peerClosed = true;
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.emit(() => this.onClose(code, message));
  }

  #sendClose(bytes: Uint8Array): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#link.sendBytes(bytes);
    if (this.#peerClosed) this.#link.finished(this.id);
  }

  #grant(): void {
    if (this.#closed || this.#peerEof) return;
    const increment = this.#receiveWindow.takeGrant();
    if (increment > 0) this.#link.sendBytes(encodeFrame({ type: 'window', channel: this.id, increment }));
  }

  readonly #resume = () => this.#flush();
  readonly #transportFull = () => this.#link.transportFull();

  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    const done: (() => void)[] = [];
    try {
      this.#sendQueue.drain(
        (data) => this.#link.sendBytes(encodeDataFrame(this.id, data)),
        done,
        this.#transportFull,
      );
    } finally {
      this.#flushing = false;
    }
    // Data left with credit to send it: the connection was full. It goes on when the connection drains.
    if (!this.#sendQueue.idle && this.#sendQueue.credit > 0) this.#link.whenTransportDrains(this.#resume);
    for (const onSent of done) invokeHandler(onSent, (error) => this.#handlerFailed(error));
    if (this.#wantDrain && this.#sendQueue.idle && !this.#closed) {
      this.#wantDrain = false;
      invokeHandler(
        () => this.onDrain(),
        (error) => this.#handlerFailed(error),
      );
    }
  }
}

function closeFrame(channel: number, code: string, message: string): Uint8Array {
  const text = (value: unknown) => String(value).slice(0, MAX_CLOSE_TEXT);
  return encodeFrame({ type: 'close', channel, code: text(code), message: text(message) });
}
