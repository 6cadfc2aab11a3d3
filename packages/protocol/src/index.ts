export { type AgentInventory, agentProofMessage } from './agent-hello.ts';
export {
  type BrowserCloseEventLike,
  type BrowserMessageEventLike,
  type BrowserWebSocketLike,
  muxOverBrowserWebSocket,
} from './browser-transport.ts';
export { Channel } from './channel.ts';
export {
  ChannelRejectedError,
  ConnectionClosedError,
  ProtocolError,
  type ProtocolErrorCode,
} from './errors.ts';
export { decodeFrame, encodeFrame } from './frame-codec.ts';
export {
  DEFAULT_MAX_DATA,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_WINDOW,
  type Frame,
  FrameType,
  type FrameTypeName,
  type JsonObject,
  MAX_JSON_BYTES,
  MAX_U32,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  SERVER_MIN_PEER_MAX_DATA,
} from './frame-types.ts';
export { Mux, type Transport } from './mux.ts';
export type { MuxOptions } from './mux-options.ts';
export type { OpenRequest } from './open-request.ts';
export { type Corkable, PROMPT_FRAME_BYTES, runCorker } from './run-corker.ts';
export {
  type DirectFrames,
  muxOverWebSocket,
  type NodeWebSocketLike,
  READ_PAUSE_AT,
  SEND_HIGH_WATER,
  WS_CLOSE_CODES,
  wholeFrame,
} from './ws-transport.ts';
