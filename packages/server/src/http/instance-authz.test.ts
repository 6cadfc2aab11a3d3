import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registerAgent } from '../agents/test-agent.ts';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let alice: string;
let bob: string;
let prodDb: string;

/** A registered instance named `name`, tagged `tags`. */
const instance = async (name: string, tags: Record<string, string>) =>
  (await registerAgent(ts, { defaultInstanceName: name, defaultTags: tags })).instanceId;

/** May look up every instance, and deregister development ones. */
const SEE_ALL_DEREGISTER_DEV = [
  { Effect: 'Allow', Action: 'ssm:DescribeInstanceProperties', Resource: '*' },
  {
    Effect: 'Allow',
    Action: 'ssm:DeregisterManagedInstance',
    Resource: '*',
    Condition: { StringEquals: { 'aws:ResourceTag/project': 'Development' } },
  },
];

const INSTANCE_ACTIONS = [
  'ssm:DescribeInstanceProperties',
  'ssm:AddTagsToResource',
  'ssm:RemoveTagsFromResource',
  'ssm:DeregisterManagedInstance',
];

before(async () => {
  ts = await startTestServer();
  prodDb = await instance('prod-db', { project: 'Production' });
  await instance('dev-01', { project: 'Development' });
  alice = (await ts.createUser('alice')).token;
  bob = (await ts.createUser('bob')).token;
  // alice may manage every instance but production ones; bob holds no instance permissions at all.
  await ts.grant('alice', 'InstancesButProduction', [
    { Effect: 'Allow', Action: INSTANCE_ACTIONS, Resource: '*' },
    {
      Effect: 'Deny',
      Action: INSTANCE_ACTIONS,
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/project': 'Production' } },
    },
    // The tags that decide access (State Street's ABAC tags, project) are not hers to set.
    {
      Effect: 'Deny',
      Action: ['ssm:AddTagsToResource', 'ssm:RemoveTagsFromResource'],
      Resource: '*',
      Condition: {
        'ForAnyValue:StringEquals': { 'aws:TagKeys': ['APP_GROUP_NAME', 'APP_ID', 'RELEASE_ID'] },
      },
    },
    {
      Effect: 'Deny',
      Action: 'ssm:AddTagsToResource',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestTag/project': 'Production' } },
    },
  ]);
});
after(() => ts.close());

describe('instance reads and changes are judged with the instance tags', () => {
  test('a Deny on a resource tag holds for reading, retagging and deregistering', async () => {
    const forbidden =
      /you are not allowed to ssm:\w+ on arn:aws:ssm:local:000000000000:managed-instance\/mi-/;
    assertError(
      await ts.api('GET', `/api/v1/instances/${prodDb}`, { token: alice }),
      403,
      'FORBIDDEN',
      forbidden,
    );
    const retag = { token: alice, json: { project: 'Development' } };
    assertError(await ts.api('PUT', `/api/v1/instances/${prodDb}/tags`, retag), 403, 'FORBIDDEN', forbidden);
    assertError(
      await ts.api('DELETE', `/api/v1/instances/${prodDb}`, { token: alice }),
      403,
      'FORBIDDEN',
      forbidden,
    );
    // By name, an instance she may not see is one she cannot find: the name does not tell her its id.
    for (const [method, path] of [
      ['GET', '/api/v1/instances/prod-db'],
      ['PUT', '/api/v1/instances/prod-db/tags'],
      ['DELETE', '/api/v1/instances/prod-db'],
    ] as const) {
      const answer = await ts.api(method, path, method === 'PUT' ? retag : { token: alice });
      assertError(answer, 404, 'NOT_FOUND', /no instance "prod-db"/);
      assert.ok(!answer.text.includes(prodDb), answer.text);
    }
    const prod = await ts.api('GET', '/api/v1/instances/prod-db', { token: ts.adminToken });
    assert.equal(
      (prod.body.instance as { tags: { project?: string } }).tags.project,
      'Production',
      'still tagged',
    );
  });

  test('the Allow still holds for instances the Deny does not name', async () => {
    const dev = await ts.api('GET', '/api/v1/instances/dev-01', { token: alice });
    assert.equal(dev.status, 200, dev.text);
    const retagged = await ts.api('PUT', '/api/v1/instances/dev-01/tags', {
      token: alice,
      json: { project: 'Development', owner: 'alice' },
    });
    assert.equal(retagged.status, 200, retagged.text);
  });
});

describe('a tagging request is judged with the tags it sets', () => {
  test('aws:TagKeys and aws:RequestTag/* hold what the request sets', async () => {
    const put = (json: Record<string, string>) =>
      ts.api('PUT', '/api/v1/instances/dev-01/tags', { token: alice, json });
    const refused: Record<string, string>[] = [
      { project: 'Development', APP_GROUP_NAME: 'payments' },
      { project: 'Production' },
    ];
    for (const json of refused) {
      assertError(await put(json), 403, 'FORBIDDEN', /you are not allowed to ssm:AddTagsToResource/);
    }
    const dev = await ts.api('GET', '/api/v1/instances/dev-01', { token: ts.adminToken });
    assert.equal((dev.body.instance as { tags: Record<string, string> }).tags.APP_GROUP_NAME, undefined);
    assert.equal((await put({ project: 'Development', team: 'web' })).status, 200);
  });
});

describe('a tagging request that drops tags is judged as removing them', () => {
  test('ssm:RemoveTagsFromResource with aws:TagKeys = the dropped keys; a missing body removes nothing', async () => {
    const app = await instance('app-07', {
      project: 'Development',
      APP_GROUP_NAME: 'payments',
      owner: 'ops',
    });
    const put = (json: unknown, token = alice) =>
      ts.api('PUT', `/api/v1/instances/${app}/tags`, { token, ...(json === undefined ? {} : { json }) });
    const tags = async () =>
      (await ts.api('GET', `/api/v1/instances/${app}`, { token: ts.adminToken })).body.instance as {
        tags: Record<string, string>;
      };
    // Dropping the ABAC tag (the policy denies her that key) is refused, alone or with every other tag.
    for (const json of [{ project: 'Development', owner: 'ops' }, {}])
      assertError(
        await put(json),
        403,
        'FORBIDDEN',
        /you are not allowed to ssm:RemoveTagsFromResource on arn:aws:ssm:local:000000000000:managed-instance\/mi-/,
      );
    assertError(await put(undefined), 400, 'INVALID', /the body must be the instance's tags/);
    assertError(
      await put({ Name: 'app-07', project: 'Development', app_group_name: 'billing', owner: 'ops' }),
      403,
      'FORBIDDEN',
      /ssm:RemoveTagsFromResource/,
    );
    assert.equal((await tags()).tags.APP_GROUP_NAME, 'payments', 'nothing was removed');
    // Dropping a tag the policy lets her remove, keeping the ABAC one as it is: allowed.
    const kept = await put({ project: 'Development', APP_GROUP_NAME: 'payments' });
    assert.equal(kept.status, 403, 'resending APP_GROUP_NAME is setting it: denied as before');
    // Someone allowed to add tags but not to remove them drops none.
    const carl = (await ts.createUser('carl')).token;
    await ts.grant('carl', 'TagOnly', [{ Effect: 'Allow', Action: 'ssm:AddTagsToResource', Resource: '*' }]);
    assertError(
      await put({ project: 'Development', APP_GROUP_NAME: 'payments' }, carl),
      403,
      'FORBIDDEN',
      /ssm:RemoveTagsFromResource/,
    );
    const added = await put(
      { Name: 'app-07', project: 'Development', APP_GROUP_NAME: 'payments', owner: 'ops', team: 'web' },
      carl,
    );
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(
      Object.keys(added.body.instance as object).sort(),
      ['arn', 'id', 'tags'],
      'tagging without ssm:DescribeInstanceProperties answers with what was set, not the instance',
    );
    assert.deepEqual((await tags()).tags, {
      Name: 'app-07',
      project: 'Development',
      APP_GROUP_NAME: 'payments',
      owner: 'ops',
      team: 'web',
    });
  });
});

describe('an activation tags the instances it registers', () => {
  test('its default tags are judged as tagging them: a Deny on a tag key holds for them too', async () => {
    const dora = (await ts.createUser('dora')).token;
    await ts.grant('dora', 'Activations', [
      { Effect: 'Allow', Action: ['ssm:CreateActivation', 'ssm:AddTagsToResource'], Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'ssm:AddTagsToResource',
        Resource: '*',
        Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['APP_GROUP_NAME'] } },
      },
    ]);
    const create = (defaultTags: Record<string, string>) =>
      ts.api('POST', '/api/v1/activations', { token: dora, json: { defaultTags } });
    assertError(
      await create({ APP_GROUP_NAME: 'payments' }),
      403,
      'FORBIDDEN',
      /you are not allowed to ssm:AddTagsToResource on arn:aws:ssm:local:000000000000:managed-instance\/\*/,
    );
    assert.equal((await create({ team: 'web' })).status, 200);
    assert.equal((await create({})).status, 200);
    // An Allow that asks for a request tag is met by the default tags sent.
    const eli = (await ts.createUser('eli')).token;
    await ts.grant('eli', 'WebActivations', [
      {
        Effect: 'Allow',
        Action: 'ssm:CreateActivation',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestTag/team': 'web' } },
      },
      { Effect: 'Allow', Action: 'ssm:AddTagsToResource', Resource: '*' },
    ]);
    const byEli = (defaultTags: Record<string, string>) =>
      ts.api('POST', '/api/v1/activations', { token: eli, json: { defaultTags } });
    const made = await byEli({ team: 'web' });
    assert.equal(made.status, 200, made.text);
    assertError(await byEli({ team: 'db' }), 403, 'FORBIDDEN', /ssm:CreateActivation/);
  });
});

describe('someone who may not look at instances cannot learn which exist', () => {
  test('an unknown name, an unknown id and a real instance all answer 403', async () => {
    for (const target of ['prod-db', 'no-such-host', 'mi-0123456789abcdef0']) {
      assertError(
        await ts.api('GET', `/api/v1/instances/${target}`, { token: bob }),
        403,
        'FORBIDDEN',
        /you are not allowed to ssm:DescribeInstanceProperties/,
      );
    }
    // A real name and an unknown one get the very same answer.
    const real = await ts.api('GET', '/api/v1/instances/prod-db', { token: bob });
    const unknown = await ts.api('GET', '/api/v1/instances/no-such-host', { token: bob });
    assert.deepEqual(real.body, unknown.body);
    assertError(
      await ts.api('DELETE', '/api/v1/instances/no-such-host', { token: bob }),
      403,
      'FORBIDDEN',
      /ssm:DeregisterManagedInstance/,
    );
  });

  test('someone who may look up every instance is told a name does not exist, whatever the action', async () => {
    const cleo = (await ts.createUser('cleo')).token;
    await ts.grant('cleo', 'LookUpAllRemoveDev', SEE_ALL_DEREGISTER_DEV);
    assertError(
      await ts.api('DELETE', '/api/v1/instances/no-such-host', { token: cleo }),
      404,
      'NOT_FOUND',
      /no instance "no-such-host"/,
    );
    // ec2:DescribeInstances alone shows no instance here, so it does not count: "not found" for unknown names and
    // "forbidden" for real ones would tell which exist.
    const dex = (await ts.createUser('dex')).token;
    await ts.grant('dex', 'Ec2LookUpAll', [
      { Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    ]);
    for (const name of ['no-such-host', 'prod-db'])
      assertError(
        await ts.api('DELETE', `/api/v1/instances/${name}`, { token: dex }),
        403,
        'FORBIDDEN',
        /ssm:DeregisterManagedInstance/,
      );
    // Someone who may not is refused, and the trail says which name they asked for.
    assertError(
      await ts.api('DELETE', '/api/v1/instances/no-such-host', { token: bob }),
      403,
      'FORBIDDEN',
      /./,
    );
    const trail = await ts.api(
      'GET',
      '/api/v1/audit?actor=bob&action=ssm:DeregisterManagedInstance&maxResults=1',
      {
        token: ts.adminToken,
      },
    );
    const [event] = trail.body.events as { outcome: string; detail: { target?: string } }[];
    assert.equal(event?.outcome, 'denied', trail.text);
    assert.equal(event?.detail.target, 'no-such-host');
  });

  test('someone who may is told the instance does not exist', async () => {
    assertError(
      await ts.api('GET', '/api/v1/instances/no-such-host', { token: alice }),
      404,
      'NOT_FOUND',
      /no instance "no-such-host"/,
    );
  });
});

describe('a name several instances share', () => {
  test('means the instance this person may see, and an ambiguity lists only those', async () => {
    const prod = await instance('shared-01', { project: 'Production' });
    const dev = await instance('shared-01', { project: 'Development' });
    const ambiguous = await ts.api('GET', '/api/v1/instances/shared-01', { token: ts.adminToken });
    assertError(ambiguous, 409, 'CONFLICT', /2 instances are named "shared-01"/);
    assert.ok(ambiguous.text.includes(prod) && ambiguous.text.includes(dev), ambiguous.text);

    // alice may not see the production one: for her the name is not ambiguous.
    const shown = await ts.api('GET', '/api/v1/instances/shared-01', { token: alice });
    assert.equal(shown.status, 200, shown.text);
    assert.equal((shown.body.instance as { id: string }).id, dev);

    const dev2 = await instance('shared-01', { project: 'Development' });
    const hers = await ts.api('GET', '/api/v1/instances/shared-01', { token: alice });
    assertError(hers, 409, 'CONFLICT', /2 instances are named "shared-01"/);
    assert.ok(hers.text.includes(dev) && hers.text.includes(dev2), hers.text);
    assert.ok(!hers.text.includes(prod), `the production instance's id is not hers to learn: ${hers.text}`);
    assertError(
      await ts.api('GET', '/api/v1/instances/shared-01', { token: bob }),
      403,
      'FORBIDDEN',
      /ssm:DescribeInstanceProperties/,
    );
  });

  test('an action is never taken on another instance than the ones the name shows: several seen, a conflict', async () => {
    const prod = await instance('shared-02', { project: 'Production' });
    const dev = await instance('shared-02', { project: 'Development' });
    // carol sees every instance but may deregister only development ones.
    const carol = (await ts.createUser('carol')).token;
    await ts.grant('carol', 'SeeAllDeregisterDev', SEE_ALL_DEREGISTER_DEV);
    assertError(
      await ts.api('DELETE', '/api/v1/instances/shared-02', { token: carol }),
      409,
      'CONFLICT',
      /2 instances are named "shared-02"/,
    );
    for (const id of [prod, dev]) {
      const still = await ts.api('GET', `/api/v1/instances/${id}`, { token: ts.adminToken });
      assert.equal(still.status, 200, `${id} is still registered`);
    }
  });

  test('the policy simulator looks a target up the same way: a name tells no one an id they may not see', async () => {
    const dave = (await ts.createUser('dave')).token;
    await ts.grant('dave', 'SimulateSelfSeeDev', [
      { Effect: 'Allow', Action: 'sesame:SimulatePrincipalPolicy', Resource: '*' },
      {
        Effect: 'Allow',
        Action: 'ssm:DescribeInstanceProperties',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/project': 'Development' } },
      },
    ]);
    const simulate = (target: string) =>
      ts.api('POST', '/api/v1/policy/simulate', {
        token: dave,
        json: { username: 'dave', action: 'ssm:StartSession', target },
      });
    const hidden = await simulate('prod-db');
    assert.ok(hidden.status === 403 || hidden.status === 404, hidden.text);
    assert.ok(!hidden.text.includes(prodDb), `the simulator named an id dave may not see: ${hidden.text}`);
    const seen = await simulate('dev-01');
    assert.equal(seen.status, 200, seen.text);
  });
});

describe('a change of tags (PATCH): add and remove, keeping the others', () => {
  test('adds and removes only what it names, each judged as its own action with its own keys', async () => {
    const app = await instance('app-09', { project: 'Development', APP_ID: '42', owner: 'ops', temp: 'x' });
    const patch = (json: unknown, token = alice) =>
      ts.api('PATCH', `/api/v1/instances/${app}/tags`, { token, json });
    const tags = async () =>
      (
        (await ts.api('GET', `/api/v1/instances/${app}`, { token: ts.adminToken })).body.instance as {
          tags: Record<string, string>;
        }
      ).tags;
    // Only the keys it names are in aws:TagKeys: adding owner is hers although APP_ID (not hers) is on it.
    const added = await patch({ add: { owner: 'alice', team: 'web' }, remove: ['temp'] });
    assert.equal(added.status, 200, added.text);
    const afterAdding = { Name: 'app-09', project: 'Development', APP_ID: '42', owner: 'alice', team: 'web' };
    // Audited as the two AWS actions it is, each findable by its own.
    const arn = (added.body.instance as { arn: string }).arn;
    const audited = (
      await ts.api('GET', `/api/v1/audit?resource=${encodeURIComponent(arn)}&actor=alice`, {
        token: ts.adminToken,
      })
    ).body.events as { action: string; detail: Record<string, unknown> }[];
    assert.deepEqual(
      audited.map((e) => [e.action, e.detail]),
      [
        ['ssm:RemoveTagsFromResource', { removed: ['temp'] }],
        ['ssm:AddTagsToResource', { tags: { owner: 'alice', team: 'web' } }],
      ],
    );
    assert.deepEqual(await tags(), afterAdding);
    // Removing the ABAC tag is refused, and so is adding it; nothing changes.
    assertError(await patch({ remove: ['APP_ID'] }), 403, 'FORBIDDEN', /ssm:RemoveTagsFromResource/);
    assertError(
      await patch({ add: { x: '1' }, remove: ['APP_ID'] }),
      403,
      'FORBIDDEN',
      /ssm:RemoveTagsFromResource/,
    );
    assertError(await patch({ add: { APP_ID: '43' } }), 403, 'FORBIDDEN', /ssm:AddTagsToResource/);
    assert.deepEqual(await tags(), afterAdding);
    // The administrator may; removing a key the instance does not have is no error.
    const removed = await patch({ remove: ['APP_ID', 'nope'] }, ts.adminToken);
    assert.equal(removed.status, 200, removed.text);
    // A change that changes nothing is on record too.
    const nothing = await patch({ remove: ['nope'] }, ts.adminToken);
    assert.equal(nothing.status, 200, nothing.text);
    const [last] = (
      await ts.api('GET', `/api/v1/audit?resource=${encodeURIComponent(arn)}&maxResults=1`, {
        token: ts.adminToken,
      })
    ).body.events as { action: string; detail: Record<string, unknown> }[];
    assert.deepEqual([last?.action, last?.detail], ['ssm:RemoveTagsFromResource', { tags: {}, removed: [] }]);
    assert.deepEqual(await tags(), { Name: 'app-09', project: 'Development', owner: 'alice', team: 'web' });
  });

  test('a malformed change is a 400 that says what to send, and changes nothing', async () => {
    const patch = (json: unknown) =>
      ts.api('PATCH', '/api/v1/instances/dev-01/tags', { token: ts.adminToken, json });
    const before = (await ts.api('GET', '/api/v1/instances/dev-01', { token: ts.adminToken })).body.instance;
    const cases: [unknown, RegExp][] = [
      [{}, /adds and removes nothing, e\.g\. \{"add"/],
      [[], /the body must be a change of tags/],
      [{ add: { owner: 'x' }, tags: {} }, /unknown field "tags": this request takes "add", "remove"/],
      [{ add: 'owner=x' }, /add must be an object of key\/value strings/],
      [{ remove: 'owner' }, /remove must be a list of tag keys/],
      [{ add: { owner: 'x' }, remove: ['owner'] }, /"owner" is both added and removed/],
      [{ add: { Project: 'x' } }, /"project" and "Project" differ only in letter case/],
    ];
    for (const [json, message] of cases) assertError(await patch(json), 400, 'INVALID', message);
    const after = (await ts.api('GET', '/api/v1/instances/dev-01', { token: ts.adminToken })).body.instance;
    assert.deepEqual(after, before);
  });
});

test('a retagging that races another is judged again on what won: it never overwrites a production tag', async () => {
  const id = await instance('race-01', { project: 'Development' });
  const store = ts.server.store;
  const write = store.setInstanceTags.bind(store);
  let meanwhile: (() => Promise<void>) | undefined;
  store.setInstanceTags = async (target, tags, expected) => {
    const other = meanwhile;
    meanwhile = undefined;
    if (other && expected) await other();
    return write(target, tags, expected);
  };
  try {
    // The administrator makes it a production instance between alice's read and her write.
    meanwhile = async () => {
      const made = await ts.api('PATCH', `/api/v1/instances/${id}/tags`, {
        token: ts.adminToken,
        json: { add: { project: 'Production' } },
      });
      assert.equal(made.status, 200, made.text);
    };
    assertError(
      await ts.api('PUT', `/api/v1/instances/${id}/tags`, {
        token: alice,
        json: { Name: 'race-01', team: 'web' },
      }),
      403,
      'FORBIDDEN',
      /ssm:AddTagsToResource on .*managed-instance\//,
    );
    assert.equal(meanwhile, undefined, 'the other change got in between');
    const now = (await ts.api('GET', `/api/v1/instances/${id}`, { token: ts.adminToken })).body.instance;
    assert.deepEqual((now as { tags: unknown }).tags, { Name: 'race-01', project: 'Production' });
  } finally {
    store.setInstanceTags = write;
  }
});
