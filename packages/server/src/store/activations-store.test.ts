import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { activation, instance, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Instance, Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`activations (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    test('createActivation and getActivation round-trip every field', async () => {
      const a = activation();
      const b = activation({ id: 'act-2', instanceKind: 'ec2', defaultTags: {}, defaultInstanceName: 'db' });
      await store.createActivation(a);
      await store.createActivation(b);
      assert.deepEqual(await store.getActivation('act-1'), a);
      assert.deepEqual(await store.getActivation('act-2'), b);
      assert.equal(await store.getActivation('act-none'), undefined);
    });

    test('a duplicate activation id is a CONFLICT', async () => {
      await store.createActivation(activation());
      await assert.rejects(store.createActivation(activation()), { code: 'CONFLICT' });
    });

    test('listActivations lists newest first', async () => {
      await store.createActivation(activation({ id: 'old', createdAt: T0 }));
      await store.createActivation(activation({ id: 'new', createdAt: T0 + 2 }));
      await store.createActivation(activation({ id: 'mid', createdAt: T0 + 1 }));
      assert.deepEqual(
        (await store.listActivations()).map((a) => a.id),
        ['new', 'mid', 'old'],
      );
    });

    test('deleteActivation says whether there was one', async () => {
      await store.createActivation(activation());
      assert.equal(await store.deleteActivation('act-1'), true);
      assert.equal(await store.deleteActivation('act-1'), false);
      assert.equal(await store.getActivation('act-1'), undefined);
    });

    /** Registers the n-th instance of act-1 (its own id and key unless `over` says otherwise). */
    const register = (n: number, over: Partial<Instance> = {}, on: Store = store, at = T0) =>
      on.registerInstance(instance({ id: `mi-${String(n).padStart(17, '0')}`, ...over }), at);

    test('registerInstance claims up to the limit and no further, creating an instance per claim', async () => {
      await store.createActivation(activation({ registrationLimit: 2 }));
      assert.equal(await register(1), 'created');
      assert.equal(await register(2), 'created');
      assert.equal(await register(3), 'limit');
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 2);
      assert.equal((await store.listInstances()).length, 2);
      assert.equal(await register(4, { activationId: 'act-unknown' }), 'limit');
    });

    test('registerInstance refuses an expired activation', async () => {
      const expiresAt = T0 + 1000;
      await store.createActivation(activation({ expiresAt }));
      assert.equal(await register(1, {}, store, expiresAt), 'limit', 'expired at expiresAt');
      assert.equal(await register(1, {}, store, expiresAt + 1), 'limit');
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 0);
      assert.equal(await register(1, {}, store, expiresAt - 1), 'created');
    });

    test('an agent key registers one instance: a second claims nothing and creates nothing', async () => {
      await store.createActivation(activation({ registrationLimit: 5 }));
      assert.equal(await register(1, { publicKey: 'key-a' }), 'created');
      assert.equal(await register(2, { publicKey: 'key-a' }), 'key taken');
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 1);
      assert.deepEqual(
        (await store.listInstances()).map((i) => i.id),
        ['mi-00000000000000001'],
      );
    });

    test('20 concurrent registrations against a limit of 5: exactly 5 succeed', async () => {
      await store.createActivation(activation({ registrationLimit: 5 }));
      const results = await Promise.all(Array.from({ length: 20 }, (_, n) => register(n)));
      assert.equal(results.filter((r) => r === 'created').length, 5);
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 5);
    });

    // Two connections in one process cannot share SQLite's write lock: the waiting one busy-waits on the thread
    // the holder needs to finish. Two server processes on one file each have their own thread.
    const twoStores = target.dialect === 'postgres' ? {} : { skip: 'SQLite: two connections in one process' };
    test(
      'concurrent registrations from two stores (two replicas) share one limit, and one key registers once',
      twoStores,
      async () => {
        await store.createActivation(activation({ registrationLimit: 5 }));
        const other = await target.reopen();
        try {
          const claims = Array.from({ length: 20 }, (_, n) => register(n, {}, n % 2 ? store : other));
          assert.equal((await Promise.all(claims)).filter((r) => r === 'created').length, 5);
          await store.createActivation(activation({ id: 'act-2', registrationLimit: 5 }));
          const sameKey = Array.from({ length: 6 }, (_, n) =>
            register(100 + n, { activationId: 'act-2', publicKey: 'key-b' }, n % 2 ? store : other),
          );
          assert.deepEqual((await Promise.all(sameKey)).filter((r) => r === 'created').length, 1);
          assert.equal((await store.getActivation('act-2'))?.registrationsCount, 1);
        } finally {
          await other.close();
        }
        assert.equal((await store.getActivation('act-1'))?.registrationsCount, 5);
      },
    );
  });
}
