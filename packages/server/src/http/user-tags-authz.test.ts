// A user's tags decide what they may reach (ABAC: aws:PrincipalTag/*), so changing them is judged like IAM's
// TagUser and UntagUser: with the tags set, and with the keys dropped.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let erin: string;
let frank: string;

const ABAC_KEYS = ['APP_GROUP_NAME', 'APP_ID', 'RELEASE_ID'];

before(async () => {
  ts = await startTestServer();
  await ts.createUser('dana');
  erin = (await ts.createUser('erin')).token;
  frank = (await ts.createUser('frank')).token;
  // erin keeps people's tags, but not the ones that decide access; frank may add tags, not remove them.
  await ts.grant('erin', 'TagKeeper', [
    { Effect: 'Allow', Action: ['sesame:TagUser', 'sesame:UntagUser', 'sesame:GetUser'], Resource: '*' },
    {
      Effect: 'Deny',
      Action: ['sesame:TagUser', 'sesame:UntagUser'],
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ABAC_KEYS } },
    },
  ]);
  await ts.grant('frank', 'TagAdder', [
    { Effect: 'Allow', Action: ['sesame:TagUser', 'sesame:GetUser'], Resource: '*' },
  ]);
  const set = await ts.api('PUT', '/api/v1/users/dana/tags', {
    token: ts.adminToken,
    json: { APP_GROUP_NAME: 'payments', team: 'web' },
  });
  assert.equal(set.status, 200, set.text);
});
after(() => ts.close());

const put = (username: string, token: string, json?: unknown) =>
  ts.api('PUT', `/api/v1/users/${username}/tags`, { token, ...(json === undefined ? {} : { json }) });
const tagsOf = async (username: string) =>
  (await ts.api('GET', `/api/v1/users/${username}/tags`, { token: ts.adminToken })).body.tags;

test('setting a tag key the policy denies is refused, for someone else and for oneself', async () => {
  for (const [username, token] of [
    ['dana', erin],
    ['erin', erin],
  ] as const)
    assertError(
      await put(username, token, { APP_GROUP_NAME: 'billing' }),
      403,
      'FORBIDDEN',
      /you are not allowed to sesame:TagUser on arn:aws:sesame:local:000000000000:user\//,
    );
  assert.deepEqual(await tagsOf('erin'), {});
});

test('dropping a tag key the policy denies is refused (sesame:UntagUser); a missing body changes nothing', async () => {
  for (const json of [{ team: 'ops' }, {}])
    assertError(
      await put('dana', erin, json),
      403,
      'FORBIDDEN',
      /you are not allowed to sesame:UntagUser on arn:aws:sesame:local:000000000000:user\/dana/,
    );
  assertError(await put('dana', erin), 400, 'INVALID', /the body must be the user's tags/);
  // The same key in other letters is another key to aws:TagKeys, but the same tag to policies: renaming it
  // drops the old spelling, and is judged so.
  assertError(
    await put('dana', erin, { app_group_name: 'billing', team: 'web' }),
    403,
    'FORBIDDEN',
    /sesame:UntagUser/,
  );
  assert.deepEqual(await tagsOf('dana'), { APP_GROUP_NAME: 'payments', team: 'web' });
});

test('without sesame:UntagUser tags can be added but none dropped', async () => {
  const added = await put('erin', frank, { team: 'ops', floor: '3' });
  assert.equal(added.status, 200, added.text);
  assertError(await put('erin', frank, { team: 'ops' }), 403, 'FORBIDDEN', /sesame:UntagUser/);
  const changed = await put('erin', frank, { team: 'web', floor: '3' });
  assert.equal(changed.status, 200, changed.text);
  assert.deepEqual(await tagsOf('erin'), { team: 'web', floor: '3' });
  const dropped = await put('erin', erin, { team: 'web' });
  assert.equal(dropped.status, 200, 'erin may drop a key the policy does not protect');
  assert.deepEqual(await tagsOf('erin'), { team: 'web' });
});

test("an action on an account is judged with that account's tags (aws:ResourceTag), as IAM judges actions on a user", async () => {
  await ts.createUser('gina');
  const gina = await ts.signIn('gina');
  await ts.createUser('hank');
  await ts.createUser('ivy');
  // gina runs the help desk: everything on accounts, except on those tagged Protected = true.
  await ts.grant('gina', 'HelpDesk', [
    { Effect: 'Allow', Action: 'sesame:*', Resource: '*' },
    {
      Effect: 'Deny',
      Action: 'sesame:*',
      Resource: 'arn:aws:sesame:*:*:user/*',
      Condition: { StringEquals: { 'aws:ResourceTag/Protected': 'true' } },
    },
  ]);
  assert.equal((await put('hank', ts.adminToken, { Protected: 'true' })).status, 200);
  const refused: [string, string, unknown?][] = [
    ['GET', '/api/v1/users/hank'],
    ['POST', '/api/v1/users/hank/reset', {}],
    ['POST', '/api/v1/users/hank/disable'],
    ['POST', '/api/v1/users/hank/unlock'],
    ['GET', '/api/v1/users/hank/mfa-devices'],
    ['DELETE', '/api/v1/users/hank/mfa-devices'],
    ['DELETE', '/api/v1/users/hank'],
    ['GET', '/api/v1/users/hank/tags'],
    ['PUT', '/api/v1/users/hank/tags', {}],
  ];
  for (const [method, path, json] of refused)
    assertError(
      await ts.api(method, path, { token: gina, ...(json === undefined ? {} : { json }) }),
      403,
      'FORBIDDEN',
      /you are not allowed to sesame:\w+ on arn:aws:sesame:local:000000000000:user\/hank$/,
    );
  assert.deepEqual(await tagsOf('hank'), { Protected: 'true' });
  assert.equal(
    (await ts.api('GET', '/api/v1/users/hank', { token: ts.adminToken })).status,
    200,
    'hank still there',
  );
  // Untagged accounts are hers; a name no account has is judged as an untagged account, then not found.
  assert.equal((await ts.api('POST', '/api/v1/users/ivy/disable', { token: gina })).status, 200);
  assertError(
    await ts.api('GET', '/api/v1/users/nobody', { token: gina }),
    404,
    'NOT_FOUND',
    /no user named "nobody"/,
  );
  const none = (await ts.createUser('jill')).token; // no permissions on accounts at all
  assertError(
    await ts.api('GET', '/api/v1/users/nobody', { token: none }),
    403,
    'FORBIDDEN',
    /sesame:GetUser on .*user\/nobody/,
  );
});

test('a change of tags (PATCH) adds and removes only what it names, each part judged as its own action', async () => {
  const patch = (username: string, token: string, json: unknown) =>
    ts.api('PATCH', `/api/v1/users/${username}/tags`, { token, json });
  await ts.createUser('kim');
  assert.equal((await put('kim', ts.adminToken, { APP_GROUP_NAME: 'payments', team: 'web' })).status, 200);
  // erin may add a tag although kim holds an ABAC key: only the keys it names are in aws:TagKeys.
  const added = await patch('kim', erin, { add: { desk: '7' } });
  assert.equal(added.status, 200, added.text);
  assert.deepEqual(await tagsOf('kim'), { APP_GROUP_NAME: 'payments', team: 'web', desk: '7' });
  // Removing the ABAC key is refused (sesame:UntagUser); frank may add but not remove at all.
  assertError(await patch('kim', erin, { remove: ['APP_GROUP_NAME'] }), 403, 'FORBIDDEN', /sesame:UntagUser/);
  assertError(
    await patch('kim', frank, { add: { x: '1' }, remove: ['desk'] }),
    403,
    'FORBIDDEN',
    /sesame:UntagUser/,
  );
  const removed = await patch('kim', erin, { remove: ['desk'] });
  assert.equal(removed.status, 200, removed.text);
  assert.deepEqual(await tagsOf('kim'), { APP_GROUP_NAME: 'payments', team: 'web' });
  assertError(await patch('kim', erin, {}), 400, 'INVALID', /adds and removes nothing/);
  // A change that adds and removes is on record as both actions.
  assert.equal((await patch('kim', ts.adminToken, { add: { floor: '3' }, remove: ['team'] })).status, 200);
  const events = (
    await ts.api(
      'GET',
      '/api/v1/audit?actor=admin&resource=arn:aws:sesame:local:000000000000:user/kim&maxResults=2',
      {
        token: ts.adminToken,
      },
    )
  ).body.events as { action: string; detail: Record<string, unknown> }[];
  assert.deepEqual(
    events.map((e) => [e.action, e.detail]),
    [
      ['sesame:UntagUser', { removed: ['team'] }],
      ['sesame:TagUser', { tags: { floor: '3' } }],
    ],
  );
});

test('a Deny on aws:TagKeys holds for a key in other letters only with an IgnoreCase operator, and saving the other one warns', async () => {
  const keeper = (name: string, operator: string) => ({
    name,
    inlinePolicy: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['sesame:TagUser', 'sesame:GetUser'], Resource: '*' },
        {
          Effect: 'Deny',
          Action: 'sesame:TagUser',
          Resource: '*',
          Condition: { [operator]: { 'aws:TagKeys': ABAC_KEYS } },
        },
      ],
    },
  });
  const created = await ts.api('POST', '/api/v1/permission-sets', {
    token: ts.adminToken,
    json: keeper('CaseKeeper', 'ForAnyValue:StringEquals'),
  });
  assert.equal(created.status, 200, created.text);
  assert.match(
    JSON.stringify(created.body.warnings),
    /does not hold for a key written in other letters: use StringEqualsIgnoreCase/,
  );
  const fixed = await ts.api('POST', '/api/v1/permission-sets', {
    token: ts.adminToken,
    json: keeper('CaseBlindKeeper', 'ForAnyValue:StringEqualsIgnoreCase'),
  });
  assert.equal(fixed.status, 200, fixed.text);
  assert.deepEqual(fixed.body.warnings, []);
  const tokens: string[] = [];
  const holders: [string, string][] = [
    ['lee', 'CaseKeeper'],
    ['mo', 'CaseBlindKeeper'],
  ];
  for (const [username, set] of holders) {
    tokens.push((await ts.createUser(username)).token);
    const assigned = await ts.api('POST', '/api/v1/assignments', {
      token: ts.adminToken,
      json: { permissionSet: set, principalType: 'user', principalName: username },
    });
    assert.equal(assigned.status, 200, assigned.text);
  }
  const [lee, mo] = tokens as [string, string];
  await ts.createUser('nia');
  const add = (token: string) =>
    ts.api('PATCH', '/api/v1/users/nia/tags', { token, json: { add: { app_group_name: 'payments' } } });
  assertError(await add(mo), 403, 'FORBIDDEN', /sesame:TagUser/);
  assert.deepEqual(await tagsOf('nia'), {});
  // As in IAM, the letter-for-letter Deny lets it through, and policies then read it as APP_GROUP_NAME.
  assert.equal((await add(lee)).status, 200);
  assert.deepEqual(await tagsOf('nia'), { app_group_name: 'payments' });
});

test('a change of tags that races another is judged again on what won: nothing is lost or dropped unjudged', async () => {
  const store = ts.server.store;
  const write = store.setUserTags.bind(store);
  let meanwhile: (() => Promise<unknown>) | undefined;
  let races = 0;
  // Another writer gets in between a change's read and its write, as a concurrent request can.
  store.setUserTags = async (id, tags, expected) => {
    if (meanwhile && expected) {
      races++;
      await meanwhile();
    }
    return write(id, tags, expected);
  };
  const patch = (token: string, json: unknown) => ts.api('PATCH', '/api/v1/users/ola/tags', { token, json });
  try {
    await ts.createUser('ola');
    const adminAdds = (tags: Record<string, string>) => async () => {
      const saved = meanwhile;
      meanwhile = undefined;
      assert.equal((await patch(ts.adminToken, { add: tags })).status, 200);
      meanwhile = saved;
    };
    // erin replaces the tags while the administrator adds an ABAC key: judged again, the PUT would drop it.
    meanwhile = adminAdds({ APP_GROUP_NAME: 'payments' });
    const replaced = await put('ola', erin, { team: 'web' });
    meanwhile = undefined;
    assertError(replaced, 403, 'FORBIDDEN', /sesame:UntagUser/);
    assert.deepEqual(await tagsOf('ola'), { APP_GROUP_NAME: 'payments' });
    // Two additions at once: both are kept.
    meanwhile = adminAdds({ floor: '3' });
    const added = await patch(erin, { add: { desk: '7' } });
    meanwhile = undefined;
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(await tagsOf('ola'), { APP_GROUP_NAME: 'payments', floor: '3', desk: '7' });
    // A change that loses every time gives up after a few tries and says so.
    let n = 0;
    races = 0;
    meanwhile = async () => adminAdds({ floor: String(++n) })();
    const lost = await patch(erin, { add: { desk: '8' } });
    meanwhile = undefined;
    assertError(lost, 409, 'CONFLICT', /changed by someone else 3 times .*try again/);
    assert.equal(races, 3);
    assert.equal(((await tagsOf('ola')) as Record<string, string>).desk, '7');
  } finally {
    store.setUserTags = write;
  }
});

test('a change is judged on the very tags it then compares: a lock added just after they were read is not dodged', async () => {
  const mallory = (await ts.createUser('mallory')).token;
  await ts.grant('mallory', 'TagButLocked', [
    { Effect: 'Allow', Action: ['sesame:TagUser', 'sesame:GetUser'], Resource: '*' },
    {
      Effect: 'Deny',
      Action: 'sesame:TagUser',
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/locked': 'yes' } },
    },
  ]);
  await ts.createUser('pia');
  const store = ts.server.store;
  const read = store.getUserTags.bind(store);
  let meanwhile: (() => Promise<void>) | undefined;
  // The administrator locks the account right after mallory's change read its tags.
  store.getUserTags = async (id) => {
    const tags = await read(id);
    const other = meanwhile;
    meanwhile = undefined;
    await other?.();
    return tags;
  };
  try {
    meanwhile = async () => {
      const locked = await ts.api('PATCH', '/api/v1/users/pia/tags', {
        token: ts.adminToken,
        json: { add: { locked: 'yes' } },
      });
      assert.equal(locked.status, 200, locked.text);
    };
    const change = await ts.api('PATCH', '/api/v1/users/pia/tags', {
      token: mallory,
      json: { add: { team: 'ops' } },
    });
    assert.equal(meanwhile, undefined, 'the lock went in between');
    assertError(change, 403, 'FORBIDDEN', /sesame:TagUser/);
  } finally {
    store.getUserTags = read;
  }
  assert.deepEqual(await tagsOf('pia'), { locked: 'yes' });
});
