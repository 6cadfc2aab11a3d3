import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import { ChannelRejectedError, ProtocolError } from './errors.ts';
import type { OpenRequest } from './open-request.ts';
import { readyPair, recordChannel } from './test-peers.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const str = (chunks: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(chunks));

describe('channels', () => {
  test('open/accept carries spec and info; data flows both ways', async () => {
    const { a, b, accepted } = await readyPair();
    const channel = await a.open({ kind: 'shell', user: 'alice' });
    assert.equal(channel.id % 2, 1, 'side a allocates odd ids');
    assert.deepEqual(channel.spec, { kind: 'shell', user: 'alice' });
    assert.deepEqual(channel.info, { pid: 7 });
    const remote = accepted[0]!;
    assert.equal(remote.id, channel.id);
    assert.deepEqual(remote.spec, { kind: 'shell', user: 'alice' });
    const near = recordChannel(channel);
    const far = recordChannel(remote);
    assert.equal(channel.write(bytes('ls\n')), true);
    remote.write(bytes('file1\n'));
    remote.write(bytes('file2\n'));
    await settle();
    assert.equal(str(far.data), 'ls\n');
    assert.equal(str(near.data), 'file1\nfile2\n');
    assert.equal(a.channelCount, 1);
    assert.equal(b.channelCount, 1);
    await assert.rejects(b.open({}), (e) => e instanceof ChannelRejectedError && e.code === 'UNSUPPORTED');
  });

  test('a channel closed here while its data waits for credit is no longer open, but still in use', async () => {
    const { a, b, accepted } = await readyPair({}, {});
    const channel = await a.open({});
    await settle();
    const remote = accepted[0]!;
    remote.autoRelease = false; // the peer takes no more: our data waits
    channel.write(new Uint8Array(3 * 1024 * 1024));
    channel.close();
    await settle();
    assert.equal(a.channelCount, 0, 'closed here');
    assert.equal(a.channelsInUse, 1, 'but its queued data (and the id) are still held');
    remote.release(3 * 1024 * 1024);
    for (let i = 0; i < 10; i++) await settle();
    assert.equal(a.channelsInUse, 0);
    assert.equal(b.channelsInUse, 0);
  });

  test('reject: open() rejects with ChannelRejectedError carrying the code', async () => {
    const { a, b } = await readyPair(
      {},
      { onOpen: (request: OpenRequest) => request.reject('FORBIDDEN', 'no policy') },
    );
    await assert.rejects(a.open({ kind: 'shell' }), (e) => {
      assert.ok(e instanceof ChannelRejectedError);
      assert.equal(e.code, 'FORBIDDEN');
      assert.equal(e.message, 'no policy');
      return true;
    });
    assert.equal(a.channelCount, 0);
    assert.equal(b.channelCount, 0);
  });

  test('a side without onOpen rejects with UNSUPPORTED', async () => {
    const { b } = await readyPair();
    await assert.rejects(b.open({}), (e) => e instanceof ChannelRejectedError && e.code === 'UNSUPPORTED');
  });

  test('the app may answer an open later (async accept)', async () => {
    let pending: OpenRequest | undefined;
    const { a } = await readyPair({}, { onOpen: (request) => (pending = request) });
    const opening = a.open({ kind: 'exec' });
    await settle();
    assert.deepEqual(pending?.spec, { kind: 'exec' });
    const remote = pending!.accept({ late: true });
    assert.throws(() => pending!.accept(), /already answered/);
    const channel = await opening;
    assert.deepEqual(channel.info, { late: true });
    assert.equal(remote.id, channel.id);
  });

  test('resize, eof, exit and close arrive in order, after the data written before them', async () => {
    const { a, accepted } = await readyPair();
    const channel = await a.open({});
    const near = recordChannel(channel);
    const remote = accepted[0]!;
    const far = recordChannel(remote);
    channel.resize(120, 40);
    await settle();
    assert.deepEqual(far.events, ['resize:120x40']);
    remote.write(bytes('bye'));
    remote.eof();
    remote.exit(3, null);
    remote.close();
    await settle();
    assert.deepEqual(far.events, ['resize:120x40', 'close::']);
    assert.deepEqual(near.events, ['data:bye', 'eof', 'exit:3:null', 'close::']);
    assert.equal(remote.write(bytes('late')), false);
  });

  test('close from either side fires onClose exactly once on both ends and frees the channel', async () => {
    for (const closer of ['near', 'far', 'both'] as const) {
      const { a, b, accepted, aToB, bToA } = await readyPair();
      const channel = await a.open({});
      const near = recordChannel(channel);
      const far = recordChannel(accepted[0]!);
      if (closer !== 'far') channel.close('NORMAL', 'done');
      if (closer !== 'near') accepted[0]!.close('', 'finished');
      await settle();
      channel.close(); // a second close is a no-op
      await settle();
      assert.equal(near.events.filter((e) => e.startsWith('close')).length, 1, closer);
      assert.equal(far.events.filter((e) => e.startsWith('close')).length, 1, closer);
      assert.equal(aToB.filter((f) => f.type === 'close').length, 1, `${closer}: a sends exactly one close`);
      assert.equal(bToA.filter((f) => f.type === 'close').length, 1, `${closer}: b sends exactly one close`);
      if (closer === 'near') assert.deepEqual(far.events, ['close:NORMAL:done']);
      if (closer === 'far') assert.deepEqual(near.events, ['close::finished']);
      assert.equal(a.channelCount, 0);
      assert.equal(b.channelCount, 0);
      assert.ok(channel.closed && accepted[0]!.closed);
    }
  });

  test('events that arrive before the handlers are set are held, not lost', async () => {
    const { a } = await readyPair(
      {},
      {
        onOpen: (request) => {
          const channel = request.accept();
          channel.write(bytes('banner'));
          channel.exit(0, null);
          channel.close();
        },
      },
    );
    const channel = await a.open({});
    await settle(); // everything has arrived before any handler exists
    const seen = recordChannel(channel);
    await settle();
    assert.deepEqual(seen.events, ['data:banner', 'exit:0:null', 'close::']);
  });

  test('maxChannels: an open beyond the limit is rejected with TOO_MANY_CHANNELS', async () => {
    const errors: ProtocolError[] = [];
    const { a } = await readyPair({}, { maxChannels: 2, onError: (e) => errors.push(e) });
    await a.open({});
    await a.open({});
    await assert.rejects(
      a.open({}),
      (e) => e instanceof ChannelRejectedError && e.code === 'TOO_MANY_CHANNELS',
    );
    assert.equal(errors[0]?.code, 'TOO_MANY_CHANNELS');
    const limited = await readyPair({ maxChannels: 1 });
    await limited.a.open({});
    await assert.rejects(
      limited.a.open({}),
      (e) => e instanceof ProtocolError && e.code === 'TOO_MANY_CHANNELS',
    );
  });
});
