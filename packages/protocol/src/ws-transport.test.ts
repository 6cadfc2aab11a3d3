import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame } from './frame-codec.ts';
import { type CorkableSocket, muxOverWebSocket, type NodeWebSocketLike } from './ws-transport.ts';

/** A stand-in for a `ws` WebSocket whose underlying socket records what cork() held back. */
function fakeSocket(withRawSocket: boolean) {
  const log: string[] = [];
  let corks = 0;
  const raw: CorkableSocket = {
    cork: () => {
      corks += 1;
      log.push('cork');
    },
    uncork: () => {
      corks -= 1;
      log.push('uncork');
    },
  };
  const socket: NodeWebSocketLike = {
    readyState: 1,
    send: (data) => log.push(`send ${decodeFrame(data).type}${corks > 0 ? ' (corked)' : ''}`),
    close: () => log.push('close'),
    on: () => socket,
    _socket: withRawSocket ? raw : undefined,
  };
  return { socket, log };
}

test('frames sent in one synchronous run are corked together and uncorked once, after the run', async () => {
  const { socket, log } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  mux.close();
  assert.deepEqual(log, ['cork', 'send hello (corked)', 'send goaway (corked)', 'close']);
  await Promise.resolve();
  assert.deepEqual(log.slice(4), ['uncork']);
});

test('a frame sent in a later run is corked and uncorked again: nothing waits for more frames', async () => {
  const { socket, log } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  await Promise.resolve();
  mux.close();
  await Promise.resolve();
  assert.deepEqual(log, [
    'cork',
    'send hello (corked)',
    'uncork',
    'cork',
    'send goaway (corked)',
    'close',
    'uncork',
  ]);
});

test('without an underlying socket, frames are sent one by one as before', () => {
  const { socket, log } = fakeSocket(false);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  assert.deepEqual(log, ['send hello']);
});
