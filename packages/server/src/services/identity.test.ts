import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createIdentityService } from './identity.ts';
import { ADMIN, ALICE, rejects, serviceFixture } from './service-fixture.ts';

const MINUTE = 60_000;
const PASSWORD = 'a long enough passphrase';
type Fixture = Awaited<ReturnType<typeof serviceFixture>>;

let f: Fixture;
let identity: ReturnType<typeof createIdentityService>;

beforeEach(async () => {
  f = await serviceFixture();
  identity = createIdentityService({
    store: f.store,
    guard: f.guard,
    audit: f.audit,
    log: f.log,
    arn: f.arn,
    tokenTtlMs: 60 * MINUTE,
    setupTokenTtlMs: 10 * MINUTE,
    makeAdministrator: async () => {},
    now: f.now,
  });
});
afterEach(() => f.store.close());

async function signedUpAdmin() {
  const { setupToken } = await identity.bootstrap();
  assert.ok(setupToken);
  return identity.completeSetup({ token: setupToken, password: PASSWORD }, null);
}

describe('identity: setup tokens', () => {
  test('the first start issues a setup token; a later start does not', async () => {
    const { username, setupToken } = await identity.bootstrap();
    assert.equal(username, 'admin');
    assert.match(setupToken ?? '', /^sst_/);
    await identity.completeSetup({ token: setupToken, password: PASSWORD }, null);
    assert.equal((await identity.bootstrap()).setupToken, undefined);
  });

  test('a setup token works once', async () => {
    const { setupToken } = await identity.bootstrap();
    const first = await identity.completeSetup({ token: setupToken, password: PASSWORD }, '192.0.2.1');
    assert.match(first.token, /^ses_/);
    await rejects(
      identity.completeSetup({ token: setupToken, password: 'another long passphrase' }, null),
      'UNAUTHENTICATED',
      /used already.*Ask an administrator for a new one/,
    );
    await identity.login({ username: 'admin', password: PASSWORD }, null); // the first password stands
  });

  test('a setup token expires', async () => {
    const { setupToken } = await identity.bootstrap();
    f.advance(10 * MINUTE);
    await rejects(
      identity.completeSetup({ token: setupToken, password: PASSWORD }, null),
      'UNAUTHENTICATED',
      /expired/,
    );
  });

  test('a short password is refused without using up the token', async () => {
    const { setupToken } = await identity.bootstrap();
    await rejects(
      identity.completeSetup({ token: setupToken, password: 'elevenchars' }, null),
      'INVALID',
      /12 to 1024 characters/,
    );
    await identity.completeSetup({ token: setupToken, password: 'twelve chars' }, null);
  });

  test('a reset revokes the sign-ins and the previous setup token', async () => {
    const admin = await signedUpAdmin();
    const user = await identity.createUser(ADMIN, { username: 'alice' });
    const alice = await identity.completeSetup({ token: user.setupToken, password: PASSWORD }, null);
    const reset = await identity.resetSetup(ADMIN, 'alice');
    await rejects(identity.authenticate(alice.token, null), 'UNAUTHENTICATED', /run `sesame login` again/);
    await identity.completeSetup({ token: reset.setupToken, password: 'the new passphrase' }, null);
    assert.equal((await identity.authenticate(admin.token, null)).username, 'admin');
  });
});

describe('identity: sign-in', () => {
  test('a wrong password and an unknown user get the same answer, audited without the password', async () => {
    await signedUpAdmin();
    const wrong = await rejects(
      identity.login({ username: 'admin', password: 'not the password!' }, null),
      'UNAUTHENTICATED',
      /wrong user name or password/,
    );
    const unknown = await rejects(
      identity.login({ username: 'mallory', password: PASSWORD }, null),
      'UNAUTHENTICATED',
      /wrong/,
    );
    const empty = await rejects(identity.login({}, null), 'UNAUTHENTICATED', /wrong/);
    assert.equal(wrong, unknown);
    assert.equal(wrong, empty);
    const trail = await f.trail();
    assert.ok(
      !trail.includes('not the password!') && !trail.includes(PASSWORD),
      'a password is in the trail',
    );
    const failed = (await f.store.listAudit({})).filter((e) => e.action === 'sesame:SignIn');
    assert.deepEqual(
      failed.map((e) => `${e.actor} ${e.outcome}`),
      ['admin failed', 'mallory failed', 'anonymous failed'],
    );
  });

  test('a user who has not set a password cannot sign in with an empty one', async () => {
    await identity.bootstrap();
    await rejects(identity.login({ username: 'admin', password: '' }, null), 'UNAUTHENTICATED', /wrong/);
  });

  test('a bearer token works until it expires or is revoked', async () => {
    const { token } = await signedUpAdmin();
    assert.deepEqual(await identity.authenticate(token, '192.0.2.9'), {
      username: 'admin',
      userId: (await f.store.getUserByUsername('admin'))?.id,
      sourceAddress: '192.0.2.9',
    });
    await rejects(identity.authenticate(undefined, null), 'UNAUTHENTICATED', /sign in/);
    await rejects(identity.authenticate(`${token}x`, null), 'UNAUTHENTICATED', /sesame login/);
    f.advance(60 * MINUTE);
    await rejects(identity.authenticate(token, null), 'UNAUTHENTICATED', /expired/);
    const again = await identity.login({ username: 'admin', password: PASSWORD }, null);
    await identity.logout(again.token);
    await rejects(identity.authenticate(again.token, null), 'UNAUTHENTICATED', /revoked/);
  });

  test('tokens are stored only as hashes', async () => {
    const { token } = await signedUpAdmin();
    const user = await f.store.getUserByUsername('admin');
    assert.ok(user?.passwordHash?.startsWith('scrypt$'));
    assert.ok(!(user?.passwordHash ?? '').includes(PASSWORD));
    assert.ok(!(await f.trail()).includes(token));
  });
});

describe('identity: users', () => {
  test('only an administrator creates or lists users', async () => {
    await rejects(identity.createUser(ALICE, { username: 'bob' }), 'FORBIDDEN', /sesame:CreateUser/);
    await rejects(identity.listUsers(ALICE), 'FORBIDDEN', /sesame:ListUsers/);
    await rejects(identity.resetSetup(ALICE, 'admin'), 'FORBIDDEN', /sesame:ResetUserPassword/);
    const created = await identity.createUser(ADMIN, { username: 'bob', isAdmin: false });
    assert.equal(created.user.hasPassword, false);
    assert.deepEqual(
      (await identity.listUsers(ADMIN)).map((u) => u.username),
      ['bob'],
    );
  });

  test('bad user names are refused with the rule', async () => {
    for (const username of ['', 'Bob', '-bob', 'bob smith', 'x'.repeat(65), 42]) {
      await rejects(identity.createUser(ADMIN, { username }), 'INVALID', /lower-case letters/);
    }
    await rejects(identity.createUser(ADMIN, { username: 'bob', isAdmin: 'yes' }), 'INVALID', /isAdmin/);
  });
});
