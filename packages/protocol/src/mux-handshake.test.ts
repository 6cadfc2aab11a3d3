import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as settle, setTimeout as sleep } from 'node:timers/promises';
import { ConnectionClosedError, ProtocolError } from './errors.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import { type Frame, PROTOCOL_VERSION } from './frame-types.ts';
import { Mux } from './mux.ts';
import type { OpenRequest } from './open-request.ts';
import { connectMuxes, connectRaw, readyPair, recordChannel } from './test-peers.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const _str = (chunks: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(chunks));

describe('handshake', () => {
  test('both sides get ready with the agreed version and the peer info; onHello runs first', async () => {
    const order: string[] = [];
    const pair = connectMuxes(
      { side: 'a', onHello: (peer) => order.push(`a hello ${peer.version} ${peer.info.role}`) },
      { side: 'b' },
    );
    void pair.a.ready.then(() => order.push('a ready'));
    pair.b.hello({ role: 'agent' });
    pair.a.hello({ role: 'server' });
    const [peerOfA, peerOfB] = await Promise.all([pair.a.ready, pair.b.ready]);
    assert.deepEqual(peerOfA, { version: PROTOCOL_VERSION, info: { role: 'agent' } });
    assert.deepEqual(peerOfB, { version: PROTOCOL_VERSION, info: { role: 'server' } });
    assert.equal(pair.a.version, PROTOCOL_VERSION);
    assert.deepEqual(order, [`a hello ${PROTOCOL_VERSION} agent`, 'a ready']);
  });

  test('a side may answer after reading the first hello (server nonce, agent reply)', async () => {
    let pair: ReturnType<typeof connectMuxes> | undefined;
    pair = connectMuxes(
      { side: 'a' },
      { side: 'b', onHello: (peer) => pair!.b.hello({ signed: `sig(${peer.info.nonce})` }) },
    );
    assert.equal(pair.b.version, undefined);
    pair.a.hello({ nonce: 'n-123' });
    const peer = await pair.a.ready;
    assert.deepEqual(peer.info, { signed: 'sig(n-123)' });
    await pair.b.ready;
  });

  test('a version mismatch sends goaway VERSION_MISMATCH and closes the connection', async () => {
    const errors: ProtocolError[] = [];
    const reasons: { code: string }[] = [];
    const raw = connectRaw({ side: 'a', onError: (e) => errors.push(e), onClose: (r) => reasons.push(r) });
    raw.mux.hello({});
    raw.inject({ type: 'hello', version: 9, minVersion: 5, info: {} });
    assert.equal(raw.mux.closed, true);
    const goaway = raw.sent.at(-1);
    assert.equal(goaway?.type, 'goaway');
    assert.ok(goaway?.type === 'goaway' && goaway.code === 'VERSION_MISMATCH');
    assert.match(goaway.message, /versions 5\.\.9, this side 1\.\.1/);
    assert.deepEqual(
      raw.closes.map((c) => c.code),
      ['VERSION_MISMATCH'],
    );
    await assert.rejects(raw.mux.ready, (e) => e instanceof ProtocolError && e.code === 'VERSION_MISMATCH');
    assert.equal(errors[0]?.code, 'VERSION_MISMATCH');
    await settle();
    assert.deepEqual(
      reasons.map((r) => r.code),
      ['VERSION_MISMATCH'],
    );
  });

  test('a newer peer that still speaks our version is accepted at our version', async () => {
    const raw = connectRaw({ side: 'a' });
    raw.mux.hello({});
    raw.inject({ type: 'hello', version: PROTOCOL_VERSION + 3, minVersion: 1, info: { v: 'next' } });
    assert.deepEqual(await raw.mux.ready, { version: PROTOCOL_VERSION, info: { v: 'next' } });
  });

  test('onHello throwing refuses the peer with HANDSHAKE', async () => {
    const raw = connectRaw({
      side: 'a',
      onHello: () => {
        throw new Error('bad signature');
      },
    });
    raw.inject({ type: 'hello', version: 1, minVersion: 1, info: {} });
    const goaway = raw.sent.at(-1);
    assert.ok(
      goaway?.type === 'goaway' &&
        goaway.code === 'HANDSHAKE' &&
        goaway.message === 'hello refused: bad signature',
    );
    raw.mux.hello({}); // after close: ignored
    await assert.rejects(raw.mux.ready, /hello refused: bad signature/);
  });

  test('a duplicate hello or a channel frame before the hellos closes the connection with HANDSHAKE', () => {
    const dup = connectRaw({ side: 'a' });
    dup.mux.hello({});
    dup.inject({ type: 'hello', version: 1, minVersion: 1, info: {} });
    dup.inject({ type: 'hello', version: 1, minVersion: 1, info: {} });
    assert.ok(dup.mux.closed);
    assert.deepEqual(dup.closes, [
      { code: 'HANDSHAKE', message: 'hello frame on channel 0: duplicate hello' },
    ]);

    const early = connectRaw({ side: 'a' });
    early.inject({ type: 'hello', version: 1, minVersion: 1, info: {} }); // we have not sent ours yet
    early.inject({ type: 'open', channel: 2, window: 10, maxData: 10, spec: {} });
    assert.ok(early.mux.closed);
    assert.equal(early.closes[0]?.code, 'HANDSHAKE');
    assert.match(early.closes[0]!.message, /open frame on channel 2 before the hello exchange/);
  });

  test('hello() may be called once; ready rejects (observably or not) when closed first', async () => {
    const raw = connectRaw({ side: 'b' });
    raw.mux.hello({});
    assert.throws(() => raw.mux.hello({}), /already called/);
    const unobserved = connectRaw({ side: 'a' });
    unobserved.mux.close('SHUTDOWN', 'bye'); // nobody awaits its ready: must not be an unhandled rejection
    raw.mux.transportClosed();
    await assert.rejects(
      raw.mux.ready,
      (e) => e instanceof ConnectionClosedError && e.code === 'TRANSPORT_CLOSED',
    );
    await settle();
  });
});

describe('connection', () => {
  test('close(): goaway to the peer, every channel closes once, pending opens reject, both onClose fire', async () => {
    const reasons: string[] = [];
    let stalled: OpenRequest | undefined;
    const { a, b, accepted, closes } = await readyPair(
      { onClose: (r) => reasons.push(`a:${r.code}:${r.message}`) },
      {
        onOpen: (request) => {
          if (request.spec.stall) stalled = request;
          else accepted.push(request.accept());
        },
        onClose: (r) => reasons.push(`b:${r.code}:${r.message}`),
      },
    );
    const channel = await a.open({});
    const near = recordChannel(channel);
    const far = recordChannel(accepted[0]!);
    const pending = a.open({ stall: true });
    await settle();
    a.close('SHUTDOWN', 'maintenance');
    await assert.rejects(pending, (e) => e instanceof ConnectionClosedError && e.code === 'SHUTDOWN');
    await settle();
    assert.deepEqual(near.events, ['close:SHUTDOWN:maintenance']);
    assert.deepEqual(far.events, ['close:SHUTDOWN:maintenance']);
    assert.deepEqual(reasons, ['a:SHUTDOWN:maintenance', 'b:SHUTDOWN:maintenance']);
    assert.deepEqual(
      closes.map((c) => `${c.side}:${c.code}`),
      ['a:SHUTDOWN', 'b:SHUTDOWN'],
    );
    assert.ok(a.closed && b.closed);
    const late = stalled!.accept();
    assert.ok(late.closed, 'accepting after the connection died gives a closed channel');
    const lateEvents = recordChannel(late);
    await settle();
    assert.deepEqual(lateEvents.events, ['close:SHUTDOWN:maintenance']);
    await assert.rejects(a.open({}), (e) => e instanceof ConnectionClosedError);
  });

  test('transportClosed(): channels close locally and nothing is sent', async () => {
    const { a, aToB } = await readyPair();
    const channel = await a.open({});
    const near = recordChannel(channel);
    const sentBefore = aToB.length;
    a.transportClosed('TRANSPORT_CLOSED', 'socket reset');
    await settle();
    assert.deepEqual(near.events, ['close:TRANSPORT_CLOSED:socket reset']);
    assert.equal(aToB.length, sentBefore);
    assert.equal(channel.write(bytes('x')), false);
  });

  test('a ping is answered with a pong carrying the same nonce, at the end of the turn', async () => {
    const raw = connectRaw({ side: 'a' });
    raw.inject({ type: 'ping', nonce: 4242 });
    await settle();
    assert.deepEqual(raw.sent, [{ type: 'pong', nonce: 4242 }]);
  });

  test('pings in bulk get one pong per turn, for the last of them: a peer that never reads piles up nothing', async () => {
    const raw = connectRaw({ side: 'a' });
    for (let nonce = 0; nonce < 100_000; nonce++) raw.inject({ type: 'ping', nonce });
    await settle();
    assert.deepEqual(raw.sent, [{ type: 'pong', nonce: 99_999 }]);
    raw.inject({ type: 'ping', nonce: 7 });
    await settle();
    assert.deepEqual(raw.sent.at(-1), { type: 'pong', nonce: 7 });
    assert.equal(raw.sent.length, 2);
  });

  test('keepalive: a silent peer is closed with KEEPALIVE_TIMEOUT', async () => {
    const reasons: string[] = [];
    const raw = connectRaw({
      side: 'a',
      keepaliveIntervalMs: 100,
      keepaliveTimeoutMs: 1000,
      onClose: (r) => reasons.push(r.code),
    });
    // Timings wide enough that a stalled event loop (a loaded CI machine) cannot turn either check around.
    await sleep(500);
    raw.inject({ type: 'pong', nonce: 0 }); // liveness pushes the deadline back
    await sleep(600);
    assert.equal(raw.mux.closed, false);
    await sleep(1400);
    assert.equal(raw.mux.closed, true);
    assert.deepEqual(reasons, ['KEEPALIVE_TIMEOUT']);
    const goaway = raw.sent.at(-1);
    assert.ok(goaway?.type === 'goaway' && goaway.code === 'KEEPALIVE_TIMEOUT');
    assert.ok(raw.sent.some((f) => f.type === 'ping'));
  });

  test('keepalive: pings answered by a live peer keep the connection open', async () => {
    const { a, b, aToB, bToA } = await readyPair(
      { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 1000 },
      { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 1000 },
    );
    await sleep(250);
    assert.ok(!a.closed && !b.closed);
    assert.ok(aToB.some((f) => f.type === 'ping') && bToA.some((f) => f.type === 'pong'));
    a.close();
    await settle();
    const pings = aToB.filter((f) => f.type === 'ping').length;
    await sleep(50);
    assert.equal(aToB.filter((f) => f.type === 'ping').length, pings, 'no pings after close');
  });

  test('keepalive: a step of the wall clock (NTP, a resumed VM) neither hides a silence nor fakes one', async () => {
    const wallClock = Date.now;
    try {
      // Back an hour just after the last frame: a wall clock would see that frame in the future.
      const hidden: string[] = [];
      const silent = connectRaw({
        side: 'a',
        keepaliveIntervalMs: 40,
        keepaliveTimeoutMs: 150,
        onClose: (r) => hidden.push(r.code),
      });
      silent.inject({ type: 'pong', nonce: 0 });
      Date.now = () => wallClock() - 60 * 60_000;
      await sleep(400);
      assert.deepEqual(hidden, ['KEEPALIVE_TIMEOUT']);
      // Forward an hour while the peer is quiet but within the timeout: a wall clock would see an hour of silence.
      Date.now = wallClock;
      const faked: string[] = [];
      const quiet = connectRaw({
        side: 'a',
        keepaliveIntervalMs: 0,
        keepaliveTimeoutMs: 1000,
        onClose: (r) => faked.push(r.code),
      });
      await sleep(50);
      quiet.inject({ type: 'pong', nonce: 0 });
      Date.now = () => wallClock() + 60 * 60_000;
      await sleep(300);
      assert.deepEqual(faked, [], 'the peer spoke 300 ms ago');
      quiet.mux.close();
    } finally {
      Date.now = wallClock;
    }
  });
});

test('no pong while the peer leaves more than 64 KiB of what was sent unread', async () => {
  const sent: Frame[] = [];
  let unsent = 100_000;
  const mux = new Mux(
    {
      send: (bytes) => sent.push(decodeFrame(bytes, Number.MAX_SAFE_INTEGER)),
      close: () => {},
      unsentBytes: () => unsent,
    },
    { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
  );
  mux.receive(encodeFrame({ type: 'ping', nonce: 1 }));
  await settle();
  assert.deepEqual(sent, []);
  unsent = 0; // it read again
  mux.receive(encodeFrame({ type: 'ping', nonce: 2 }));
  await settle();
  assert.deepEqual(sent, [{ type: 'pong', nonce: 2 }]);
});
