import { Mux, type MuxOptions } from './mux.ts';

/** The part of the `ws` package's WebSocket (Node) that the mux needs; typed structurally to stay import-free. */
export interface NodeWebSocketLike {
  readonly readyState: number;
  send(data: Uint8Array, options: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Uint8Array, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
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
  INTERNAL: 1011,
};

const OPEN = 1;

/** Runs a Mux over a `ws` WebSocket: one binary message per frame; a text message is a protocol error. */
export function muxOverWebSocket(socket: NodeWebSocketLike, options: MuxOptions): Mux {
  const mux = new Mux(
    {
      send(bytes) {
        if (socket.readyState === OPEN) socket.send(bytes, { binary: true });
      },
      close(code, message) {
        // The close reason must fit in a control frame (123 bytes of UTF-8).
        socket.close(WS_CLOSE_CODES[code] ?? 1002, `${code}: ${message}`.slice(0, 120));
      },
    },
    options,
  );
  socket.on('message', (data, isBinary) => {
    if (!isBinary) {
      mux.close('MALFORMED_FRAME', 'text message received; Sesame frames are binary');
      return;
    }
    mux.receive(data);
  });
  socket.on('close', (code, reason) => {
    mux.transportClosed(
      'TRANSPORT_CLOSED',
      `connection closed (${code}${reason.length ? ` ${new TextDecoder().decode(reason)}` : ''})`,
    );
  });
  socket.on('error', () => {
    // 'close' follows every 'error' in ws; the mux is closed there.
  });
  return mux;
}
