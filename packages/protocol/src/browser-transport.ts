import { transportClosedMessage } from './errors.ts';
import { Mux, type MuxOptions } from './mux.ts';
import { closeReason, wsCloseCode } from './ws-transport.ts';

/** What a message event carries: an ArrayBuffer for a binary message (binaryType 'arraybuffer'), a string for text. */
export interface BrowserMessageEventLike {
  readonly data: unknown;
}

export interface BrowserCloseEventLike {
  readonly code: number;
  readonly reason: string;
}

/**
 * The part of the DOM WebSocket that the mux needs, typed structurally so the package stays free of DOM typings.
 * A browser's `new WebSocket(url)` fits it; set `binaryType = 'arraybuffer'` before messages arrive.
 */
export interface BrowserWebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: BrowserMessageEventLike) => void): void;
  addEventListener(type: 'close', listener: (event: BrowserCloseEventLike) => void): void;
}

const OPEN = 1;

/**
 * Runs a Mux over a browser (DOM) WebSocket: one binary message per frame; a text message is a protocol error;
 * mux close codes map to WebSocket close codes as in `muxOverWebSocket`, except those a page may not send.
 */
export function muxOverBrowserWebSocket(socket: BrowserWebSocketLike, options: MuxOptions): Mux {
  socket.binaryType = 'arraybuffer';
  const mux = new Mux(
    {
      send(bytes) {
        if (socket.readyState === OPEN) socket.send(bytes);
      },
      close(code, message) {
        // A page may only close with 1000 or 3000-4999 (anything else throws); the reason names the mux code.
        // The reason must fit in a control frame (123 bytes of UTF-8).
        const wsCode = wsCloseCode(code);
        socket.close(wsCode === 1000 || wsCode >= 3000 ? wsCode : 1000, closeReason(`${code}: ${message}`));
      },
    },
    options,
  );
  socket.addEventListener('message', (event) => {
    if (!(event.data instanceof ArrayBuffer)) {
      mux.close('MALFORMED_FRAME', 'text message received; Sesame frames are binary');
      return;
    }
    mux.receive(new Uint8Array(event.data));
  });
  socket.addEventListener('close', (event) => {
    mux.transportClosed('TRANSPORT_CLOSED', transportClosedMessage(event.code, event.reason));
  });
  return mux;
}
