import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import { readyPair, recordChannel } from './test-peers.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

test('a throwing handler closes only its channel with INTERNAL and reaches onHandlerError', async () => {
  const errors: unknown[] = [];
  const { a, accepted } = await readyPair({ onHandlerError: (error) => errors.push(error) });
  const broken = await a.open({ n: 1 });
  const healthy = await a.open({ n: 2 });
  await settle();
  const [brokenFar, healthyFar] = accepted;
  assert.ok(brokenFar && healthyFar);
  const farClose = recordChannel(brokenFar);
  const healthyNear = recordChannel(healthy);
  let brokenClosed: [string, string] | undefined;
  broken.onData = () => {
    throw new Error('bug in the application');
  };
  broken.onClose = (code, message) => {
    brokenClosed = [code, message];
  };
  brokenFar.write(bytes('boom'));
  healthyFar.write(bytes('still here'));
  await settle();
  await settle();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /bug in the application/);
  assert.deepEqual(brokenClosed?.[0], 'INTERNAL');
  assert.ok(broken.closed);
  assert.ok(
    farClose.events.some((e) => e.startsWith('close:INTERNAL')),
    'the peer learns the channel closed',
  );
  assert.equal(new TextDecoder().decode(Buffer.concat(healthyNear.data)), 'still here');
  assert.equal(healthy.closed, false);
  assert.equal(a.closed, false);
});

test('an onOpen that throws rejects that open with INTERNAL and reaches onHandlerError, nothing uncaught', async () => {
  const errors: unknown[] = [];
  const uncaught: unknown[] = [];
  const catcher = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', catcher);
  try {
    const { a, b } = await readyPair(
      {},
      {
        onOpen: () => {
          throw new Error('bug in onOpen');
        },
        onHandlerError: (error) => errors.push(error),
      },
    );
    await assert.rejects(a.open({ n: 1 }), { code: 'INTERNAL' });
    await settle();
    assert.deepEqual(
      errors.map((e) => String(e)),
      ['Error: bug in onOpen'],
    );
    assert.deepEqual(uncaught, []);
    assert.equal(b.closed, false);
  } finally {
    process.off('uncaughtException', catcher);
  }
});

test('an onOpen that accepts and then throws closes that channel with INTERNAL', async () => {
  const errors: unknown[] = [];
  const { a } = await readyPair(
    {},
    {
      onOpen: (request) => {
        request.accept({});
        throw new Error('bug after accept');
      },
      onHandlerError: (error) => errors.push(error),
    },
  );
  const channel = await a.open({ n: 1 });
  let closed = '';
  channel.onClose = (code) => {
    closed = code;
  };
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(closed, 'INTERNAL');
  assert.equal(errors.length, 1);
});
