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

/**
 * What a person reads when the WebSocket under a connection closed: the peer's reason when it gave one (the CLI
 * finds RATE_LIMITED in it); a close without a close frame (1006: the network, or the other side's process, went
 * away) said in words.
 */
export function transportClosedMessage(code: number, reason: string): string {
  if (reason) return `connection closed (${code} ${reason})`;
  if (code === 1006) return 'the connection was lost (the network or the other side went away)';
  if (code === 1009)
    return 'the connection was closed: a message was larger than the other side accepts (1009)';
  return `connection closed (${code})`;
}
