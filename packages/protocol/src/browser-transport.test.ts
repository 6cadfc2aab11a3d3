import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import {
  type BrowserCloseEventLike,
  type BrowserMessageEventLike,
  type BrowserWebSocketLike,
  muxOverBrowserWebSocket,
} from './browser-transport.ts';
import type { Channel } from './channel.ts';
import type { Mux } from './mux.ts';

const NO_KEEPALIVE = { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 };

/** A stand-in for the DOM WebSocket: what the page sends is recorded; the test delivers events by hand. */
class FakeSocket implements BrowserWebSocketLike {
  readyState = 1;
  binaryType = 'blob';
  sent: Uint8Array[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  #message: ((event: BrowserMessageEventLike) => void)[] = [];
  #close: ((event: BrowserCloseEventLike) => void)[] = [];
  /** Where send() delivers, when joined to a peer. */
  peer: FakeSocket | undefined;

  send(data: Uint8Array): void {
    this.sent.push(data);
    const peer = this.peer;
    // A copy in a fresh ArrayBuffer, in a later task: as a browser delivers a binary message.
    const copy = data.slice().buffer;
    if (peer) queueMicrotask(() => peer.deliver({ data: copy }));
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
    const peer = this.peer;
    if (peer) queueMicrotask(() => peer.deliverClose({ code: code ?? 1005, reason: reason ?? '' }));
  }
  addEventListener(type: 'message', listener: (event: BrowserMessageEventLike) => void): void;
  addEventListener(type: 'close', listener: (event: BrowserCloseEventLike) => void): void;
  addEventListener(
    type: 'message' | 'close',
    listener: ((event: BrowserMessageEventLike) => void) | ((event: BrowserCloseEventLike) => void),
  ): void {
    if (type === 'message') this.#message.push(listener as (event: BrowserMessageEventLike) => void);
    else this.#close.push(listener as (event: BrowserCloseEventLike) => void);
  }
  deliver(event: BrowserMessageEventLike): void {
    for (const listener of this.#message) listener(event);
  }
  deliverClose(event: BrowserCloseEventLike): void {
    this.readyState = 3;
    for (const listener of this.#close) listener(event);
  }
}

function joined() {
  const pageSocket = new FakeSocket();
  const serverSocket = new FakeSocket();
  pageSocket.peer = serverSocket;
  serverSocket.peer = pageSocket;
  return { pageSocket, serverSocket };
}

test('two muxes joined through browser sockets open a channel and exchange its data both ways', async () => {
  const { pageSocket, serverSocket } = joined();
  const accepted: Channel[] = [];
  const server: Mux = muxOverBrowserWebSocket(serverSocket, {
    side: 'a',
    ...NO_KEEPALIVE,
    onOpen: (request) => {
      const channel = request.accept({ sessionId: 's-1' });
      channel.onData = (data) =>
        channel.write(new TextEncoder().encode(`echo:${new TextDecoder().decode(data)}`));
      accepted.push(channel);
    },
  });
  const page = muxOverBrowserWebSocket(pageSocket, { side: 'b', ...NO_KEEPALIVE });
  assert.equal(pageSocket.binaryType, 'arraybuffer');
  server.hello({});
  page.hello({ client: 'test' });
  await page.ready;
  const channel = await page.open({ kind: 'shell', target: 'web-1', cols: 80, rows: 24 });
  assert.deepEqual(channel.info, { sessionId: 's-1' });
  let received = '';
  channel.onData = (data) => {
    received += new TextDecoder().decode(data);
  };
  channel.write(new TextEncoder().encode('ls'));
  await settle();
  assert.equal(received, 'echo:ls');
  assert.deepEqual(accepted[0]?.spec, { kind: 'shell', target: 'web-1', cols: 80, rows: 24 });
});

test('a text message is a protocol error that closes the socket', async () => {
  const socket = new FakeSocket();
  const closes: { code: string; message: string }[] = [];
  const mux = muxOverBrowserWebSocket(socket, { side: 'b', ...NO_KEEPALIVE, onClose: (c) => closes.push(c) });
  socket.deliver({ data: 'hello' });
  assert.equal(mux.closed, true);
  assert.equal(closes[0]?.code, 'MALFORMED_FRAME');
  // 1002 is not a code a page may send: it closes with 1000 and names the mux code in the reason.
  assert.equal(socket.closedWith?.code, 1000);
  assert.match(socket.closedWith?.reason ?? '', /^MALFORMED_FRAME: text message/);
});

test('close codes a page may send are kept', () => {
  const socket = new FakeSocket();
  const mux = muxOverBrowserWebSocket(socket, { side: 'b', ...NO_KEEPALIVE });
  mux.close('KEEPALIVE_TIMEOUT', 'no answer');
  assert.equal(socket.closedWith?.code, 4003);
});

test('the socket closing ends the mux with the close code and reason; nothing is sent after', async () => {
  const socket = new FakeSocket();
  const closes: { code: string; message: string }[] = [];
  const mux = muxOverBrowserWebSocket(socket, { side: 'b', ...NO_KEEPALIVE, onClose: (c) => closes.push(c) });
  const ready = mux.ready.then(
    () => undefined,
    (error: unknown) => error,
  );
  socket.deliverClose({ code: 4001, reason: 'UNAUTHENTICATED: sign in again' });
  assert.deepEqual(closes, [
    { code: 'TRANSPORT_CLOSED', message: 'connection closed (4001 UNAUTHENTICATED: sign in again)' },
  ]);
  assert.ok((await ready) instanceof Error, 'the handshake fails');
  mux.hello({});
  assert.equal(socket.sent.length, 0);
});
