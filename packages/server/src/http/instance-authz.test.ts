import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentKeys, INVENTORY } from '../agents/test-agent.ts';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let alice: string;
let bob: string;

/** A registered instance named `name`, tagged `tags` by the administrator. */
async function instance(name: string, tags: Record<string, string>): Promise<string> {
  const created = await ts.api('POST', '/api/v1/activations', {
    token: ts.adminToken,
    json: { defaultInstanceName: name },
  });
  const { id } = created.body.activation as { id: string };
  const registered = await ts.api('POST', '/api/v1/agent/register', {
    json: {
      activationId: id,
      activationCode: created.body.code,
      publicKey: agentKeys().publicKey,
      inventory: INVENTORY,
    },
  });
  assert.equal(registered.status, 200, registered.text);
  const tagged = await ts.api('PUT', `/api/v1/instances/${name}/tags`, { token: ts.adminToken, json: tags });
  assert.equal(tagged.status, 200, tagged.text);
  return String(registered.body.instanceId);
}

const INSTANCE_ACTIONS = [
  'ssm:DescribeInstanceProperties',
  'ssm:AddTagsToResource',
  'ssm:DeregisterManagedInstance',
];

before(async () => {
  ts = await startTestServer();
  await instance('prod-db', { project: 'Production' });
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
      Action: 'ssm:AddTagsToResource',
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
      await ts.api('GET', '/api/v1/instances/prod-db', { token: alice }),
      403,
      'FORBIDDEN',
      forbidden,
    );
    const retag = { token: alice, json: { project: 'Development' } };
    assertError(await ts.api('PUT', '/api/v1/instances/prod-db/tags', retag), 403, 'FORBIDDEN', forbidden);
    assertError(
      await ts.api('DELETE', '/api/v1/instances/prod-db', { token: alice }),
      403,
      'FORBIDDEN',
      forbidden,
    );
    const prod = await ts.api('GET', '/api/v1/instances/prod-db', { token: ts.adminToken });
    assert.deepEqual(
      (prod.body.instance as { tags: unknown }).tags,
      { project: 'Production' },
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
    assertError(
      await ts.api('DELETE', '/api/v1/instances/no-such-host', { token: bob }),
      403,
      'FORBIDDEN',
      /ssm:DeregisterManagedInstance/,
    );
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
