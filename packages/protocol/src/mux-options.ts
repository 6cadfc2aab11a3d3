import type { ProtocolError } from './errors.ts';
import {
  DEFAULT_MAX_DATA,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_WINDOW,
  FRAME_HEADER_BYTES,
  type JsonObject,
  MAX_U32,
} from './frame-types.ts';
import type { OpenRequest } from './open-request.ts';

export type MuxOptions = {
  /** 'a' allocates odd channel ids, 'b' even ids, so both sides may open channels. The server uses 'a'. */
  side: 'a' | 'b';
  /** Incoming frames larger than this are rejected (DEFAULT_MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
  /** Receive window we grant on each channel (DEFAULT_WINDOW). */
  window?: number;
  /** Largest DATA payload we accept (DEFAULT_MAX_DATA). */
  maxData?: number;
  /**
   * The smallest frames a peer may have this side send (default 1): an open or accept asking for a smaller maxData
   * is refused, and no data frame smaller than this goes out while more is queued (credit granted a byte at a time
   * waits until it adds up). Otherwise a peer could have this side cut everything into one-byte frames.
   */
  minPeerMaxData?: number;
  /** Channels in use at once (default 1024); an open beyond it is rejected with TOO_MANY_CHANNELS. */
  maxChannels?: number;
  /** Send a ping this often (default 15000; 0 = off). */
  keepaliveIntervalMs?: number;
  /** Close the connection with KEEPALIVE_TIMEOUT when nothing was received for this long (default 45000; 0 = off). */
  keepaliveTimeoutMs?: number;
  /** The peer's hello arrived (before `ready` resolves); may throw or close the mux to refuse. */
  onHello?: (peer: { version: number; info: JsonObject }) => void;
  /** The peer wants a channel: call request.accept(info) or request.reject(code, message), now or later. */
  onOpen?: (request: OpenRequest) => void;
  /** The connection finished (goaway received, protocol error, transportClosed(), close()). */
  onClose?: (reason: { code: string; message: string }) => void;
  /** Any protocol error, including channel-level ones that did not close the connection (for logging). */
  onError?: (error: ProtocolError) => void;
  /**
   * An application handler of a channel threw. The channel is closed with INTERNAL either way; without this
   * option the error is also rethrown from a microtask (an uncaught exception in Node).
   */
  onHandlerError?: (error: unknown) => void;
};

export type ResolvedMuxOptions = Required<
  Pick<MuxOptions, 'side' | 'maxFrameBytes' | 'window' | 'maxData' | 'minPeerMaxData'>
> &
  Required<Pick<MuxOptions, 'maxChannels' | 'keepaliveIntervalMs' | 'keepaliveTimeoutMs'>> &
  Pick<MuxOptions, 'onHello' | 'onOpen' | 'onClose' | 'onError' | 'onHandlerError'>;

function integer(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < min || result > max) {
    throw new RangeError(`MuxOptions.${name} must be an integer in ${min}..${max}, got ${result}`);
  }
  return result;
}

/** Applies defaults and checks the options; throws RangeError for values that cannot work. */
export function resolveMuxOptions(options: MuxOptions): ResolvedMuxOptions {
  if (options.side !== 'a' && options.side !== 'b')
    throw new RangeError(`MuxOptions.side must be 'a' or 'b'`);
  const maxData = integer(options.maxData, DEFAULT_MAX_DATA, 1, MAX_U32 - FRAME_HEADER_BYTES, 'maxData');
  const maxFrameBytes = integer(
    options.maxFrameBytes,
    Math.max(DEFAULT_MAX_FRAME_BYTES, maxData + FRAME_HEADER_BYTES),
    maxData + FRAME_HEADER_BYTES,
    MAX_U32,
    'maxFrameBytes (which must also hold maxData + a 5-byte header)',
  );
  return {
    side: options.side,
    maxData,
    maxFrameBytes,
    window: integer(options.window, DEFAULT_WINDOW, 1, MAX_U32, 'window'),
    minPeerMaxData: integer(options.minPeerMaxData, 1, 1, MAX_U32, 'minPeerMaxData'),
    maxChannels: integer(options.maxChannels, 1024, 1, 2 ** 30, 'maxChannels'),
    keepaliveIntervalMs: integer(options.keepaliveIntervalMs, 15_000, 0, 2 ** 31 - 1, 'keepaliveIntervalMs'),
    keepaliveTimeoutMs: integer(options.keepaliveTimeoutMs, 45_000, 0, 2 ** 31 - 1, 'keepaliveTimeoutMs'),
    onHello: options.onHello,
    onOpen: options.onOpen,
    onClose: options.onClose,
    onError: options.onError,
    onHandlerError: options.onHandlerError,
  };
}
