import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { activation, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

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

    test('claimActivation counts up to the limit and no further', async () => {
      await store.createActivation(activation({ registrationLimit: 2 }));
      assert.equal(await store.claimActivation('act-1', T0), true);
      assert.equal(await store.claimActivation('act-1', T0), true);
      assert.equal(await store.claimActivation('act-1', T0), false);
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 2);
      assert.equal(await store.claimActivation('act-unknown', T0), false);
      await store.releaseActivation('act-1');
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 1, 'a claim given back');
      assert.equal(await store.claimActivation('act-1', T0), true);
      await store.releaseActivation('act-1');
      await store.releaseActivation('act-1');
      await store.releaseActivation('act-1');
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 0, 'never below 0');
    });

    test('claimActivation refuses an expired activation', async () => {
      const expiresAt = T0 + 1000;
      await store.createActivation(activation({ expiresAt }));
      assert.equal(await store.claimActivation('act-1', expiresAt), false, 'expired at expiresAt');
      assert.equal(await store.claimActivation('act-1', expiresAt + 1), false);
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 0);
      assert.equal(await store.claimActivation('act-1', expiresAt - 1), true);
    });

    test('20 concurrent claims against a limit of 5: exactly 5 succeed', async () => {
      await store.createActivation(activation({ registrationLimit: 5 }));
      const results = await Promise.all(Array.from({ length: 20 }, () => store.claimActivation('act-1', T0)));
      assert.equal(results.filter(Boolean).length, 5);
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 5);
    });

    test('concurrent claims from two stores (two replicas) share one limit', async () => {
      await store.createActivation(activation({ registrationLimit: 5 }));
      const other = await target.reopen();
      try {
        const claims = Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? store : other).claimActivation('act-1', T0),
        );
        assert.equal((await Promise.all(claims)).filter(Boolean).length, 5);
      } finally {
        await other.close();
      }
      assert.equal((await store.getActivation('act-1'))?.registrationsCount, 5);
    });
  });
}
