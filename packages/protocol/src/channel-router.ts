import { Channel, type ChannelLink, channelInternals } from './channel.ts';
import { ChannelTable } from './channel-table.ts';
import { ChannelRejectedError, ProtocolError } from './errors.ts';
import { encodeFrame } from './frame-codec.ts';
import { type ChannelFrame, type Frame, FrameType, type JsonObject } from './frame-types.ts';
import type { ResolvedMuxOptions } from './mux-options.ts';
import { IncomingOpenRequest } from './open-request.ts';

type OpenFrame = Extract<Frame, { type: 'open' }>;

export type ChannelRouterDeps = {
  options: ResolvedMuxOptions;
  /** Sends frames (nothing once the connection is closed) and reports channel-level errors. */
  link: Omit<ChannelLink, 'finished' | 'gathering'>;
  /** A violation no single channel can be blamed for: close the connection. */
  fail(error: ProtocolError): void;
};

const MAX_REASON_TEXT = 1024;
export const reasonText = (text: string): string => String(text).slice(0, MAX_REASON_TEXT);

/** Routes channel frames (after the handshake) to channels and pending opens; closes only what must close. */
/**
 * Frames for channels that do not exist, and opens on ids the peer may not allocate, that a connection may send
 * before it is closed. A correct peer sends none (frames still in flight after a close land on a channel that is
 * closing, not on an unknown one); each is answered, and an answer for every frame must not be a way to make
 * this side write without end.
 */
export const MAX_STRAY_FRAMES = 100;

export class ChannelRouter {
  readonly table: ChannelTable;
  readonly #deps: ChannelRouterDeps;
  readonly #link: ChannelLink;
  #strays = 0;
  #gathering: (() => void)[] = [];

  constructor(deps: ChannelRouterDeps) {
    this.#deps = deps;
    this.table = new ChannelTable(deps.options.side);
    this.#link = {
      ...deps.link,
      finished: (id) => this.table.channels.delete(id),
      gathering: (flush) => {
        if (this.#gathering.length === 0) queueMicrotask(this.#handOverGathered);
        this.#gathering.push(flush);
      },
    };
  }

  /** Channels holding gathered data hand it over before any other event of the connection (or at the turn's end). */
  readonly #handOverGathered = () => {
    const waiting = this.#gathering;
    if (waiting.length === 0) return;
    this.#gathering = [];
    for (const flush of waiting) flush();
  };

  /** Starts opening a channel; the promise settles on the peer's accept or reject. */
  open(spec: JsonObject): Promise<Channel> {
    const { maxChannels, window, maxData } = this.#deps.options;
    if (this.table.size >= maxChannels) {
      const problem = `cannot open a channel: ${maxChannels} channels are in use`;
      return Promise.reject(new ProtocolError('TOO_MANY_CHANNELS', problem));
    }
    const id = this.table.allocateId();
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame({ type: 'open', channel: id, window, maxData, spec });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Channel>((resolve, reject) => {
      this.table.outgoing.set(id, { spec, resolve, reject });
      this.#deps.link.sendBytes(bytes);
    });
  }

  receive(frame: ChannelFrame): void {
    if (frame.type !== 'data' && frame.type !== 'window') this.#handOverGathered();
    const id = frame.channel;
    const table = this.table;
    const pending = table.outgoing.get(id);
    if (frame.type === 'open') {
      this.#receiveOpen(frame);
    } else if (frame.type === 'accept' && pending && frame.maxData < this.#deps.options.minPeerMaxData) {
      this.error(id, FrameType.accept, this.#tooSmall(frame));
    } else if (frame.type === 'accept' && pending) {
      table.outgoing.delete(id);
      pending.resolve(this.#createChannel(id, pending.spec, frame.info, frame.window, frame.maxData));
    } else if (frame.type === 'reject' && pending) {
      table.outgoing.delete(id);
      pending.reject(new ChannelRejectedError(frame.code, frame.message));
    } else if ((frame.type === 'close' || frame.type === 'reject') && table.closing.delete(id)) {
      // the peer's answer to the close we sent for a failed open (a reject when it had not answered the open yet)
    } else if (table.channels.has(id)) {
      channelInternals.receive(table.channels.get(id)!, frame);
    } else if (!table.closing.has(id)) {
      const known = pending !== undefined || table.incoming.has(id);
      if (!known && this.#tooManyStrays()) return;
      const problem = `${frame.type} frame on channel ${id}: ${known ? 'the channel is not open yet' : 'unknown channel'}`;
      const code = known ? 'MALFORMED_FRAME' : 'UNKNOWN_CHANNEL';
      this.error(id, FrameType[frame.type], new ProtocolError(code, problem, id));
    }
  }

  /**
   * A frame that did not decode, for channel `id`: as `error`, and for an id not in use it counts as a stray frame
   * (each is answered; a peer must not have us answer without end).
   */
  malformed(id: number, typeCode: number, error: ProtocolError): void {
    if (!this.table.has(id) && this.#tooManyStrays()) return;
    this.error(id, typeCode, error);
  }

  /** A channel-level violation in a frame of type `typeCode`: close only what it concerns. */
  error(id: number, typeCode: number, error: ProtocolError): void {
    const { table } = this;
    const channel = table.channels.get(id);
    if (channel) {
      channelInternals.fail(channel, error); // ignored when we already sent close
      return;
    }
    if (table.closing.has(id)) return;
    const pending = table.outgoing.get(id);
    const request = table.incoming.get(id);
    if (!pending && !request && error.code === 'FRAME_TOO_LARGE') {
      this.#deps.fail(error);
      return;
    }
    this.#deps.link.error(error);
    const answer = { channel: id, code: error.code, message: error.message };
    if (pending) {
      table.outgoing.delete(id);
      pending.reject(error);
      if (typeCode === FrameType.reject) return;
      if (typeCode !== FrameType.close) table.closing.add(id);
      this.#send({ type: 'close', ...answer });
    } else if (request || typeCode === FrameType.open) {
      table.incoming.delete(id);
      request?.cancel(error.code, error.message);
      this.#send({ type: 'reject', ...answer });
    } else if (typeCode !== FrameType.close && typeCode !== FrameType.reject) {
      this.#send({ type: 'close', ...answer }); // (answering a close or reject could loop)
    }
  }

  /** Counts a stray frame; past MAX_STRAY_FRAMES the connection fails (and true says so). */
  #tooManyStrays(): boolean {
    this.#strays += 1;
    if (this.#strays <= MAX_STRAY_FRAMES) return false;
    const problem = `more than ${MAX_STRAY_FRAMES} frames for channels that do not exist`;
    this.#deps.fail(new ProtocolError('UNKNOWN_CHANNEL', problem));
    return true;
  }

  #tooSmall(frame: { type: 'open' | 'accept'; channel: number; maxData: number }): ProtocolError {
    const least = this.#deps.options.minPeerMaxData;
    const problem = `maxData ${frame.maxData} is below the ${least} bytes this side sends in a frame at least`;
    return new ProtocolError(
      'FLOW_CONTROL',
      `${frame.type} frame on channel ${frame.channel}: ${problem}`,
      frame.channel,
    );
  }

  #receiveOpen(frame: OpenFrame): void {
    const id = frame.channel;
    if (this.table.has(id)) {
      this.#deps.fail(
        new ProtocolError('MALFORMED_FRAME', `open frame on channel ${id}: channel id already in use`),
      );
      return;
    }
    const { side, maxChannels, onOpen } = this.#deps.options;
    let refusal: ProtocolError | undefined;
    if (!this.table.isPeerId(id)) {
      if (this.#tooManyStrays()) return;
      const problem = `${side === 'a' ? 'odd' : 'even'} channel ids are allocated by this side`;
      refusal = new ProtocolError('MALFORMED_FRAME', `open frame on channel ${id}: ${problem}`, id);
    } else if (this.table.size >= maxChannels) {
      const problem = `open frame on channel ${id}: ${maxChannels} channels are in use`;
      refusal = new ProtocolError('TOO_MANY_CHANNELS', problem, id);
    } else if (frame.maxData < this.#deps.options.minPeerMaxData) {
      refusal = this.#tooSmall(frame);
    }
    if (refusal) {
      this.#deps.link.error(refusal);
      this.#send({ type: 'reject', channel: id, code: refusal.code, message: refusal.message });
      return;
    }
    if (!onOpen) {
      this.#send({
        type: 'reject',
        channel: id,
        code: 'UNSUPPORTED',
        message: 'this side does not accept channels',
      });
      return;
    }
    const request = new IncomingOpenRequest(frame.spec, {
      accept: (info) => this.#accept(frame, info),
      reject: (code, message) => {
        this.table.incoming.delete(id);
        this.#send({ type: 'reject', channel: id, code: reasonText(code), message: reasonText(message) });
      },
      closed: (code, message) => {
        const channel = new Channel(this.#link, this.#channelInit(id, frame.spec, {}, 0, 1));
        channelInternals.abort(channel, code, message);
        return channel;
      },
    });
    this.table.incoming.set(id, request);
    try {
      onOpen(request);
    } catch (error) {
      if (request.pending) request.reject('INTERNAL', 'the channel could not be opened');
      // Accepted, then the handler threw: the channel is in an unknown state, so it closes.
      else this.table.channels.get(id)?.close('INTERNAL', 'internal error while opening this channel');
      this.#deps.link.handlerFailed(error); // onHandlerError, or rethrown when there is none
    }
  }

  #accept(frame: OpenFrame, info: JsonObject): Channel {
    const { window, maxData } = this.#deps.options;
    const bytes = encodeFrame({ type: 'accept', channel: frame.channel, window, maxData, info }); // may throw
    this.table.incoming.delete(frame.channel);
    const channel = this.#createChannel(frame.channel, frame.spec, info, frame.window, frame.maxData);
    this.#deps.link.sendBytes(bytes);
    return channel;
  }

  #createChannel(
    id: number,
    spec: JsonObject,
    info: JsonObject,
    sendWindow: number,
    peerMaxData: number,
  ): Channel {
    const channel = new Channel(this.#link, this.#channelInit(id, spec, info, sendWindow, peerMaxData));
    this.table.channels.set(id, channel);
    return channel;
  }

  #channelInit(id: number, spec: JsonObject, info: JsonObject, sendWindow: number, peerMaxData: number) {
    const { window, maxData, minPeerMaxData } = this.#deps.options;
    return { id, spec, info, sendWindow, peerMaxData, window, maxData, minChunk: minPeerMaxData };
  }

  #send(frame: Frame): void {
    this.#deps.link.sendBytes(encodeFrame(frame));
  }
}
