import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registerAgent } from '../agents/test-agent.ts';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let alice: string;

const instance = async (name: string, project: string) =>
  (await registerAgent(ts, { defaultInstanceName: name, defaultTags: { project } })).instanceId;

/** Every page of a listing, `maxResults` at a time: the pages' items, and how many pages it took. */
async function allPages(path: string, name: string, token: string, maxResults: number) {
  const items: Record<string, unknown>[] = [];
  let next: string | undefined;
  let pages = 0;
  do {
    const query = `?maxResults=${maxResults}${next ? `&nextToken=${encodeURIComponent(next)}` : ''}`;
    const answer = await ts.api('GET', `${path}${query}`, { token });
    assert.equal(answer.status, 200, answer.text);
    const page = answer.body[name] as Record<string, unknown>[];
    assert.ok(page.length <= maxResults);
    items.push(...page);
    next = answer.body.nextToken as string | undefined;
    pages++;
    assert.ok(pages < 50, 'the listing ends');
  } while (next);
  return { items, pages };
}

before(async () => {
  ts = await startTestServer();
  for (const name of ['web-03', 'db-01', 'web-01', 'web-02']) await instance(name, 'Development');
  for (const name of ['pay-01', 'web-00']) await instance(name, 'Production');
  alice = (await ts.createUser('alice')).token;
  await ts.grant('alice', 'DevelopmentOnly', [
    { Effect: 'Allow', Action: 'ssm:DescribeInstanceProperties', Resource: '*' },
    {
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/project': 'Development' } },
    },
  ]);
});
after(() => ts.close());

describe('listings come in pages (maxResults, nextToken)', () => {
  test('instances: each page holds only what the caller may reach, in name order, all of it once', async () => {
    const { items, pages } = await allPages('/api/v1/instances', 'instances', alice, 1);
    assert.deepEqual(
      items.map((i) => i.name),
      ['db-01', 'web-01', 'web-02', 'web-03'],
    );
    assert.ok(pages >= 4);
    const everything = await ts.api('GET', '/api/v1/instances', { token: ts.adminToken });
    assert.equal((everything.body.instances as unknown[]).length, 6, 'one page by default');
    assert.equal(everything.body.nextToken, undefined);
    const byTwo = await allPages('/api/v1/instances', 'instances', ts.adminToken, 2);
    assert.deepEqual(
      byTwo.items.map((i) => i.name),
      ['db-01', 'pay-01', 'web-00', 'web-01', 'web-02', 'web-03'],
    );
  });

  test('users, activations, groups, policies, permission sets and assignments page the same way', async () => {
    for (const name of ['carol', 'bob', 'dave']) await ts.createUser(name);
    // At least two of each, so that pages of one go past the first.
    for (const name of ['ops', 'dba']) {
      const group = await ts.api('POST', '/api/v1/groups', { token: ts.adminToken, json: { name } });
      assert.equal(group.status, 200, group.text);
      const policy = await ts.api('POST', '/api/v1/policies', {
        token: ts.adminToken,
        json: {
          name: `${name}-read`,
          document: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'ssm:Describe*', Resource: '*' }],
          },
        },
      });
      assert.equal(policy.status, 200, policy.text);
    }
    const users = await allPages('/api/v1/users', 'users', ts.adminToken, 2);
    const names = users.items.map((u) => u.username as string);
    assert.deepEqual(names, [...names].sort());
    assert.ok(['alice', 'bob', 'carol', 'dave'].every((n) => names.includes(n)));
    assert.equal(new Set(names).size, names.length, 'no user twice');
    const activations = await allPages('/api/v1/activations', 'activations', ts.adminToken, 4);
    assert.equal(activations.items.length, 6);
    const times = activations.items.map((a) => a.createdAt as number);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first',
    );
    for (const [path, name] of [
      ['/api/v1/groups', 'groups'],
      ['/api/v1/policies', 'policies'],
      ['/api/v1/permission-sets', 'permissionSets'],
      ['/api/v1/assignments', 'assignments'],
    ] as const) {
      const whole = await ts.api('GET', path, { token: ts.adminToken });
      const paged = await allPages(path, name, ts.adminToken, 1);
      assert.ok(paged.items.length >= 2, `${path}: ${paged.items.length} items`);
      assert.deepEqual(paged.items, whole.body[name], path);
    }
  });

  test('a bad maxResults or nextToken is a 400 naming it, on every listing', async () => {
    for (const path of [
      '/api/v1/instances',
      '/api/v1/users',
      '/api/v1/activations',
      '/api/v1/groups',
      '/api/v1/policies',
      '/api/v1/permission-sets',
      '/api/v1/assignments',
    ]) {
      assertError(
        await ts.api('GET', `${path}?maxResults=0`, { token: ts.adminToken }),
        400,
        'INVALID',
        /maxResults/,
      );
      assertError(
        await ts.api('GET', `${path}?nextToken=not-a-token`, { token: ts.adminToken }),
        400,
        'INVALID',
        /nextToken is not one this listing gave out/,
      );
    }
  });

  test('someone who may not list learns nothing from a page request', async () => {
    assertError(
      await ts.api('GET', '/api/v1/users?maxResults=1', { token: alice }),
      403,
      'FORBIDDEN',
      /ListUsers|users/i,
    );
  });
});
