import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import { MAX_STRAY_FRAMES } from './channel-router.ts';
import { FrameType } from './frame-types.ts';
import { connectMuxes, connectRaw, peerHello, rawWithChannels, type WireEntry } from './test-peers.ts';

const _MiB = 1024 * 1024;
const _dataBytes = (log: WireEntry[], channel: number) =>
  log.filter((f) => f.type === 'data' && f.channel === channel).reduce((sum, f) => sum + f.size, 0);

describe('violations close only what they concern', () => {
  test('data beyond the window closes that channel with FLOW_CONTROL; the other keeps working', async () => {
    const raw = rawWithChannels();
    raw.data(2, 500);
    raw.data(2, 500);
    raw.data(2, 1);
    assert.deepEqual(raw.take(), [
      {
        type: 'close',
        channel: 2,
        code: 'FLOW_CONTROL',
        message: 'data frame on channel 2: 1 bytes exceeds the window (0 left)',
      },
    ]);
    assert.deepEqual(
      raw.errors.map((e) => [e.code, e.channel]),
      [['FLOW_CONTROL', 2]],
    );
    raw.data(2, 10); // in flight when we closed: ignored, not an error
    assert.deepEqual(raw.take(), []);
    raw.data(4, 300);
    await settle();
    assert.deepEqual(raw.channels.get(2)!.events, ['data:500', 'data:500', 'close:FLOW_CONTROL']);
    assert.deepEqual(raw.channels.get(4)!.events, ['data:300']);
    raw.inject({ type: 'close', channel: 2, code: '', message: '' }); // the peer answers: id freed
    assert.equal(raw.mux.closed, false);
    assert.equal(raw.mux.channelCount, 1);
    assert.equal(raw.errors.length, 1);
  });

  test('data larger than maxData, or a window growing past 2^32-1, closes the channel with FLOW_CONTROL', () => {
    const raw = rawWithChannels();
    raw.data(2, 501);
    raw.inject({ type: 'window', channel: 4, increment: 0xffff_ffff });
    assert.deepEqual(
      raw.take().map((f) => f.type === 'close' && [f.channel, f.code, f.message]),
      [
        [2, 'FLOW_CONTROL', 'data frame on channel 2: 501 bytes exceeds maxData 500'],
        [
          4,
          'FLOW_CONTROL',
          'window frame on channel 4: increment 4294967295 would grow the window beyond 2^32-1',
        ],
      ],
    );
    assert.equal(raw.mux.closed, false);
  });

  test('frames for an unknown channel are answered with close UNKNOWN_CHANNEL (never a close for a close)', () => {
    const raw = rawWithChannels();
    raw.data(8, 3);
    raw.inject({ type: 'eof', channel: 10 });
    raw.inject({ type: 'close', channel: 12, code: '', message: '' });
    assert.deepEqual(raw.take(), [
      {
        type: 'close',
        channel: 8,
        code: 'UNKNOWN_CHANNEL',
        message: 'data frame on channel 8: unknown channel',
      },
      {
        type: 'close',
        channel: 10,
        code: 'UNKNOWN_CHANNEL',
        message: 'eof frame on channel 10: unknown channel',
      },
    ]);
    assert.deepEqual(
      raw.errors.map((e) => e.code),
      ['UNKNOWN_CHANNEL', 'UNKNOWN_CHANNEL', 'UNKNOWN_CHANNEL'],
    );
    assert.equal(raw.mux.closed, false);
    assert.equal(raw.mux.channelCount, 2);
  });

  test('a second exit status closes that channel: the first one reported stands', async () => {
    const raw = rawWithChannels();
    const entry = raw.channels.get(2);
    const exits: (number | null)[] = [];
    if (entry) entry.channel.onExit = (code) => exits.push(code);
    raw.inject({ type: 'exit', channel: 2, code: 0, signal: null });
    raw.inject({ type: 'exit', channel: 2, code: 1, signal: null });
    await Promise.resolve();
    assert.deepEqual(exits, [0]);
    assert.deepEqual(
      raw.take().map((f) => 'channel' in f && [f.type, f.channel, 'code' in f && f.code]),
      [['close', 2, 'MALFORMED_FRAME']],
    );
    assert.equal(raw.mux.closed, false);
    assert.equal(raw.channels.get(4)?.channel.closed, false, 'the other channel is untouched');
  });

  test('a peer that keeps sending frames for channels that do not exist is cut off after 100', () => {
    const raw = rawWithChannels();
    for (let i = 0; i < MAX_STRAY_FRAMES; i++) raw.inject({ type: 'eof', channel: 1_000_000 + 2 * i });
    assert.equal(raw.mux.closed, false, 'up to 100 are answered');
    assert.equal(raw.take().length, MAX_STRAY_FRAMES);
    raw.inject({ type: 'open', channel: 1_000_001, window: 10, maxData: 10, spec: {} }); // wrong parity: one more
    assert.equal(raw.mux.closed, true);
    const sent = raw.take();
    assert.equal(sent.length, 1);
    assert.ok(sent[0]?.type === 'goaway' && sent[0].code === 'UNKNOWN_CHANNEL');
  });

  test('frames that do not even decode, for channels that do not exist, count as strays too', () => {
    const raw = rawWithChannels();
    // A window frame with increment 0 is malformed; each would be answered with a close.
    const zeroWindow = (id: number) =>
      new Uint8Array([
        FrameType.window,
        id >>> 24,
        (id >>> 16) & 0xff,
        (id >>> 8) & 0xff,
        id & 0xff,
        0,
        0,
        0,
        0,
      ]);
    for (let i = 0; i < MAX_STRAY_FRAMES; i++) raw.inject(zeroWindow(1_000_000 + 2 * i));
    assert.equal(raw.mux.closed, false, 'up to 100 are answered');
    assert.equal(raw.take().length, MAX_STRAY_FRAMES);
    raw.inject(zeroWindow(3_000_000));
    assert.equal(raw.mux.closed, true);
    const sent = raw.take();
    assert.ok(sent.length === 1 && sent[0]?.type === 'goaway' && sent[0].code === 'UNKNOWN_CHANNEL');
  });

  test('a malformed frame on a known channel closes only that channel; a malformed open is rejected', () => {
    const raw = rawWithChannels();
    raw.inject(new Uint8Array([FrameType.window, 0, 0, 0, 2, 0, 0, 0, 0]));
    raw.inject(new Uint8Array([FrameType.open, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 1, 0, 0x5b, 0x5d]));
    raw.inject({ type: 'open', channel: 7, window: 10, maxData: 10, spec: {} });
    assert.deepEqual(
      raw.take().map((f) => 'channel' in f && [f.type, f.channel, 'code' in f && f.code]),
      [
        ['close', 2, 'MALFORMED_FRAME'],
        ['reject', 6, 'MALFORMED_FRAME'],
        ['reject', 7, 'MALFORMED_FRAME'],
      ],
    );
    assert.match(
      raw.errors[2]!.message,
      /open frame on channel 7: odd channel ids are allocated by this side/,
    );
    assert.equal(raw.mux.closed, false);
    raw.data(4, 1);
    assert.equal(raw.channels.get(4)!.channel.closed, false);
  });

  test('an oversized frame closes its channel when known, else the connection', () => {
    const raw = rawWithChannels();
    raw.data(2, 700);
    assert.deepEqual(
      raw.take().map((f) => f.type === 'close' && [f.channel, f.code]),
      [[2, 'FRAME_TOO_LARGE']],
    );
    assert.equal(raw.mux.closed, false);
    raw.data(20, 700);
    assert.equal(raw.mux.closed, true);
    assert.deepEqual(raw.closes, [
      {
        code: 'FRAME_TOO_LARGE',
        message: 'data frame on channel 20: 705 bytes exceeds the 600-byte frame limit',
      },
    ]);
    assert.ok(raw.channels.get(4)!.channel.closed);
  });

  test('an oversized connection frame, an undecodable header, an unknown type or a reused id close the connection', () => {
    const cases: [string, (raw: ReturnType<typeof rawWithChannels>) => void, string][] = [
      [
        'oversized goaway',
        (r) => r.inject({ type: 'goaway', code: 'x', message: 'y'.repeat(700) }),
        'FRAME_TOO_LARGE',
      ],
      ['3-byte message', (r) => r.inject(new Uint8Array([5, 0, 0])), 'MALFORMED_FRAME'],
      ['unknown type', (r) => r.inject(new Uint8Array([99, 0, 0, 0, 2])), 'UNKNOWN_FRAME_TYPE'],
      ['malformed ping', (r) => r.inject(new Uint8Array([FrameType.ping, 0, 0, 0, 0, 1])), 'MALFORMED_FRAME'],
      [
        'data on channel 0',
        (r) => r.inject(new Uint8Array([FrameType.data, 0, 0, 0, 0, 1])),
        'MALFORMED_FRAME',
      ],
      [
        'open on a used id',
        (r) => r.inject({ type: 'open', channel: 4, window: 1, maxData: 1, spec: {} }),
        'MALFORMED_FRAME',
      ],
    ];
    for (const [name, act, code] of cases) {
      const raw = rawWithChannels();
      act(raw);
      assert.equal(raw.mux.closed, true, name);
      const goaway = raw.take().at(-1);
      assert.ok(goaway?.type === 'goaway' && goaway.code === code, `${name}: goaway ${code}`);
      assert.equal(raw.closes[0]?.code, code, name);
    }
  });
});

test('a channel we opened that failed before its accept frees its id when the peer answers our close with reject', async () => {
  const raw = connectRaw({ side: 'a' });
  raw.inject(peerHello);
  raw.mux.hello({});
  await raw.mux.ready;
  const opening = raw.mux.open({ kind: 'test' });
  await Promise.resolve();
  const open = raw.take().find((f) => f.type === 'open');
  assert.ok(open && open.type === 'open');
  raw.inject({ type: 'eof', channel: open.channel }); // a frame on the channel before accepting it
  await assert.rejects(opening);
  assert.equal(raw.mux.channelsInUse, 1, 'we sent close and wait for its answer');
  raw.inject({
    type: 'reject',
    channel: open.channel,
    code: 'MALFORMED_FRAME',
    message: 'answering your close',
  });
  assert.equal(raw.mux.channelsInUse, 0, 'the id is free again');
});

test('minPeerMaxData: an open or an accept asking for smaller frames is refused with FLOW_CONTROL', async () => {
  const { a, b } = connectMuxes(
    { side: 'a', minPeerMaxData: 1024, onOpen: (request) => request.accept() },
    { side: 'b', maxData: 1023, onOpen: (request) => request.accept() },
  );
  a.hello({});
  b.hello({});
  await Promise.all([a.ready, b.ready]);
  await assert.rejects(b.open({}), {
    code: 'FLOW_CONTROL',
    message: /maxData 1023 is below the 1024 bytes this side sends in a frame at least/,
  });
  await assert.rejects(a.open({}), {
    code: 'FLOW_CONTROL',
    message: /accept frame on channel \d+: maxData 1023/,
  });
  assert.equal(a.closed || b.closed, false, 'the connection carries on');
});

test('minPeerMaxData: credit granted a byte at a time waits until it adds up; a small write still goes at once', async () => {
  let accepted: import('./channel.ts').Channel | undefined;
  const raw = connectRaw({
    side: 'a',
    minPeerMaxData: 1024,
    keepaliveIntervalMs: 0,
    keepaliveTimeoutMs: 0,
    onOpen: (request) => {
      accepted = request.accept();
    },
  });
  raw.mux.hello({});
  raw.inject(peerHello);
  raw.inject({ type: 'open', channel: 2, window: 1024, maxData: 4096, spec: {} });
  await settle();
  const channel = accepted as NonNullable<typeof accepted>;
  const dataSizes = () =>
    raw
      .take()
      .filter((f) => f.type === 'data')
      .map((f) => (f.type === 'data' ? f.data.length : 0));
  raw.take();
  channel.write(new Uint8Array(10_000));
  assert.deepEqual(dataSizes(), [1024]);
  for (let i = 0; i < 1023; i++) raw.inject({ type: 'window', channel: 2, increment: 1 });
  assert.deepEqual(dataSizes(), [], 'no one-byte frames');
  raw.inject({ type: 'window', channel: 2, increment: 1 });
  assert.deepEqual(dataSizes(), [1024]);
  // What is left once the big write is gone: a short write goes out with the credit there is.
  raw.inject({ type: 'window', channel: 2, increment: 10_000 });
  assert.deepEqual(dataSizes(), [4096, 3856]);
  raw.inject({ type: 'window', channel: 2, increment: 10 });
  channel.write(new Uint8Array(10));
  assert.deepEqual(dataSizes(), [10]);
});
