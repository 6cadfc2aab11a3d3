export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024;
/** Largest DATA payload per frame we accept by default. */
export const DEFAULT_MAX_DATA = 32 * 1024;
/** The smallest maxData a server takes from its peers (MuxOptions.minPeerMaxData): frames below it cost more than they carry. */
export const SERVER_MIN_PEER_MAX_DATA = 1024;
/** Initial per-channel receive window we grant by default. */
export const DEFAULT_WINDOW = 2 * 1024 * 1024;
/** Cap on the JSON part of hello/open/accept/reject/close/goaway payloads. */
export const MAX_JSON_BYTES = 16 * 1024;
/** Every frame starts with u8 type + u32 channel id. */
export const FRAME_HEADER_BYTES = 5;
export const MAX_U32 = 0xffff_ffff;

export const FrameType = {
  hello: 1,
  open: 2,
  accept: 3,
  reject: 4,
  data: 5,
  window: 6,
  resize: 7,
  eof: 8,
  exit: 9,
  close: 10,
  ping: 11,
  pong: 12,
  goaway: 13,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** Frame types that belong to the connection (channel 0); all others belong to a channel (id > 0). */
export const CONNECTION_FRAME_TYPES: ReadonlySet<FrameTypeName> = new Set([
  'hello',
  'ping',
  'pong',
  'goaway',
]);

export type JsonObject = { [key: string]: unknown };

export type Frame =
  | { type: 'hello'; version: number; minVersion: number; info: JsonObject }
  | { type: 'open'; channel: number; window: number; maxData: number; spec: JsonObject }
  | { type: 'accept'; channel: number; window: number; maxData: number; info: JsonObject }
  | { type: 'reject'; channel: number; code: string; message: string }
  | { type: 'data'; channel: number; data: Uint8Array }
  | { type: 'window'; channel: number; increment: number }
  | { type: 'resize'; channel: number; cols: number; rows: number }
  | { type: 'eof'; channel: number }
  | { type: 'exit'; channel: number; code: number | null; signal: string | null }
  | { type: 'close'; channel: number; code: string; message: string }
  | { type: 'ping'; nonce: number }
  | { type: 'pong'; nonce: number }
  | { type: 'goaway'; code: string; message: string };

export type ChannelFrame = Extract<Frame, { channel: number }>;

const NAMES: readonly (FrameTypeName | undefined)[] = (() => {
  const names: (FrameTypeName | undefined)[] = [];
  for (const [name, code] of Object.entries(FrameType)) names[code] = name as FrameTypeName;
  return names;
})();

/** The frame type name for a wire code, or undefined for an unknown code. */
export function frameTypeName(code: number): FrameTypeName | undefined {
  return NAMES[code];
}
