import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { instance, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`instances (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    test('createInstance and getInstance round-trip every field, tags included', async () => {
      const i = instance({ tags: { Environment: 'Production', APP_ID: '42', 'aws:x': '' } });
      const j = instance({
        id: 'i-0000000000000000b',
        kind: 'ec2',
        lastSeenAt: null,
        tags: {},
        ipAddresses: [],
      });
      await store.createInstance(i);
      await store.createInstance(j);
      assert.deepEqual(await store.getInstance(i.id), i);
      assert.deepEqual(await store.getInstance(j.id), j);
      assert.equal(await store.getInstance('mi-none'), undefined);
    });

    test('findInstanceByPublicKey finds the instance of a key, with its tags', async () => {
      const i = instance({ publicKey: 'MCowBQYDK2VwAyEA-one', tags: { Name: 'web' } });
      await store.createInstance(i);
      await store.createInstance(instance({ id: 'mi-0000000000000000c', publicKey: 'MCowBQYDK2VwAyEA-two' }));
      assert.deepEqual(await store.findInstanceByPublicKey(i.publicKey), i);
      assert.equal(await store.findInstanceByPublicKey('MCowBQYDK2VwAyEA-none'), undefined);
    });

    test('a duplicate instance id is a CONFLICT and leaves nothing half-written', async () => {
      await store.createInstance(instance());
      await assert.rejects(store.createInstance(instance({ tags: { Other: 'x' } })), { code: 'CONFLICT' });
      assert.deepEqual((await store.getInstance(instance().id))?.tags, instance().tags);
    });

    test('listInstances orders by name then id, each with its own tags', async () => {
      await store.createInstance(instance({ id: 'mi-b', name: 'web', tags: { N: 'b' } }));
      await store.createInstance(instance({ id: 'mi-c', name: 'db', tags: {} }));
      await store.createInstance(instance({ id: 'mi-a', name: 'web', tags: { N: 'a', Z: 'z' } }));
      await store.createInstance(instance({ id: 'mi-d', name: 'Web', tags: { N: 'd' } }));
      const listed = await store.listInstances();
      assert.deepEqual(
        listed.map((i) => [i.name, i.id, i.tags]),
        [
          ['Web', 'mi-d', { N: 'd' }],
          ['db', 'mi-c', {}],
          ['web', 'mi-a', { N: 'a', Z: 'z' }],
          ['web', 'mi-b', { N: 'b' }],
        ],
      );
      assert.deepEqual(await store.listInstances(), listed);
    });

    test('findInstancesByName finds every instance with that exact name', async () => {
      await store.createInstance(instance({ id: 'mi-b', name: 'web', tags: { N: 'b' } }));
      await store.createInstance(instance({ id: 'mi-a', name: 'web', tags: { N: 'a' } }));
      await store.createInstance(instance({ id: 'mi-c', name: 'db', tags: { N: 'c' } }));
      const found = await store.findInstancesByName('web');
      assert.deepEqual(
        found.map((i) => [i.id, i.tags]),
        [
          ['mi-a', { N: 'a' }],
          ['mi-b', { N: 'b' }],
        ],
      );
      assert.deepEqual(await store.findInstancesByName('WEB'), []);
      assert.deepEqual(await store.findInstancesByName('none'), []);
    });

    test('updateInventory and setInstanceStatus', async () => {
      const i = instance();
      await store.createInstance(i);
      const inventory = {
        hostname: 'web-1b',
        platform: 'linux',
        platformVersion: 'debian 13',
        ipAddresses: ['10.0.0.6'],
        agentVersion: '0.2.0',
      };
      await store.updateInventory(i.id, inventory);
      await store.setInstanceStatus(i.id, 'ConnectionLost', T0 + 5000);
      assert.deepEqual(await store.getInstance(i.id), {
        ...i,
        ...inventory,
        status: 'ConnectionLost',
        lastSeenAt: T0 + 5000,
      });
    });

    test('markAllInstancesConnectionLost counts the instances it changed', async () => {
      await store.createInstance(instance({ id: 'mi-1' }));
      await store.createInstance(instance({ id: 'mi-2' }));
      await store.createInstance(instance({ id: 'mi-3', status: 'ConnectionLost' }));
      assert.equal(await store.markAllInstancesConnectionLost(), 2);
      assert.deepEqual(
        (await store.listInstances()).map((i) => i.status),
        ['ConnectionLost', 'ConnectionLost', 'ConnectionLost'],
      );
      assert.equal(await store.markAllInstancesConnectionLost(), 0);
    });

    test('setInstanceTags replaces all tags; a Name tag renames the instance', async () => {
      const i = instance({ tags: { Environment: 'Production', Owner: 'ops' } });
      await store.createInstance(i);
      await store.setInstanceTags(i.id, { Environment: 'Development', Team: 'web' });
      assert.deepEqual(await store.getInstance(i.id), {
        ...i,
        tags: { Environment: 'Development', Team: 'web' },
      });
      await store.setInstanceTags(i.id, { Name: 'frontend-1', Team: 'web' });
      assert.deepEqual(await store.getInstance(i.id), {
        ...i,
        name: 'frontend-1',
        tags: { Name: 'frontend-1', Team: 'web' },
      });
      assert.deepEqual(
        (await store.findInstancesByName('frontend-1')).map((x) => x.id),
        [i.id],
      );
      await store.setInstanceTags(i.id, {});
      assert.deepEqual(
        await store.getInstance(i.id),
        { ...i, name: 'frontend-1', tags: {} },
        'no Name tag: name kept',
      );
    });

    test('setInstanceTags with expected tags writes (and renames) only while they are still those', async () => {
      const i = instance({ tags: { Name: 'web-1', Team: 'web' } });
      await store.createInstance(i);
      assert.equal(await store.setInstanceTags(i.id, { Name: 'web-2' }, { Name: 'web-1' }), false);
      assert.deepEqual(await store.getInstance(i.id), i, 'neither tags nor name changed');
      assert.equal(
        await store.setInstanceTags(i.id, { Name: 'web-2' }, { Team: 'web', Name: 'web-1' }),
        true,
      );
      assert.deepEqual(await store.getInstance(i.id), { ...i, name: 'web-2', tags: { Name: 'web-2' } });
      assert.equal(await store.setInstanceTags('mi-none', {}, {}), false, 'an unknown instance');
    });

    test('setInstanceTags on an unknown instance changes nothing', async () => {
      await store.setInstanceTags('mi-none', { Name: 'x' });
      assert.equal(await store.getInstance('mi-none'), undefined);
    });

    test('many tags, unusual keys, and concurrent replacements', async () => {
      const many = Object.fromEntries(Array.from({ length: 1200 }, (_, n) => [`k${n}`, `v${n}`]));
      const oddJson = '{"__proto__":"p","constructor":"c","ünïcode/ключ":"値","with space":" "}';
      const odd = () => JSON.parse(oddJson) as Record<string, string>;
      await store.createInstance(instance({ tags: many }));
      assert.deepEqual((await store.getInstance(instance().id))?.tags, many);
      await Promise.all([
        store.setInstanceTags(instance().id, odd()),
        store.setInstanceTags(instance().id, { A: '1' }),
      ]);
      const tags = (await store.getInstance(instance().id))?.tags ?? {};
      assert.ok(Object.keys(tags).length === 1 || Object.keys(tags).length === 4, JSON.stringify(tags));
      await store.setInstanceTags(instance().id, odd());
      const stored = (await store.getInstance(instance().id))?.tags ?? {};
      assert.equal(Object.getPrototypeOf(stored), Object.prototype);
      assert.equal(Object.hasOwn(stored, '__proto__'), true);
      assert.deepEqual(Object.entries(stored).sort(), Object.entries(odd()).sort());
    });

    test('deleteInstance removes the instance and its tags', async () => {
      await store.createInstance(instance({ tags: { A: '1' } }));
      assert.equal(await store.deleteInstance(instance().id), true);
      assert.equal(await store.deleteInstance(instance().id), false);
      assert.equal(await store.getInstance(instance().id), undefined);
      await store.createInstance(instance({ tags: {} }));
      assert.deepEqual((await store.getInstance(instance().id))?.tags, {}, 'old tags did not survive');
    });
  });
}
