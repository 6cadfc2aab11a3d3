import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeContextKey } from '@sesame/policy';
import { DEFAULT_CONFIG } from '../config.ts';
import { openStore } from '../store/index.ts';
import { TEST_SECRETS } from '../store/test-secrets.ts';
import { createInstanceCatalog } from './instance-catalog.ts';

const instance = (id: string, name: string, tags: Record<string, string>) => ({
  id,
  name,
  kind: 'managed' as const,
  activationId: 'a',
  publicKey: `k-${id}`,
  status: 'ConnectionLost' as const,
  lastSeenAt: null,
  registeredAt: 0,
  tags,
  hostname: 'h',
  platform: 'linux',
  platformVersion: '6',
  ipAddresses: [],
  agentVersion: '0.1.0',
});

test('the catalog loads once, stays ordered, and follows writes through refresh()', async () => {
  const store = await openStore({ secrets: TEST_SECRETS, sqlitePath: ':memory:' });
  await store.createInstance(instance('mi-00000000000000002', 'web', { project: 'Production' }));
  await store.createInstance(instance('mi-00000000000000001', 'db', { project: 'Development' }));
  const catalog = createInstanceCatalog({ store, arn: DEFAULT_CONFIG.arn });
  const first = await catalog.all();
  assert.deepEqual(
    first.map((e) => e.instance.name),
    ['db', 'web'],
  );
  assert.equal(first[0]?.arn, 'arn:aws:ssm:local:000000000000:managed-instance/mi-00000000000000001');
  assert.equal(first[0]?.context.get(normalizeContextKey('ssm:resourceTag/project')), 'Development');

  await store.setInstanceTags('mi-00000000000000001', { project: 'Production', Name: 'api' });
  assert.equal((await catalog.all())[0]?.instance.name, 'db', 'unchanged until refreshed');
  await catalog.refresh('mi-00000000000000001');
  const after = await catalog.all();
  assert.deepEqual(
    after.map((e) => e.instance.name),
    ['api', 'web'],
  );
  assert.equal(after[0]?.context.get(normalizeContextKey('aws:ResourceTag/project')), 'Production');

  await store.createInstance(instance('mi-00000000000000003', 'cache', {}));
  await catalog.refresh('mi-00000000000000003');
  await store.deleteInstance('mi-00000000000000002');
  await catalog.refresh('mi-00000000000000002');
  assert.deepEqual(
    (await catalog.all()).map((e) => e.instance.name),
    ['api', 'cache'],
  );
  await store.close();
});

test('a write while the catalog is still loading is not lost', async () => {
  const store = await openStore({ secrets: TEST_SECRETS, sqlitePath: ':memory:' });
  await store.createInstance(instance('mi-00000000000000001', 'db', {}));
  const catalog = createInstanceCatalog({ store, arn: DEFAULT_CONFIG.arn });
  const loading = catalog.all();
  await store.createInstance(instance('mi-00000000000000002', 'web', {}));
  await catalog.refresh('mi-00000000000000002');
  await loading;
  assert.deepEqual(
    (await catalog.all()).map((e) => e.instance.name),
    ['db', 'web'],
  );
  await store.close();
});

test('overlapping refreshes whose reads finish out of order keep the newest', async () => {
  const store = await openStore({ secrets: TEST_SECRETS, sqlitePath: ':memory:' });
  const id = 'mi-00000000000000001';
  await store.createInstance(instance(id, 'db', { env: 'prod' }));
  // The first refresh's read is answered last, with what the store held when it was made.
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let read: () => void = () => {};
  const firstRead = new Promise<void>((resolve) => {
    read = resolve;
  });
  let reads = 0;
  const slowFirst = {
    listInstances: () => store.listInstances(),
    getInstance: async (wanted: string) => {
      const found = await store.getInstance(wanted);
      if (++reads === 1) {
        read();
        await released;
      }
      return found;
    },
  };
  const catalog = createInstanceCatalog({ store: slowFirst, arn: DEFAULT_CONFIG.arn });
  await catalog.all();
  const first = catalog.refresh(id); // reads { env: prod }, answered late
  await firstRead;
  await store.setInstanceTags(id, { env: 'dev' });
  await catalog.refresh(id); // reads { env: dev }, answered at once
  release();
  await first;
  assert.deepEqual((await catalog.all())[0]?.instance.tags, { env: 'dev' });
  await store.close();
});
