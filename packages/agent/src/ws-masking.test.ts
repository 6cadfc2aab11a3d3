import assert from 'node:assert/strict';
import { createConnection, createServer, type LookupFunction, type Socket } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { maskingOptions } from './tls-pin.ts';

test('the mask is all zeros over TLS and on loopback, random over plain http to another host', () => {
  const zero = (url: string) => {
    const { generateMask } = maskingOptions(url);
    if (!generateMask) return false;
    const mask = new Uint8Array([1, 2, 3, 4]);
    generateMask(mask);
    return mask.every((b) => b === 0);
  };
  assert.equal(zero('wss://sesame.example.com/api/v1/agent/connect'), true);
  assert.equal(zero('https://sesame.example.com'), true);
  assert.equal(zero('ws://127.0.0.1:8080/api/v1/connect'), true);
  assert.equal(zero('ws://localhost:8080/api/v1/connect'), true);
  assert.equal(zero('ws://[::1]:8080/api/v1/connect'), true);
  assert.deepEqual(maskingOptions('ws://sesame.internal:8080/api/v1/connect'), {});
  assert.deepEqual(maskingOptions('ws://10.0.0.5:8080/api/v1/connect'), {});
});

/** A loopback WebSocket server behind a TCP tap that keeps what the client sent; yields the client's frame. */
async function clientFrameOnTheWire(
  payload: Buffer,
  url: (port: number) => string,
  extra: WebSocket.ClientOptions = {},
): Promise<Buffer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const received = new Promise<Buffer>((resolve) =>
    wss.once('connection', (ws) => ws.once('message', (data) => resolve(data as Buffer))),
  );
  const fromClient: Buffer[] = [];
  const sockets: Socket[] = [];
  const tap = createServer((client: Socket) => {
    const upstream = createConnection((wss.address() as { port: number }).port, '127.0.0.1');
    sockets.push(client, upstream);
    client.on('data', (d) => {
      fromClient.push(d);
      upstream.write(d);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((r) => tap.listen(0, '127.0.0.1', r));
  const port = (tap.address() as { port: number }).port;
  const target = url(port);
  const ws = new WebSocket(target, { ...maskingOptions(target), perMessageDeflate: false, ...extra });
  try {
    await new Promise((r) => ws.once('open', r));
    ws.send(payload);
    assert.deepEqual(await received, payload, 'the server reads the message as it was sent');
    const wire = Buffer.concat(fromClient);
    const frame = wire.subarray(wire.indexOf('\r\n\r\n') + 4);
    return frame;
  } finally {
    ws.terminate();
    for (const socket of sockets) socket.destroy();
    for (const client of wss.clients) client.terminate();
    tap.close();
    wss.close();
  }
}

test('on loopback the client frame is masked with zeros: the payload goes out as it is, and ws accepts it', async () => {
  const payload = Buffer.from('terminal output, 0123456789');
  const frame = await clientFrameOnTheWire(payload, (port) => `ws://127.0.0.1:${port}/`);
  assert.equal(frame[1]! & 0x80, 0x80, 'the MASK bit is set, as RFC 6455 requires of clients');
  assert.deepEqual([...frame.subarray(2, 6)], [0, 0, 0, 0]);
  assert.deepEqual(frame.subarray(6, 6 + payload.length), payload);
});

test('to another host over plain http the mask stays random', async () => {
  const payload = Buffer.from('terminal output, 0123456789');
  // sesame.test is resolved to the loopback tap here, but by its name it is another host.
  const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
    options.all
      ? callback(null, [{ address: '127.0.0.1', family: 4 }])
      : callback(null, '127.0.0.1', 4)) as unknown as LookupFunction;
  const frame = await clientFrameOnTheWire(payload, (port) => `ws://sesame.test:${port}/`, {
    lookup,
  } as WebSocket.ClientOptions);
  assert.equal(frame[1]! & 0x80, 0x80);
  assert.notDeepEqual([...frame.subarray(2, 6)], [0, 0, 0, 0]);
  assert.notDeepEqual(frame.subarray(6, 6 + payload.length), payload, 'the payload is masked on the wire');
});
