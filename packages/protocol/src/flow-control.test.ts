import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import type { Channel } from './channel.ts';
import { DEFAULT_MAX_DATA, DEFAULT_WINDOW } from './frame-types.ts';
import {
  connectMuxes,
  connectRaw,
  peerHello as hello,
  rawWithChannels,
  readyPair,
  type WireEntry,
} from './test-peers.ts';

const MiB = 1024 * 1024;
const dataBytes = (log: WireEntry[], channel: number) =>
  log.filter((f) => f.type === 'data' && f.channel === channel).reduce((sum, f) => sum + f.size, 0);

describe('flow control', () => {
  test('a receiver releasing nothing gets one window; the sender buffers the rest; after release all arrives in order', async () => {
    const { a, accepted, aToB, bToA } = await readyPair();
    const sender = await a.open({ kind: 'port-forward' });
    const receiver = accepted[0]!;
    receiver.autoRelease = false;
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    receiver.onData = (chunk) => {
      received.push(chunk);
      receivedBytes += chunk.length;
    };
    const total = 50 * MiB;
    const payload = new Uint8Array(total);
    for (let i = 0; i < total; i += 4096) payload[i] = (i >>> 12) & 255;
    let sent = false;
    assert.equal(
      sender.write(payload, () => (sent = true)),
      false,
    );
    for (let i = 0; i < 5; i++) await settle();

    assert.equal(receivedBytes, DEFAULT_WINDOW);
    assert.equal(dataBytes(aToB, sender.id), DEFAULT_WINDOW, 'no data beyond the credit went on the wire');
    assert.ok(aToB.every((f) => f.size <= DEFAULT_MAX_DATA));
    assert.equal(sender.bufferedBytes, total - DEFAULT_WINDOW);
    assert.equal(bToA.filter((f) => f.type === 'window').length, 0);
    assert.equal(sent, false);

    // A small channel on the same connection is not stuck behind the stalled one, in either direction.
    const small = await a.open({ kind: 'shell' });
    const smallRemote = accepted[1]!;
    const smallIn: string[] = [];
    const smallOut: string[] = [];
    smallRemote.onData = (chunk) => smallIn.push(new TextDecoder().decode(chunk));
    small.onData = (chunk) => smallOut.push(new TextDecoder().decode(chunk));
    assert.equal(small.write(new TextEncoder().encode('whoami\n')), true);
    smallRemote.write(new TextEncoder().encode('alice\n'));
    await settle();
    assert.deepEqual([smallIn, smallOut], [['whoami\n'], ['alice\n']]);
    assert.equal(receivedBytes, DEFAULT_WINDOW, 'the big channel is still stalled');

    let drains = 0;
    sender.onDrain = () => drains++;
    receiver.onData = (chunk) => {
      received.push(chunk);
      receivedBytes += chunk.length;
      receiver.release(chunk.length);
    };
    receiver.release(DEFAULT_WINDOW);
    for (let i = 0; i < 100 && receivedBytes < total; i++) await settle();
    assert.equal(receivedBytes, total);
    assert.ok(Buffer.concat(received).equals(payload), 'bytes arrive complete and in order');
    assert.equal(sender.bufferedBytes, 0);
    assert.equal(sent, true);
    assert.equal(drains, 1);
    const windows = bToA.filter((f) => f.type === 'window' && f.channel === sender.id).length;
    assert.ok(windows <= total / (DEFAULT_WINDOW / 2) + 1, `WINDOW frames are batched (${windows})`);
  });

  test('credit for tiny writes is returned in batches, not a WINDOW frame per write', async () => {
    const accepted: Channel[] = [];
    const { a, b, bToA } = connectMuxes(
      { side: 'a' },
      { side: 'b', window: 1000, onOpen: (request) => accepted.push(request.accept()) },
    );
    a.hello({});
    b.hello({});
    const sender = await a.open({});
    let got = 0;
    accepted[0]!.onData = (chunk) => (got += chunk.length);
    for (let i = 0; i < 3000; i++) {
      sender.write(new Uint8Array([i & 255]));
      if (i % 100 === 0) await settle();
    }
    for (let i = 0; i < 10 && got < 3000; i++) await settle();
    assert.equal(got, 3000);
    const windows = bToA.filter((f) => f.type === 'window').length;
    assert.ok(windows >= 5 && windows <= 6, `expected ~3000/500 WINDOW frames, got ${windows}`);
  });

  test('released credit is granted at once when the peer is starved, batched otherwise', () => {
    const raw = rawWithChannels();
    const { channel } = raw.channels.get(2)!;
    raw.data(2, 100);
    channel.release(100);
    assert.deepEqual(raw.take(), [], 'peer still has 900 of credit: keep batching');
    raw.data(2, 400);
    raw.data(2, 400); // the peer has 100 left, 100 is pending: grant it now
    assert.deepEqual(raw.take(), [{ type: 'window', channel: 2, increment: 100 }]);
    raw.data(2, 200); // credit now 0
    channel.release(7);
    assert.deepEqual(raw.take(), [{ type: 'window', channel: 2, increment: 7 }]);
  });

  test('write() queues by reference, chunks to the peer maxData, fires onSent when done and onDrain once', async () => {
    const raw = connectRaw({ side: 'a' });
    raw.mux.hello({});
    raw.inject(hello);
    const opening = raw.mux.open({});
    raw.inject({ type: 'accept', channel: 1, window: 0, maxData: 4, info: {} });
    const ch = await opening;
    {
      const buffer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      let onSent = 0;
      let drains = 0;
      ch.onDrain = () => drains++;
      raw.take();
      assert.equal(
        ch.write(buffer, () => onSent++),
        false,
      );
      assert.equal(ch.bufferedBytes, 10);
      buffer[0] = 99; // not copied: the change goes out
      raw.inject({ type: 'window', channel: 1, increment: 6 });
      assert.deepEqual(
        raw.take().map((f) => (f.type === 'data' ? [...f.data] : f.type)),
        [
          [99, 2, 3, 4],
          [5, 6],
        ],
      );
      assert.equal(onSent, 0);
      assert.equal(drains, 0);
      raw.inject({ type: 'window', channel: 1, increment: 100 });
      assert.deepEqual(
        raw.take().map((f) => (f.type === 'data' ? [...f.data] : f.type)),
        [[7, 8, 9, 10]],
      );
      assert.equal(onSent, 1);
      assert.equal(drains, 1);
      assert.equal(ch.write(new Uint8Array(3)), true);
      assert.equal(drains, 1, 'a write that went straight out does not drain');
    }
  });

  test('a normal close sends queued data, eof and exit first; an error close drops them', async () => {
    const raw = connectRaw({ side: 'a' });
    raw.mux.hello({});
    raw.inject(hello);
    const opening = Promise.all([raw.mux.open({}), raw.mux.open({})]);
    raw.inject({ type: 'accept', channel: 1, window: 0, maxData: 100, info: {} });
    raw.inject({ type: 'accept', channel: 3, window: 0, maxData: 100, info: {} });
    const [graceful, aborted] = await opening;
    raw.take();
    let closes = 0;
    graceful.onClose = () => closes++;
    graceful.write(new Uint8Array(5));
    graceful.eof();
    graceful.exit(0, null);
    graceful.close();
    assert.equal(graceful.closed, true);
    assert.equal(closes, 1);
    assert.equal(graceful.write(new Uint8Array(1)), false, 'writes after close are dropped');
    assert.deepEqual(raw.take(), []);
    raw.inject({ type: 'window', channel: 1, increment: 100 });
    assert.deepEqual(
      raw.take().map((f) => f.type),
      ['data', 'eof', 'exit', 'close'],
    );
    aborted.write(new Uint8Array(5));
    aborted.close('TERMINATED', 'session terminated by admin');
    raw.inject({ type: 'window', channel: 3, increment: 100 });
    assert.deepEqual(raw.take(), [
      { type: 'close', channel: 3, code: 'TERMINATED', message: 'session terminated by admin' },
    ]);
  });
});
