import { transportClosedMessage } from './errors.ts';
import { Mux, type MuxOptions } from './mux.ts';
import { type Corkable, PROMPT_FRAME_BYTES, runCorker } from './run-corker.ts';

/** The part of the `ws` package's WebSocket (Node) that the mux needs; typed structurally to stay import-free. */
export interface NodeWebSocketLike {
  readonly readyState: number;
  /** Bytes sent but not yet written to the network (the socket's buffer included). */
  readonly bufferedAmount: number;
  /** Stops (and resumes) reading from the peer. */
  pause(): void;
  resume(): void;
  send(data: Uint8Array, options: { binary: boolean }): void;
  /** The negotiated extensions ('' when none): frames are written whole only without any (and not if unknown). */
  readonly extensions?: string;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Uint8Array, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /**
   * The `ws` package's underlying socket (not in its typings, stable across ws 8). When present, the frames sent
   * in one turn of the event loop after a small first one go out in one write, and small frames are written to it
   * whole: see `muxOverWebSocket`.
   */
  readonly _socket?: CorkableSocket | null;
}

/** A Node stream's write(), cork()/uncork() and its 'drain' event (its buffer was written out). */
export interface CorkableSocket extends Corkable {
  write(chunk: Uint8Array): boolean;
  on(event: 'drain', listener: () => void): unknown;
}

/**
 * Unsent bytes at which channel data stops and waits for the socket to drain: a peer that reads slowly (or not at
 * all) holds back the channels' credit, and so the data's source, instead of growing this side's memory.
 */
export const SEND_HIGH_WATER = 1024 * 1024;
/**
 * Unsent bytes at which this side stops reading the peer until the socket drains: frames that are answered
 * (ping, a frame for an unknown channel) cannot then pile up answers a peer never reads. Channel data alone
 * stops near SEND_HIGH_WATER, so only such a peer gets here.
 */
export const READ_PAUSE_AT = 8 * 1024 * 1024;

/**
 * How this side may write a small frame whole, straight to the socket (see muxOverWebSocket): 'server' (frames go
 * unmasked), 'zero-mask-client' (a client whose masking key is all zeros, maskingOptions in @sesame/agent: the
 * payload goes as it is), or 'off' (every frame goes through ws).
 */
export type DirectFrames = 'server' | 'zero-mask-client' | 'off';

/**
 * The WebSocket frame of a binary message of at most 65535 bytes in one buffer: FIN and opcode 2, the length (with
 * the 16-bit extension past 125) and, from a client, the mask bit and an all-zero masking key (XOR with zero leaves
 * the payload as it is, RFC 6455 5.3).
 */
export function wholeFrame(payload: Uint8Array, zeroMasked: boolean): Uint8Array {
  if (payload.length > 0xffff)
    throw new RangeError(`wholeFrame takes at most 65535 bytes, not ${payload.length}`);
  const extended = payload.length > 125;
  const head = 2 + (extended ? 2 : 0) + (zeroMasked ? 4 : 0);
  const frame = new Uint8Array(head + payload.length);
  frame[0] = 0x82;
  frame[1] = (zeroMasked ? 0x80 : 0) | (extended ? 126 : payload.length);
  if (extended) {
    frame[2] = payload.length >> 8;
    frame[3] = payload.length & 0xff;
  }
  frame.set(payload, head);
  return frame;
}

/** WebSocket close codes for mux close codes; anything unknown is a protocol error (1002). */
export const WS_CLOSE_CODES: Record<string, number> = {
  NORMAL: 1000,
  SHUTDOWN: 1001,
  UNAUTHENTICATED: 4001,
  HANDSHAKE: 4001,
  REPLACED: 4002,
  KEEPALIVE_TIMEOUT: 4003,
  VERSION_MISMATCH: 4004,
  RATE_LIMITED: 4005,
  INTERNAL: 1011,
};

const OPEN = 1;
/** A close frame's payload is at most 125 bytes: the 2-byte code and up to 123 bytes of reason. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The WebSocket close code for a mux close code, which may come from the peer (a goaway): only the table's own
 * entries count (a peer's "constructor" must not find Object's), anything else is a protocol error (1002).
 */
export function wsCloseCode(code: string): number {
  return Object.hasOwn(WS_CLOSE_CODES, code) ? (WS_CLOSE_CODES[code] as number) : 1002;
}

/** `text` cut to fit a close frame: at most 123 bytes of UTF-8, never in the middle of a character. */
export function closeReason(text: string): string {
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(MAX_CLOSE_REASON_BYTES));
  return text.slice(0, read);
}

/**
 * Runs a Mux over a `ws` WebSocket: one binary message per frame; a text message is a protocol error.
 *
 * The frames of one synchronous run are batched by runCorker: a small first one on an idle socket leaves at once
 * (a keystroke or its echo is not held back while the rest of the run, the read's bookkeeping, the recorder, the
 * window, executes); the others (the relay forwarding the frames of one socket read, the window frames that
 * follow) leave together in one writev at the run's end.
 *
 * With `direct` other than 'off', a frame of at most PROMPT_FRAME_BYTES is written whole, in one buffer, to the
 * socket (wholeFrame) instead of through ws, which hands Node a header and the payload apart (a cork, two writes
 * and a writev per frame): a keystroke costs each process on its path less. Only while no extension was negotiated
 * (nothing then waits in ws's send queue, so the order of frames holds). Larger frames go through ws.
 */
export function muxOverWebSocket(
  socket: NodeWebSocketLike,
  options: MuxOptions,
  direct: DirectFrames = 'off',
): Mux {
  /** Batches the frames of a run (made once the socket is there: a client's shows once it opened). */
  let corker: ReturnType<typeof runCorker> | undefined;
  let readingPaused = false;
  /** The socket whose 'drain' is listened to (see bindDrain). */
  let drainBound: CorkableSocket | undefined;
  /** Small frames are written whole (decided with the corker, when the socket is there). */
  let whole = false;
  const mux = new Mux(
    {
      send(bytes) {
        if (socket.readyState !== OPEN) return;
        bindDrain();
        const raw = socket._socket;
        if (raw) {
          if (!corker) {
            corker = runCorker(raw);
            whole = direct !== 'off' && socket.extensions === '';
          }
          // (With bytes already waiting in the socket, a write now would only join them.)
          corker.beforeWrite(bytes.length, socket.bufferedAmount === 0);
        }
        if (raw && whole && bytes.length <= PROMPT_FRAME_BYTES)
          raw.write(wholeFrame(bytes, direct === 'zero-mask-client'));
        else socket.send(bytes, { binary: true });
        if (!readingPaused && socket.bufferedAmount >= READ_PAUSE_AT) {
          readingPaused = true;
          socket.pause();
        }
      },
      // (Full only after sends, and each send binds the socket's 'drain' below.)
      full: () => socket.bufferedAmount >= SEND_HIGH_WATER,
      unsentBytes: () => socket.bufferedAmount,
      close(code, message) {
        socket.close(wsCloseCode(code), closeReason(`${code}: ${message}`));
      },
    },
    options,
  );
  // Past the high-water mark a write returned false, so the socket emits 'drain' once its buffer is written out.
  // (A client's socket exists only once it opened: bound when it first shows.)
  function bindDrain() {
    const raw = socket._socket;
    if (!raw || raw === drainBound) return;
    drainBound = raw;
    raw.on('drain', () => {
      if (readingPaused) {
        readingPaused = false;
        socket.resume();
      }
      mux.transportDrained();
    });
  }
  bindDrain();
  socket.on('message', (data, isBinary) => {
    if (!isBinary) {
      mux.close('MALFORMED_FRAME', 'text message received; Sesame frames are binary');
      return;
    }
    mux.receive(data);
  });
  socket.on('close', (code, reason) => {
    mux.transportClosed('TRANSPORT_CLOSED', transportClosedMessage(code, new TextDecoder().decode(reason)));
  });
  socket.on('error', () => {
    // 'close' follows every 'error' in ws; the mux is closed there.
  });
  return mux;
}
