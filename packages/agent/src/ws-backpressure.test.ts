// The mux over a real `ws` WebSocket on loopback, against a peer that grants the largest window there is and then
// stops reading: the sending side's unsent bytes stay near SEND_HIGH_WATER, and the data's source is held back
// (no onSent), instead of memory growing by everything the source can make. The peer reads again: it all arrives.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { type Channel, MAX_U32, muxOverWebSocket, SEND_HIGH_WATER } from '@sesame/protocol';
import { WebSocket, WebSocketServer } from 'ws';

const CHUNK = 32 * 1024;
const TOTAL = 64 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a peer that stops reading holds back the sender and its source, not the sender’s memory', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  t.after(() => wss.close());
  const serverSide = new Promise<{ socket: WebSocket; channel: Channel }>((resolve) => {
    wss.once('connection', (socket) => {
      const mux = muxOverWebSocket(socket, {
        side: 'a',
        keepaliveIntervalMs: 0,
        keepaliveTimeoutMs: 0,
        onOpen: (request) => resolve({ socket, channel: request.accept({}) }),
      });
      mux.hello({});
    });
  });
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  t.after(() => client.terminate());
  // Attached in the 'open' handler itself: the server's hello may come in the same read as the upgrade answer.
  const clientMux = await new Promise<ReturnType<typeof muxOverWebSocket>>((resolve) =>
    client.once('open', () =>
      resolve(
        muxOverWebSocket(client, {
          side: 'b',
          window: MAX_U32,
          keepaliveIntervalMs: 0,
          keepaliveTimeoutMs: 0,
        }),
      ),
    ),
  );
  clientMux.hello({});
  const incoming = await clientMux.open({ kind: 'test' });
  let received = 0;
  incoming.onData = (data) => {
    received += data.length;
  };
  const { socket, channel } = await serverSide;

  // The source makes the next chunk only when the last one went out (as the relay returns the agent's credit).
  client.pause();
  let produced = 0;
  let mostBuffered = 0;
  const chunk = new Uint8Array(CHUNK);
  const pump = () => {
    if (produced >= TOTAL) return;
    produced += CHUNK;
    channel.write(chunk, () => {
      mostBuffered = Math.max(mostBuffered, socket.bufferedAmount);
      setImmediate(pump);
    });
  };
  for (let i = 0; i < 4; i++) pump();
  // Until production stops moving (the kernel's socket buffers fill first).
  for (let last = -1; produced !== last; ) {
    last = produced;
    await sleep(300);
  }
  assert.ok(produced < TOTAL / 4, `the source was held back: ${produced} of ${TOTAL} bytes made`);
  assert.ok(
    socket.bufferedAmount <= SEND_HIGH_WATER + 4 * CHUNK,
    `unsent bytes on the sending side: ${socket.bufferedAmount}`,
  );
  assert.ok(mostBuffered <= SEND_HIGH_WATER + 4 * CHUNK, `at most ${mostBuffered} unsent bytes`);

  client.resume();
  for (let i = 0; i < 2000 && received < TOTAL; i++) await sleep(10);
  assert.equal(received, TOTAL, 'everything arrives once the peer reads');
});
