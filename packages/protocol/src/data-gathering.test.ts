// Small data frames that arrive in one turn after the first are handed to the application together: a peer sending
// its whole window as one-byte frames costs the receiver one object per turn, not one per byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import type { Channel } from './channel.ts';
import { connectRaw, peerHello } from './test-peers.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A mux whose peer is the test, with channel 2 open; its events recorded, data as text. */
async function openChannel() {
  const events: string[] = [];
  let opened: Channel | undefined;
  const raw = connectRaw({
    side: 'a',
    onOpen: (request) => {
      const channel = request.accept();
      channel.onData = (data) => events.push(`data:${new TextDecoder().decode(data)}`);
      channel.onEof = () => events.push('eof');
      channel.onClose = (code) => events.push(`close:${code}`);
      opened = channel;
    },
  });
  raw.mux.hello({});
  raw.inject(peerHello);
  raw.inject({ type: 'open', channel: 2, window: 1_000_000, maxData: 32_768, spec: {} });
  await settle();
  assert.ok(opened);
  const data = (s: string | Uint8Array) =>
    raw.inject({ type: 'data', channel: 2, data: typeof s === 'string' ? text(s) : s });
  return { raw, events, data, channel: opened };
}

test('a keystroke is handed over at once; one-byte frames after it in the same turn come as one chunk', async () => {
  const { events, data } = await openChannel();
  data('a');
  assert.deepEqual(events, ['data:a'], 'the first frame of a turn, at once');
  for (let i = 0; i < 10_000; i++) data(String(i % 10));
  assert.equal(events.length, 1, 'the rest is gathered');
  await settle();
  assert.equal(events.length, 2);
  const expected = Array.from({ length: 10_000 }, (_, i) => String(i % 10)).join('');
  assert.equal(events[1], `data:${expected}`);
  data('b'); // a new turn: at once again
  assert.equal(events.at(-1), 'data:b');
});

test('order holds: gathered data comes before a large frame, an eof or a close that follow it', async () => {
  const { events, data, raw } = await openChannel();
  data('1');
  data('2');
  data('3');
  data('x'.repeat(600)); // larger than gathered frames
  data('4');
  raw.inject({ type: 'eof', channel: 2 });
  raw.inject({ type: 'close', channel: 2, code: 'NORMAL', message: '' });
  await settle();
  assert.deepEqual(events, ['data:1', 'data:23', `data:${'x'.repeat(600)}`, 'data:4', 'eof', 'close:NORMAL']);
});

test('credit: the gathered bytes count and are released together', async () => {
  const { channel, data } = await openChannel();
  const released: number[] = [];
  channel.autoRelease = false;
  channel.onData = (chunk) => released.push(chunk.length);
  for (let i = 0; i < 100; i++) data('z');
  await settle();
  assert.deepEqual(released, [1, 99]);
  channel.release(100);
});

test('window frames between data frames do not break up the gathering (they never reach the application)', async () => {
  const { events, data, raw } = await openChannel();
  data('a');
  for (let i = 0; i < 1000; i++) {
    data('b');
    raw.inject({ type: 'window', channel: 2, increment: 1 });
  }
  await settle();
  assert.deepEqual(events, ['data:a', `data:${'b'.repeat(1000)}`]);
});

test("another channel's event comes after the data gathered before it, even when its handler closes this channel", async () => {
  const events: string[] = [];
  const channels = new Map<number, Channel>();
  const raw = connectRaw({
    side: 'a',
    onOpen: (request) => {
      const channel = request.accept();
      channels.set(channel.id, channel);
      channel.onData = (d) => events.push(`${channel.id}:${new TextDecoder().decode(d)}`);
      channel.onEof = () => {
        events.push(`${channel.id}:eof`);
        channels.get(2)?.close(); // closing channel 2 from channel 4's handler
      };
    },
  });
  raw.mux.hello({});
  raw.inject(peerHello);
  for (const channel of [2, 4]) raw.inject({ type: 'open', channel, window: 1000, maxData: 1000, spec: {} });
  await settle();
  raw.inject({ type: 'data', channel: 2, data: text('a') });
  raw.inject({ type: 'data', channel: 2, data: text('b') });
  raw.inject({ type: 'eof', channel: 4 });
  await settle();
  assert.deepEqual(events, ['2:a', '2:b', '4:eof']);
});
