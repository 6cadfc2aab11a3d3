// A full transport holds channel data back (and with it the onSent callbacks that return credit upstream), then
// lets the waiting channels go in turn once it drains.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Channel } from './channel.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import { type Frame, MAX_U32 } from './frame-types.ts';
import { Mux } from './mux.ts';
import { peerHello } from './test-peers.ts';

/** A mux whose transport is full whenever `room` is 0; each data frame sent takes one unit of room. */
function muxWithRoom() {
  const state = { room: Number.POSITIVE_INFINITY };
  const data: { channel: number; size: number }[] = [];
  const channels: Channel[] = [];
  const mux = new Mux(
    {
      send(bytes) {
        const frame: Frame = decodeFrame(bytes, Number.MAX_SAFE_INTEGER);
        if (frame.type === 'data') {
          data.push({ channel: frame.channel, size: frame.data.length });
          state.room -= 1;
        }
      },
      close() {},
      full: () => state.room <= 0,
    },
    {
      side: 'a',
      keepaliveIntervalMs: 0,
      keepaliveTimeoutMs: 0,
      onOpen: (request) => channels.push(request.accept({})),
    },
  );
  mux.hello({});
  mux.receive(encodeFrame(peerHello));
  // The peer grants the largest window there is: only the transport can hold the data back.
  for (const channel of [2, 4])
    mux.receive(encodeFrame({ type: 'open', channel, window: MAX_U32, maxData: 1000, spec: {} }));
  return { state, data, channels, mux };
}

test('while the transport is full, data waits in the channel and its onSent does not fire', () => {
  const { state, data, channels, mux } = muxWithRoom();
  const channel = channels[0] as Channel;
  let sent = 0;
  let drained = 0;
  channel.onDrain = () => drained++;
  assert.equal(
    channel.write(new Uint8Array(1000), () => sent++),
    true,
  );
  state.room = 0;
  assert.equal(
    channel.write(new Uint8Array(1000), () => sent++),
    false,
    'queued',
  );
  assert.equal(channel.bufferedBytes, 1000);
  assert.deepEqual([data.length, sent, drained], [1, 1, 0]);
  mux.transportDrained(); // still full: nothing moves
  assert.deepEqual([data.length, sent], [1, 1]);
  state.room = Number.POSITIVE_INFINITY;
  mux.transportDrained();
  assert.deepEqual([data.length, sent, drained, channel.bufferedBytes], [2, 2, 1, 0]);
});

test('when the transport drains, waiting channels go in turn: a busy one cannot starve a quiet one', () => {
  const { state, data, channels, mux } = muxWithRoom();
  const [busy, quiet] = channels as [Channel, Channel];
  state.room = 0;
  for (let i = 0; i < 5; i++) busy.write(new Uint8Array(1000));
  quiet.write(new Uint8Array(10));
  const order = () => data.splice(0).map((d) => d.channel);
  // Room for one frame per drain.
  const drain = () => {
    state.room = 1;
    mux.transportDrained();
    return order();
  };
  assert.deepEqual(drain(), [2], 'the busy channel asked first');
  assert.deepEqual(drain(), [4], 'then the quiet one, before the busy one goes again');
  assert.deepEqual([drain(), drain(), drain(), drain()], [[2], [2], [2], [2]]);
  assert.deepEqual(drain(), []);
});

test('a closed mux forgets the channels that waited', () => {
  const { state, data, channels, mux } = muxWithRoom();
  state.room = 0;
  (channels[0] as Channel).write(new Uint8Array(1000));
  mux.close();
  state.room = Number.POSITIVE_INFINITY;
  mux.transportDrained();
  assert.equal(data.length, 0);
});
