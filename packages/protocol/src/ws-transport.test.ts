import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './frame-types.ts';
import { PROMPT_FRAME_BYTES } from './run-corker.ts';
import {
  type CorkableSocket,
  closeReason,
  muxOverWebSocket,
  type NodeWebSocketLike,
  READ_PAUSE_AT,
  SEND_HIGH_WATER,
  wsCloseCode,
} from './ws-transport.ts';

/** A stand-in for a `ws` WebSocket whose underlying socket records what cork() held back. */
function fakeSocket(withRawSocket: boolean, rawLater = false) {
  const log: string[] = [];
  let corks = 0;
  const drainListeners: (() => void)[] = [];
  const raw: CorkableSocket = {
    cork: () => {
      corks += 1;
      log.push('cork');
    },
    uncork: () => {
      corks -= 1;
      log.push('uncork');
    },
    on: (_event, listener) => drainListeners.push(listener),
    write: (chunk) => {
      log.push(`write ${chunk.length} bytes whole${corks > 0 ? ' (corked)' : ''}`);
      return true;
    },
  };
  const state = { bufferedAmount: 0, connecting: rawLater, extensions: '' };
  const socket: NodeWebSocketLike = {
    readyState: 1,
    get bufferedAmount() {
      return state.bufferedAmount;
    },
    pause: () => log.push('pause'),
    resume: () => log.push('resume'),
    send: (data) => log.push(`send ${decodeFrame(data).type}${corks > 0 ? ' (corked)' : ''}`),
    close: () => log.push('close'),
    on: () => socket,
    get extensions() {
      return state.extensions;
    },
    get _socket() {
      return withRawSocket && !state.connecting ? raw : undefined;
    },
  };
  const drain = () => {
    for (const listener of drainListeners) listener();
  };
  return { socket, log, state, drain };
}

test('the first frame of a run leaves at once; the rest of the run is corked together and uncorked once, after it', async () => {
  const { socket, log } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  assert.deepEqual(log, ['send hello'], 'a lone frame (a keystroke, an echo) waits for nothing');
  mux.close();
  assert.deepEqual(log, ['send hello', 'cork', 'send goaway (corked)', 'close']);
  await Promise.resolve();
  assert.deepEqual(log.slice(4), ['uncork']);
});

test('a large frame that starts a run is corked with what follows it (a flood keeps one write per run)', async () => {
  const { socket, log } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({ padding: 'x'.repeat(PROMPT_FRAME_BYTES) });
  mux.close();
  await Promise.resolve();
  assert.deepEqual(log, ['cork', 'send hello (corked)', 'send goaway (corked)', 'close', 'uncork']);
});

test('the size limit is the whole mux frame: 1024 bytes go at once and whole, 1025 are corked and go through ws', async () => {
  const helloOf = (padding: string) =>
    encodeFrame({
      type: 'hello',
      version: PROTOCOL_VERSION,
      minVersion: MIN_PROTOCOL_VERSION,
      info: { padding },
    }).length;
  const fits = 'x'.repeat(PROMPT_FRAME_BYTES - helloOf(''));
  assert.equal(helloOf(fits), PROMPT_FRAME_BYTES);
  const options = { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 } as const;
  const at = fakeSocket(true);
  muxOverWebSocket(at.socket, options, 'server').hello({ padding: fits });
  assert.deepEqual(at.log, [`write ${PROMPT_FRAME_BYTES + 4} bytes whole`]);
  const over = fakeSocket(true);
  muxOverWebSocket(over.socket, options, 'server').hello({ padding: `${fits}x` });
  await Promise.resolve();
  assert.deepEqual(over.log, ['cork', 'send hello (corked)', 'uncork']);
});

test('a small first frame is corked like the rest when bytes already wait in the socket', async () => {
  const { socket, log, state } = fakeSocket(true);
  state.bufferedAmount = 10;
  muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 }).hello({});
  await Promise.resolve();
  assert.deepEqual(log, ['cork', 'send hello (corked)', 'uncork']);
});

test('a frame sent in a later run leaves at once again: nothing waits for more frames', async () => {
  const { socket, log } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  await Promise.resolve();
  mux.close();
  await Promise.resolve();
  assert.deepEqual(log, ['send hello', 'send goaway', 'close']);
});

test('direct: small frames are written whole to the socket, larger ones and any with an extension go through ws', async () => {
  const { socket, log, state } = fakeSocket(true);
  const mux = muxOverWebSocket(
    socket,
    { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
    'server',
  );
  const hello = encodeFrame({ type: 'hello', version: 1, minVersion: 1, info: {} }).length;
  mux.hello({});
  mux.close();
  const goaway = encodeFrame({ type: 'goaway', code: 'NORMAL', message: '' }).length;
  assert.deepEqual(log, [
    `write ${hello + 2} bytes whole`,
    'cork',
    `write ${goaway + 2} bytes whole (corked)`,
    'close',
  ]);
  const client = fakeSocket(true);
  const big = muxOverWebSocket(
    client.socket,
    { side: 'b', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
    'zero-mask-client',
  );
  big.hello({ padding: 'x'.repeat(PROMPT_FRAME_BYTES) });
  await Promise.resolve();
  const small = muxOverWebSocket(
    client.socket,
    { side: 'b', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
    'zero-mask-client',
  );
  small.hello({});
  assert.deepEqual(client.log.slice(0, 4), [
    'cork',
    'send hello (corked)',
    'uncork',
    `write ${hello + 6} bytes whole`,
  ]);
  state.extensions = 'permessage-deflate';
  const deflating = muxOverWebSocket(
    socket,
    { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
    'server',
  );
  deflating.hello({});
  assert.equal(
    log.at(-1),
    'send hello',
    'with an extension, ws may queue frames: everything goes through it',
  );
});

test('without an underlying socket, frames are sent one by one as before', () => {
  const { socket, log } = fakeSocket(false);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  assert.deepEqual(log, ['send hello']);
});

test('a peer that does not read: reading stops once READ_PAUSE_AT bytes wait, and goes on when they drained', async () => {
  const { socket, log, state, drain } = fakeSocket(true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  mux.hello({});
  state.bufferedAmount = SEND_HIGH_WATER;
  mux.close('NORMAL'); // any frame: the goaway
  assert.ok(!log.includes('pause'), 'channel data stops at the high-water mark; reading goes on');
  const other = fakeSocket(true);
  const second = muxOverWebSocket(other.socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  other.state.bufferedAmount = READ_PAUSE_AT;
  second.hello({});
  assert.deepEqual(
    other.log.filter((l) => l === 'pause' || l === 'resume'),
    ['pause'],
  );
  other.state.bufferedAmount = 0;
  other.drain();
  assert.deepEqual(
    other.log.filter((l) => l === 'pause' || l === 'resume'),
    ['pause', 'resume'],
  );
  drain(); // a drain with reading never paused resumes nothing
  assert.ok(!log.includes('resume'));
});

test("a mux made before the client's socket exists still hears its 'drain' once it does", () => {
  const { socket, log, state, drain } = fakeSocket(true, true);
  const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  state.connecting = false; // opened
  state.bufferedAmount = READ_PAUSE_AT;
  mux.hello({});
  state.bufferedAmount = 0;
  drain();
  assert.deepEqual(
    log.filter((l) => l === 'pause' || l === 'resume'),
    ['pause', 'resume'],
  );
});

test('close codes: only the table’s own entries map, anything a peer names otherwise is 1002', () => {
  assert.equal(wsCloseCode('NORMAL'), 1000);
  assert.equal(wsCloseCode('KEEPALIVE_TIMEOUT'), 4003);
  for (const code of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'NOPE', ''])
    assert.equal(wsCloseCode(code), 1002, code);
});

test('close reasons fit 123 bytes of UTF-8 and are never cut inside a character', () => {
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  assert.equal(closeReason('short'), 'short');
  const accents = closeReason('é'.repeat(100));
  assert.equal(accents, 'é'.repeat(61));
  assert.ok(bytes(accents) <= 123);
  const emoji = closeReason(`${'x'.repeat(121)}😀tail`); // the 4-byte character would end at byte 125
  assert.equal(emoji, 'x'.repeat(121));
  assert.equal(closeReason('y'.repeat(200)).length, 123);
});
