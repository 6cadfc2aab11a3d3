import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { type Channel, type Mux, muxOverWebSocket, PROMPT_FRAME_BYTES, wholeFrame } from '@sesame/protocol';
import * as wsPackage from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { selfSignedCertificate } from '../../../test/certificates.ts';
import { clientDirectFrames, maskingOptions } from './tls-pin.ts';

/** ws's frame decoder: exported by the package, but not in its typings. */
type ReceiverLike = {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): void;
};
const { Receiver } = wsPackage as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => ReceiverLike;
};

/**
 * Sorts what a ws WebSocket puts on its socket: lengths of the messages given to ws.send, and of the buffers
 * written to the socket by anyone else (the transport's whole frames).
 */
function watchWrites(ws: WebSocket) {
  const seen = { byWs: [] as number[], whole: [] as number[] };
  const raw = (ws as unknown as { _socket: { write: (chunk: Uint8Array, ...rest: unknown[]) => boolean } })
    ._socket;
  const write = raw.write.bind(raw);
  let inWs = false;
  raw.write = (chunk, ...rest) => {
    if (!inWs) seen.whole.push(chunk.length);
    return write(chunk, ...rest);
  };
  const send = ws.send.bind(ws) as (data: Uint8Array, options: object) => void;
  ws.send = ((data: Uint8Array, options: object) => {
    seen.byWs.push(data.length);
    inWs = true;
    try {
      send(data, options);
    } finally {
      inWs = false;
    }
  }) as typeof ws.send;
  return seen;
}

/** What ws's own decoder makes of `frame`, read as a server (client frames, masked) or as a client. */
function decodedByWs(frame: Uint8Array, asServer: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: asServer, maxPayload: 1024 * 1024 });
    receiver.on('message', (data: Buffer, isBinary: boolean) =>
      isBinary ? resolve(data) : reject(new Error('a text message')),
    );
    receiver.on('error', reject);
    receiver.write(Buffer.from(frame));
  });
}

test('a whole frame reads in ws as the message it carries, masked (from a client) or not, at every length class', async () => {
  for (const size of [0, 1, 125, 126, PROMPT_FRAME_BYTES, 0xffff]) {
    const payload = Buffer.alloc(size, size % 251);
    assert.deepEqual(await decodedByWs(wholeFrame(payload, true), true), payload, `masked, ${size} bytes`);
    assert.deepEqual(
      await decodedByWs(wholeFrame(payload, false), false),
      payload,
      `unmasked, ${size} bytes`,
    );
  }
  assert.equal(wholeFrame(new Uint8Array(1), true).length, 1 + 6);
  assert.equal(wholeFrame(new Uint8Array(126), false).length, 126 + 4);
  assert.throws(() => wholeFrame(new Uint8Array(0x10000), false), /at most 65535 bytes, not 65536/);
});

test('a client writes whole frames only where its mask is all zeros', () => {
  assert.equal(clientDirectFrames('ws://127.0.0.1:8080/api/v1/connect'), 'zero-mask-client');
  assert.equal(clientDirectFrames('wss://sesame.example.com/api/v1/connect'), 'zero-mask-client');
  assert.equal(clientDirectFrames('ws://10.0.0.5:8080/api/v1/connect'), 'off');
  assert.deepEqual(maskingOptions('ws://10.0.0.5:8080/api/v1/connect'), {});
});

const certificateDir = mkdtempSync(join(tmpdir(), 'sesame-whole-frames-'));
after(() => rmSync(certificateDir, { recursive: true, force: true }));

for (const scheme of ['ws', 'wss'] as const)
  test(`over a real WebSocket (${scheme}), small frames written whole and large ones sent by ws arrive intact and in order`, async (t) => {
    await echoOverRealSocket(scheme, t);
  });

async function echoOverRealSocket(scheme: 'ws' | 'wss', t: TestContext) {
  // Over TLS, the frames are written to the TLS socket, which ws holds as its _socket.
  const certificate = scheme === 'wss' ? selfSignedCertificate(certificateDir) : undefined;
  const httpServer = certificate
    ? createHttpsServer({ cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) })
    : createHttpServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const wss = new WebSocketServer({ server: httpServer, maxPayload: 1024 * 1024 });
  const serverErrors: Error[] = [];
  let serverWrites: ReturnType<typeof watchWrites> | undefined;
  wss.on('connection', (socket) => {
    socket.on('error', (error) => serverErrors.push(error));
    serverWrites = watchWrites(socket);
    // The server echoes every byte back on the channel the client opens.
    const mux = muxOverWebSocket(
      socket,
      {
        side: 'a',
        onOpen: (request) => {
          const channel = request.accept();
          channel.onData = (data) => channel.write(data);
        },
      },
      'server',
    );
    mux.hello({});
  });
  const url = `${scheme}://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`;
  const ws = new WebSocket(url, {
    ...maskingOptions(url),
    perMessageDeflate: false,
    ...(certificate ? { ca: readFileSync(certificate.certFile), servername: 'sesame.test' } : {}),
  });
  t.after(() => {
    ws.terminate();
    wss.close();
    httpServer.close();
  });
  // Attached in 'open' itself: the server's hello may come in the same read as the upgrade's answer.
  let clientWrites: ReturnType<typeof watchWrites> | undefined;
  const mux = await new Promise<Mux>((resolve) =>
    ws.once('open', () => {
      clientWrites = watchWrites(ws);
      resolve(muxOverWebSocket(ws, { side: 'b' }, clientDirectFrames(url)));
    }),
  );
  mux.hello({});
  const channel: Channel = await mux.open({ kind: 'echo' });
  const echoed: Buffer[] = [];
  let bytes = 0;
  // Payloads: a data frame adds the mux's header, so the fifth is written whole and the sixth goes through ws.
  const sizes = [1, 3, 100, 1000, PROMPT_FRAME_BYTES - 20, PROMPT_FRAME_BYTES, 5000, 1, 70_000, 2];
  const sent = Buffer.concat(sizes.map((size, i) => Buffer.alloc(size, 65 + i)));
  const done = new Promise<void>((resolve) => {
    channel.onData = (data) => {
      echoed.push(Buffer.from(data));
      bytes += data.length;
      if (bytes >= sent.length) resolve();
    };
  });
  let offset = 0;
  for (const size of sizes) {
    channel.write(sent.subarray(offset, offset + size));
    offset += size;
    // Some keys alone in their run (written whole at once), some runs of several frames (corked together).
    if (size < 10) await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  assert.deepEqual(Buffer.concat(echoed), sent);
  assert.deepEqual(serverErrors, []);
  assert.equal(ws.readyState, WebSocket.OPEN);
  for (const [side, seen] of [
    ['client', clientWrites],
    ['server', serverWrites],
  ] as const) {
    assert.ok(seen, side);
    assert.ok(seen.whole.length >= 6, `${side}: small frames written whole (${seen.whole})`);
    assert.ok(
      seen.whole.every((length) => length <= PROMPT_FRAME_BYTES + 8),
      `${side}: nothing large written whole (${seen.whole})`,
    );
    assert.ok(seen.byWs.length >= 3, `${side}: the large frames through ws (${seen.byWs})`);
    assert.ok(
      seen.byWs.every((length) => length > PROMPT_FRAME_BYTES),
      `${side}: only large frames through ws (${seen.byWs})`,
    );
  }
}
