export type ProtocolErrorCode =
  | 'MALFORMED_FRAME'
  | 'FRAME_TOO_LARGE'
  | 'UNKNOWN_FRAME_TYPE'
  | 'VERSION_MISMATCH'
  | 'HANDSHAKE'
  | 'FLOW_CONTROL'
  | 'UNKNOWN_CHANNEL'
  | 'TOO_MANY_CHANNELS'
  | 'KEEPALIVE_TIMEOUT';

/**
 * A violation of the wire protocol. `channel` is the channel the error is about; it is undefined when the
 * error concerns the connection itself (or the channel id could not be read).
 */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly channel: number | undefined;

  constructor(code: ProtocolErrorCode, message: string, channel?: number) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.channel = channel;
  }
}

/** The peer answered our open() with a reject frame. */
export class ChannelRejectedError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message === '' ? `channel rejected (${code})` : message);
    this.name = 'ChannelRejectedError';
    this.code = code;
  }
}

/** The connection finished (close(), goaway from the peer, transport gone) while something was waiting on it. */
export class ConnectionClosedError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(`connection closed (${code || 'NORMAL'})${message === '' ? '' : `: ${message}`}`);
    this.name = 'ConnectionClosedError';
    this.code = code;
  }
}
