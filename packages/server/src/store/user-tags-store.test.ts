import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { newUser } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`user tags (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
      await store.createUser(newUser());
      await store.createUser(newUser({ id: 'u-bob', username: 'bob' }));
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    // State Street: one group of tags per entitlement, suffixed 2..n.
    const abac = {
      AppGroupName: 'webserver',
      AppId: 'ABC',
      ReleaseId: '1.0',
      AppGroupName2: 'database',
      AppId2: 'DEF',
      ReleaseId2: '2.1',
    };

    test('setUserTags with expected tags writes only while they are still those, in any order', async () => {
      assert.equal(await store.setUserTags('u-alice', { team: 'web', floor: '3' }), true);
      assert.equal(await store.setUserTags('u-alice', { team: 'ops' }, { team: 'web' }), false, 'a key more');
      assert.equal(await store.setUserTags('u-alice', { team: 'ops' }, { team: 'web', floor: '4' }), false);
      assert.equal(await store.setUserTags('u-alice', { team: 'ops' }, {}), false);
      assert.deepEqual(await store.getUserTags('u-alice'), { team: 'web', floor: '3' }, 'nothing written');
      assert.equal(await store.setUserTags('u-alice', { team: 'ops' }, { floor: '3', team: 'web' }), true);
      assert.deepEqual(await store.getUserTags('u-alice'), { team: 'ops' });
      assert.equal(await store.setUserTags('u-nobody', { team: 'ops' }), false, 'an unknown user');
    });

    test('setUserTags replaces the whole set; getUserTags reads it back', async () => {
      assert.deepEqual(await store.getUserTags('u-alice'), {});
      await store.setUserTags('u-alice', abac);
      await store.setUserTags('u-bob', { AppGroupName: 'batch' });
      assert.deepEqual(await store.getUserTags('u-alice'), abac);
      await store.setUserTags('u-alice', { AppGroupName: 'webserver', Department: '' });
      assert.deepEqual(await store.getUserTags('u-alice'), { AppGroupName: 'webserver', Department: '' });
      await store.setUserTags('u-alice', {});
      assert.deepEqual(await store.getUserTags('u-alice'), {});
      assert.deepEqual(await store.getUserTags('u-bob'), { AppGroupName: 'batch' }, 'other users untouched');
    });

    test('an unknown user is a no-op', async () => {
      await store.setUserTags('u-ghost', abac);
      assert.deepEqual(await store.getUserTags('u-ghost'), {});
    });

    test('many tags, unusual keys, and concurrent replacements (one whole set wins)', async () => {
      const many = Object.fromEntries(Array.from({ length: 1200 }, (_, n) => [`k${n}`, `v${n}`]));
      await store.setUserTags('u-alice', many);
      assert.deepEqual(await store.getUserTags('u-alice'), many);
      const odd = JSON.parse('{"__proto__":"p","constructor":"c","ünïcode/ключ":"値","with space":" "}');
      await Promise.all([
        store.setUserTags('u-alice', odd),
        store.setUserTags('u-alice', abac),
        store.setUserTags('u-alice', { A: '1' }),
      ]);
      const final = await store.getUserTags('u-alice');
      assert.ok([4, 6, 1].includes(Object.keys(final).length), JSON.stringify(final));
      await store.setUserTags('u-alice', odd);
      const stored = await store.getUserTags('u-alice');
      assert.equal(Object.getPrototypeOf(stored), Object.prototype);
      assert.equal(Object.hasOwn(stored, '__proto__'), true);
      assert.deepEqual(Object.entries(stored).sort(), Object.entries(odd).sort());
    });
  });
}
