import { ProtocolError } from './errors.ts';
import {
  CONNECTION_FRAME_TYPES,
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameType,
  frameTypeName,
  type JsonObject,
  MAX_JSON_BYTES,
  MAX_U32,
} from './frame-types.ts';
import { PayloadReader } from './payload-reader.ts';

const utf8 = new TextEncoder();

/**
 * Decodes one frame (one WebSocket binary message). Throws only ProtocolError. The `data` of a data frame is a
 * view into `bytes`, not a copy (and `bytes` may later carry it on: see encodeDataFrame). `error.channel` is
 * set when the frame is a channel frame with a readable id > 0.
 */
export function decodeFrame(bytes: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Frame {
  if (!(bytes instanceof Uint8Array))
    throw new ProtocolError('MALFORMED_FRAME', 'frame must be a Uint8Array');
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw new ProtocolError(
      'MALFORMED_FRAME',
      `frame is ${bytes.length} bytes, shorter than the 5-byte header`,
    );
  }
  const typeCode = bytes[0]!;
  // The hot path: a data frame needs only its channel id checked, so it skips the general checks below and
  // the error text they prepare.
  const channel = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
  if (typeCode === FrameType.data && channel !== 0 && bytes.length <= maxFrameBytes) {
    const data = bytes.subarray(FRAME_HEADER_BYTES);
    lastPayload = data;
    return { type: 'data', channel, data };
  }
  const type = frameTypeName(typeCode);
  if (type === undefined) {
    throw new ProtocolError('UNKNOWN_FRAME_TYPE', `unknown frame type ${typeCode} on channel ${channel}`);
  }
  const where = `${type} frame on channel ${channel}`;
  const isConnectionFrame = CONNECTION_FRAME_TYPES.has(type);
  const errorChannel = isConnectionFrame || channel === 0 ? undefined : channel;
  if (bytes.length > maxFrameBytes) {
    throw new ProtocolError(
      'FRAME_TOO_LARGE',
      `${where}: ${bytes.length} bytes exceeds the ${maxFrameBytes}-byte frame limit`,
      errorChannel,
    );
  }
  if (isConnectionFrame && channel !== 0) {
    throw new ProtocolError('MALFORMED_FRAME', `${where}: connection frames must use channel 0`);
  }
  if (!isConnectionFrame && channel === 0) {
    throw new ProtocolError('MALFORMED_FRAME', `${where}: channel frames need a channel id > 0`);
  }
  const r = new PayloadReader(bytes, FRAME_HEADER_BYTES, where, errorChannel);
  switch (type) {
    case 'hello': {
      const version = r.u16('version');
      const minVersion = r.u16('minVersion');
      if (minVersion < 1 || minVersion > version) {
        r.fail(
          `versions must satisfy 1 <= minVersion <= version (got minVersion ${minVersion}, version ${version})`,
        );
      }
      return { type, version, minVersion, info: r.json('info') };
    }
    case 'open':
    case 'accept': {
      const window = r.u32('window');
      const maxData = r.u32('maxData');
      if (maxData === 0) r.fail('maxData must be > 0');
      return type === 'open'
        ? { type, channel, window, maxData, spec: r.json('spec') }
        : { type, channel, window, maxData, info: r.json('info') };
    }
    case 'reject':
    case 'close':
      return { type, channel, ...r.codeAndMessage() };
    case 'goaway':
      return { type, ...r.codeAndMessage() };
    case 'data':
      return { type, channel, data: r.rest() };
    case 'window': {
      const increment = r.u32('increment');
      if (increment === 0) r.fail('increment must be > 0');
      r.end();
      return { type, channel, increment };
    }
    case 'resize': {
      const cols = r.u16('cols');
      const rows = r.u16('rows');
      if (cols === 0 || rows === 0) r.fail(`cols and rows must be >= 1 (got ${cols}x${rows})`);
      r.end();
      return { type, channel, cols, rows };
    }
    case 'eof':
      r.end();
      return { type, channel };
    case 'exit': {
      const flags = r.u8('flags');
      if ((flags & ~1) !== 0) r.fail(`unknown flag bits 0x${flags.toString(16)}`);
      const code = r.i32('code');
      if ((flags & 1) === 0 && code !== 0) r.fail('code must be 0 when the code-present flag is clear');
      const signal = r.text('signal');
      return { type, channel, code: (flags & 1) === 1 ? code : null, signal: signal === '' ? null : signal };
    }
    case 'ping':
    case 'pong': {
      const nonce = r.u32('nonce');
      r.end();
      return { type, nonce };
    }
  }
}

/**
 * The payload of the data frame decoded last. The header bytes just before it in memory are that frame's,
 * read already and of no use to anyone (only the mux saw the frame; applications get the payload), so when
 * the very same payload is sent on, as a relay does in the run that received it, the new header is written
 * over the old one and the payload is not copied.
 */
let lastPayload: Uint8Array | undefined;

/** The hot path: a data frame's header and payload in one buffer, without the general encoder's checks. */
export function encodeDataFrame(channel: number, data: Uint8Array): Uint8Array {
  let out: Uint8Array;
  if (data === lastPayload) {
    lastPayload = undefined;
    out = new Uint8Array(data.buffer, data.byteOffset - FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + data.length);
  } else {
    out = new Uint8Array(FRAME_HEADER_BYTES + data.length);
    out.set(data, FRAME_HEADER_BYTES);
  }
  out[0] = FrameType.data;
  out[1] = channel >>> 24;
  out[2] = (channel >>> 16) & 0xff;
  out[3] = (channel >>> 8) & 0xff;
  out[4] = channel & 0xff;
  return out;
}

/** Encodes one frame. Throws ProtocolError (MALFORMED_FRAME) when the frame is not valid on the wire. */
export function encodeFrame(frame: Frame): Uint8Array {
  const channel = 'channel' in frame ? frame.channel : 0;
  const where = `cannot encode ${String(frame?.type)} frame${channel === 0 ? '' : ` on channel ${channel}`}`;
  const fail = (problem: string): never => {
    throw new ProtocolError('MALFORMED_FRAME', `${where}: ${problem}`, channel === 0 ? undefined : channel);
  };
  const typeCode = FrameType[frame?.type as keyof typeof FrameType];
  if (typeCode === undefined) fail('unknown frame type');
  if ('channel' in frame && (!Number.isInteger(channel) || channel < 1 || channel > MAX_U32)) {
    fail('channel must be an integer in 1..2^32-1');
  }
  const int = (value: number, min: number, max: number, field: string): number => {
    if (!Number.isInteger(value) || value < min || value > max)
      fail(`${field} must be an integer in ${min}..${max}`);
    return value;
  };
  const json = (value: JsonObject, field: string): Uint8Array => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`${field} must be a JSON object`);
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      fail(`${field} cannot be serialized as JSON (${(error as Error).message})`);
    }
    if (typeof text !== 'string' || !text.startsWith('{')) fail(`${field} must serialize to a JSON object`);
    const out = utf8.encode(text);
    if (out.length > MAX_JSON_BYTES)
      fail(`${field} is ${out.length} bytes of JSON, the limit is ${MAX_JSON_BYTES}`);
    return out;
  };
  const codeAndMessage = (code: string, message: string): Uint8Array => {
    if (typeof code !== 'string' || typeof message !== 'string') fail('code and message must be strings');
    return json({ code, message }, 'payload');
  };

  let fixed: number[] = []; // [size, value] pairs for the fixed fields, big-endian; size 4 negative = i32
  let tail: Uint8Array = new Uint8Array(0);
  switch (frame.type) {
    case 'hello':
      fixed = [
        2,
        int(frame.version, 1, 0xffff, 'version'),
        2,
        int(frame.minVersion, 1, frame.version, 'minVersion'),
      ];
      tail = json(frame.info, 'info');
      break;
    case 'open':
    case 'accept':
      fixed = [4, int(frame.window, 0, MAX_U32, 'window'), 4, int(frame.maxData, 1, MAX_U32, 'maxData')];
      tail = frame.type === 'open' ? json(frame.spec, 'spec') : json(frame.info, 'info');
      break;
    case 'reject':
    case 'close':
    case 'goaway':
      tail = codeAndMessage(frame.code, frame.message);
      break;
    case 'data':
      if (!(frame.data instanceof Uint8Array)) fail('data must be a Uint8Array');
      tail = frame.data;
      break;
    case 'window':
      fixed = [4, int(frame.increment, 1, MAX_U32, 'increment')];
      break;
    case 'resize':
      fixed = [2, int(frame.cols, 1, 0xffff, 'cols'), 2, int(frame.rows, 1, 0xffff, 'rows')];
      break;
    case 'eof':
      break;
    case 'exit': {
      const hasCode = frame.code !== null;
      const code = hasCode ? int(frame.code as number, -0x8000_0000, 0x7fff_ffff, 'code') : 0;
      if (frame.signal !== null && typeof frame.signal !== 'string') fail('signal must be a string or null');
      fixed = [1, hasCode ? 1 : 0, -4, code];
      tail = utf8.encode(frame.signal ?? '');
      break;
    }
    case 'ping':
    case 'pong':
      fixed = [4, int(frame.nonce, 0, MAX_U32, 'nonce')];
      break;
  }

  let size = FRAME_HEADER_BYTES + tail.length;
  for (let i = 0; i < fixed.length; i += 2) size += Math.abs(fixed[i]!);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint8(0, typeCode);
  view.setUint32(1, channel);
  let at = FRAME_HEADER_BYTES;
  for (let i = 0; i < fixed.length; i += 2) {
    const width = fixed[i]!;
    const value = fixed[i + 1]!;
    if (width === 1) view.setUint8(at, value);
    else if (width === 2) view.setUint16(at, value);
    else if (width === 4) view.setUint32(at, value);
    else view.setInt32(at, value);
    at += Math.abs(width);
  }
  out.set(tail, at);
  return out;
}
