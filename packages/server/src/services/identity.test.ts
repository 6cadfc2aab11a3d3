import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { hashToken } from '../crypto.ts';
import type { MailMessage } from '../sign-in/mailer.ts';
import { type SmtpSink, startSmtpSink } from '../sign-in/smtp-sink.test-support.ts';
import { totpAt } from '../sign-in/totp.ts';
import type { User } from '../store/index.ts';
import { newUser, session } from '../store/store-test-fixtures.ts';
import {
  ADMIN_PASSWORD,
  type ApiResponse,
  assertError,
  startTestServer,
  type TestServer,
} from '../test-server.ts';
import { createIdentityService } from './identity.ts';
import { ADMIN, ALICE, rejects, serviceFixture } from './service-fixture.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const EXPIRED = /your sign-in has expired or was revoked: run `sesame login` again/;
const WRONG_PASSWORD = /^wrong user name or password$/;
const FAST = { scryptLog2N: 10, maxAddressFailures: 100_000 };

describe('identity service (fake clock)', () => {
  let f: Awaited<ReturnType<typeof serviceFixture>>;
  let identity: ReturnType<typeof createIdentityService>;
  const mail: MailMessage[] = [];

  beforeEach(async () => {
    f = await serviceFixture();
    mail.length = 0;
    identity = createIdentityService({
      store: f.store,
      guard: f.guard,
      audit: f.audit,
      log: f.log,
      arn: f.arn,
      setupTokenTtlMs: 48 * HOUR,
      publicUrl: () => 'https://sesame.example.com',
      mailer: { send: async (message) => void mail.push(message) },
      unlock: async () => {},
      makeAdministrator: async () => {},
      now: f.now,
    });
  });
  afterEach(() => f.store.close());

  test('bootstrap creates one administrator; once it has a password, later starts issue nothing', async () => {
    const first = await identity.bootstrap();
    assert.equal(first.username, 'admin');
    assert.match(first.setupToken ?? '', /^sst_/);
    const again = await identity.bootstrap();
    assert.match(again.setupToken ?? '', /^sst_/, 'a restart before setup gives a fresh link');
    assert.notEqual(again.setupToken, first.setupToken);
    assert.equal(
      await f.store.consumeSetupToken(hashToken(first.setupToken as string), f.now()),
      undefined,
      'the earlier link must stop working when a new one is issued',
    );
    assert.deepEqual(
      (await f.store.listUsers()).map((u) => `${u.username} admin=${u.isAdmin}`),
      ['admin admin=true'],
    );
    const admin = await f.store.getUserByUsername('admin');
    await f.store.setPasswordHash(admin?.id as string, 'scrypt$set-by-the-test');
    assert.deepEqual(await identity.bootstrap(), { username: 'admin', setupToken: undefined });
    assert.equal((await f.store.listUsers()).length, 1);
  });

  test('bootstrap brings back no admin and prints no link once the directory has moved on', async () => {
    await identity.bootstrap();
    const admin = (await f.store.getUserByUsername('admin')) as User;
    // An administrator invited (no password yet) beside the first one: a restart must not replace their link.
    await identity.createUser(ADMIN, { username: 'aaron', isAdmin: true });
    assert.equal((await identity.bootstrap()).setupToken, undefined);
    // The first administrator disabled, then deleted, by the others: no new "admin", no crash.
    await f.store.setPasswordHash(admin.id, 'scrypt$set-by-the-test');
    await f.store.setUserDisabled(admin.id, true);
    assert.equal((await identity.bootstrap()).setupToken, undefined);
    await f.store.deleteUser(admin.id);
    assert.equal((await identity.bootstrap()).setupToken, undefined);
    assert.deepEqual(
      (await f.store.listUsers()).map((u) => u.username),
      ['aaron'],
    );
  });

  test('a setup link lasts setupTokenTtlMs and works once', async () => {
    const created = await identity.createUser(ADMIN, { username: 'alice' });
    assert.equal(created.setupExpiresAt, f.now() + 48 * HOUR);
    assert.equal(created.setupUrl, `https://sesame.example.com/setup#token=${created.setupToken}`);
    const late = await identity.createUser(ADMIN, { username: 'bob' });
    f.advance(48 * HOUR - 1);
    const hash = hashToken(created.setupToken);
    assert.equal(await f.store.consumeSetupToken(hash, f.now()), created.user.id);
    assert.equal(await f.store.consumeSetupToken(hash, f.now()), undefined, 'a setup link works once');
    f.advance(1);
    assert.equal(
      await f.store.consumeSetupToken(hashToken(late.setupToken), f.now()),
      undefined,
      'a setup link must not work at its expiry time',
    );
  });

  test('forgot password mails at most once a minute per user, with the same answer every time', async () => {
    await identity.createUser(ADMIN, { username: 'fay', email: 'fay@example.com' });
    const answers = [];
    answers.push(await identity.forgotPassword({ username: 'fay' }, '192.0.2.1'));
    await identity.settled();
    f.advance(59_999);
    answers.push(await identity.forgotPassword({ username: 'fay@example.com' }, '192.0.2.1'));
    await identity.settled();
    assert.equal(mail.length, 1, 'a second request within a minute must not send another mail');
    f.advance(1);
    answers.push(await identity.forgotPassword({ username: 'fay' }, '192.0.2.1'));
    await identity.settled();
    assert.equal(mail.length, 2, 'a minute later a new mail goes out');
    assert.equal(new Set(answers.map((a) => a.message)).size, 1);
    assert.deepEqual(
      mail.map((m) => `${m.to} ${m.subject}`),
      ['fay@example.com Reset your Sesame password', 'fay@example.com Reset your Sesame password'],
    );
    const first = /#token=(sst_[A-Za-z0-9_-]+)/.exec(mail[0]?.text ?? '')?.[1] as string;
    assert.notEqual(
      await f.store.consumeSetupToken(hashToken(first), f.now()),
      undefined,
      'anyone may ask for a reset of any name, so it must not cancel earlier links (an invitation)',
    );
  });

  test('a plain user may not administer users: FORBIDDEN naming the action and the user', async () => {
    await identity.createUser(ADMIN, { username: 'bob' });
    const user = /arn:aws:sesame:local:000000000000:user\/bob/;
    await rejects(identity.createUser(ALICE, { username: 'eve' }), 'FORBIDDEN', /sesame:CreateUser/);
    await rejects(identity.resetSetup(ALICE, 'bob'), 'FORBIDDEN', /sesame:ResetUserPassword on .*user\/bob/);
    await rejects(identity.setDisabled(ALICE, 'bob', true), 'FORBIDDEN', /sesame:DisableUser/);
    await rejects(identity.setDisabled(ALICE, 'bob', false), 'FORBIDDEN', /sesame:EnableUser/);
    await rejects(identity.unlock(ALICE, 'bob'), 'FORBIDDEN', /sesame:UnlockUser/);
    await rejects(identity.deleteUser(ALICE, 'bob'), 'FORBIDDEN', user);
    await rejects(identity.resetMfa(ALICE, 'bob'), 'FORBIDDEN', /sesame:ResetMfaDevices/);
    assert.equal(mail.length, 0);
    assert.equal((await f.store.getUserByUsername('bob'))?.disabled, false);
  });
});

/** A user created through the API and signed up (password + authenticator app); the test server's helper adds no email. */
async function signedUp(ts: TestServer, username: string, email?: string) {
  const created = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username, email } });
  assert.equal(created.status, 200, created.text);
  const done = await ts.finish(
    username,
    await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: created.body.setupToken, password: ADMIN_PASSWORD },
    }),
  );
  assert.equal(done.body.status, 'signed-in', done.text);
  return { token: String(done.body.token), secret: ts.totpSecrets.get(username) as string };
}

/** Signs in once more without waiting for a new 30 s step: the code of the next step is still in the window. */
async function signInAgain(ts: TestServer, username: string, secret: string): Promise<string> {
  const first = await ts.api('POST', '/api/v1/auth/login', { json: { username, password: ADMIN_PASSWORD } });
  assert.equal(first.body.status, 'mfa-required', first.text);
  const done = await ts.api('POST', '/api/v1/auth/mfa', {
    json: { flow: first.body.flow, method: 'totp', code: totpAt(secret, Date.now() / 1000 + 30) },
  });
  assert.equal(done.status, 200, done.text);
  return String(done.body.token);
}

const login = (ts: TestServer, username: string, password = ADMIN_PASSWORD) =>
  ts.api('POST', '/api/v1/auth/login', { json: { username, password } });
const me = (ts: TestServer, token: string) => ts.api('GET', '/api/v1/me', { token });

describe('identity over HTTP: no mail server', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ file: { signIn: FAST } });
  });
  after(() => ts.close());

  test('forgot password says that this server sends no email, the same for every name, and audits the request', async () => {
    for (const username of ['admin', 'nobody']) {
      const answer = await ts.api('POST', '/api/v1/auth/forgot', { json: { username } });
      assert.equal(answer.status, 202, answer.text);
      assert.match(
        String(answer.body.message),
        /^This Sesame server does not send email, so it cannot mail a reset link/,
      );
    }
    const events = (await ts.server.store.listAudit({ limit: 1000 })).filter(
      (e) => e.action === 'sesame:ForgotPassword',
    );
    assert.deepEqual(
      events.map((e) => [e.actor, e.outcome, e.detail.reason]),
      [
        ['anonymous', 'failed', 'this server sends no email'],
        ['anonymous', 'failed', 'this server sends no email'],
      ],
    );
  });

  test('bad user names, bad email addresses and non-boolean flags are refused with the rule; nothing is created', async () => {
    const create = (json: Record<string, unknown>) =>
      ts.api('POST', '/api/v1/users', { token: ts.adminToken, json });
    for (const username of ['', 'Bob', '-bob', 'bob smith', 'bob/evil', 'x'.repeat(65), 42, null]) {
      assertError(
        await create({ username }),
        400,
        'INVALID',
        /username must be 1-64 characters: lower-case letters, digits, "\.", "_" or "-", starting with a letter or digit/,
      );
    }
    for (const email of [
      'not-an-email',
      'bob@localhost',
      'bob smith@example.com',
      '<bob@example.com>',
      42,
      ['b@example.com'],
    ]) {
      assertError(
        await create({ username: 'bob', email }),
        400,
        'INVALID',
        /email must be an email address like alice@example.com/,
      );
    }
    assertError(
      await create({ username: 'bob', isAdmin: 'yes' }),
      400,
      'INVALID',
      /isAdmin must be true or false/,
    );
    assertError(
      await create({ username: 'bob', sendInvitation: 1 }),
      400,
      'INVALID',
      /sendInvitation must be true or false/,
    );
    assertError(
      await create({ username: 'bob', admin: true, emial: 'bob@example.com' }),
      400,
      'INVALID',
      /unknown fields "admin", "emial": this request takes "username", "isAdmin", "email", "sendInvitation"/,
    );
    const users = await ts.api('GET', '/api/v1/users', { token: ts.adminToken });
    assert.deepEqual(
      (users.body.users as { username: string }[]).map((u) => u.username),
      ['admin'],
      'a refused request must not create a user',
    );
    assert.equal((await create({ username: 'bob', email: 'bob@example.com' })).status, 200);
    assertError(await create({ username: 'bob' }), 409, 'CONFLICT', /the username "bob" is already taken/);
    // Changing the address: leaving it out is an error, not a way to clear it (null is).
    const patch = (json: Record<string, unknown>) =>
      ts.api('PATCH', '/api/v1/users/bob', { token: ts.adminToken, json });
    assertError(await patch({}), 400, 'INVALID', /email is required \(null removes the address\)/);
    assertError(await patch({ mail: 'x@example.com' }), 400, 'INVALID', /unknown field "mail"/);
    const kept = await ts.api('GET', '/api/v1/users/bob', { token: ts.adminToken });
    assert.equal((kept.body.user as { email: string }).email, 'bob@example.com');
    const cleared = await patch({ email: null });
    assert.equal((cleared.body.user as { email: string | null }).email, null);
  });

  test('sendInvitation without a mail server, or without an address, is INVALID and creates no one', async () => {
    const withEmail = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'ivan', email: 'ivan@example.com', sendInvitation: true },
    });
    assertError(
      withEmail,
      400,
      'INVALID',
      /this server has no mail server configured \(smtp\): send the setup link yourself/,
    );
    const noEmail = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'ivan', sendInvitation: true },
    });
    assertError(noEmail, 400, 'INVALID', /sendInvitation needs an email address/);
    assertError(
      await ts.api('GET', '/api/v1/users/ivan', { token: ts.adminToken }),
      404,
      'NOT_FOUND',
      /no user named "ivan"/,
    );
  });

  test('a reset without a mail server still gives the link, says no email went out, and revokes sign-ins', async () => {
    const rita = await signedUp(ts, 'rita', 'rita@example.com');
    const reset = await ts.api('POST', '/api/v1/users/rita/reset', {
      token: ts.adminToken,
      json: { sendEmail: true },
    });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.body.emailSent, false);
    assert.equal(reset.body.setupUrl, `${ts.url}/reset#token=${reset.body.setupToken}`);
    assertError(await me(ts, rita.token), 401, 'UNAUTHENTICATED', EXPIRED);
  });

  test("an administrator's reset stops the old password and every remembered device at once", async () => {
    await signedUp(ts, 'rory');
    const roryId = (await ts.server.store.getUserByUsername('rory'))?.id as string;
    const t = Date.now();
    await ts.server.store.rememberSignInContext({
      userId: roryId,
      deviceHash: 'thief-laptop',
      sourceAddress: '127.0.0.1',
      mfaAt: t,
      expiresAt: t + 3_600_000,
    });
    // The intruder has begun a sign-in with the password; its second factor is still to come.
    const begun = await login(ts, 'rory');
    assert.equal(begun.body.status, 'mfa-required', begun.text);
    const reset = await ts.api('POST', '/api/v1/users/rory/reset', { token: ts.adminToken, json: {} });
    assert.equal(reset.status, 200, reset.text);
    const finished = await ts.api('POST', '/api/v1/auth/mfa', {
      json: {
        flow: begun.body.flow,
        method: 'totp',
        code: totpAt(ts.totpSecrets.get('rory') as string, Date.now() / 1000 + 30),
      },
    });
    assert.equal(finished.status, 401, `a sign-in begun before the reset does not finish: ${finished.text}`);
    // Before the link is used, the old password is as wrong as any other.
    assertError(await login(ts, 'rory'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assert.equal(await ts.server.store.getSignInContext(roryId, 'thief-laptop'), undefined);
  });

  test("a deleted user's name is not given to someone new while their sessions are kept, unless reused knowingly", async () => {
    const ned = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'ned' } });
    assert.equal(ned.status, 200, ned.text);
    const nedId = (ned.body.user as { id: string }).id;
    await ts.server.store.createSession(
      session({ id: 'ned-0123456789abcdef0', ownerId: nedId, owner: 'ned' }),
    );
    assert.equal((await ts.api('DELETE', '/api/v1/users/ned', { token: ts.adminToken })).status, 204);
    assertError(
      await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'ned' } }),
      409,
      'CONFLICT',
      /"ned" belonged to a deleted user whose sessions are kept .*--reuse-name/,
    );
    const back = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'ned', reuseName: true },
    });
    assert.equal(back.status, 200, back.text);
  });

  test("an identity provider's account is not given a Sesame password: its reset is refused", async () => {
    await ts.server.store.createUser(
      newUser({ id: 'u-ivy', username: 'ivy', source: 'corp', externalId: 'corp-ivy' }),
    );
    assertError(
      await ts.api('POST', '/api/v1/users/ivy/reset', { token: ts.adminToken, json: {} }),
      400,
      'INVALID',
      /ivy signs in through an identity provider \(corp\), which keeps their password: reset it there/,
    );
  });

  test('disabling revokes every sign-in and refuses the password exactly like a wrong one; enabling restores it', async () => {
    const dan = await signedUp(ts, 'dan');
    const second = await signInAgain(ts, 'dan', dan.secret);
    const wrong = assertError(
      await login(ts, 'dan', 'not the password'),
      401,
      'UNAUTHENTICATED',
      WRONG_PASSWORD,
    );
    const danId = (await ts.server.store.getUserByUsername('dan'))?.id as string;
    const t = Date.now();
    await ts.server.store.rememberSignInContext({
      userId: danId,
      deviceHash: 'dan-laptop',
      sourceAddress: '127.0.0.1',
      mfaAt: t,
      expiresAt: t + 3_600_000,
    });
    const disabled = await ts.api('POST', '/api/v1/users/dan/disable', { token: ts.adminToken });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal((disabled.body.user as { disabled: boolean }).disabled, true);
    assert.equal(
      await ts.server.store.getSignInContext(danId, 'dan-laptop'),
      undefined,
      'enabled again, every device is asked for MFA',
    );
    assertError(await me(ts, dan.token), 401, 'UNAUTHENTICATED', EXPIRED);
    assertError(await me(ts, second), 401, 'UNAUTHENTICATED', EXPIRED);
    const refused = assertError(await login(ts, 'dan'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assert.equal(refused, wrong, 'a disabled account must not be told apart from a wrong password');
    const enabled = await ts.api('POST', '/api/v1/users/dan/enable', { token: ts.adminToken });
    assert.equal(enabled.status, 200, enabled.text);
    assert.equal((enabled.body.user as { disabled: boolean }).disabled, false);
    const back = await login(ts, 'dan');
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.status, 'mfa-required');
    const actions = (await ts.server.store.listAudit({ actor: 'admin' })).map((e) => e.action);
    assert.ok(
      actions.includes('sesame:DisableUser') && actions.includes('sesame:EnableUser'),
      String(actions),
    );
  });

  test('an administrator cannot disable or delete themselves; unknown users are 404', async () => {
    assertError(
      await ts.api('POST', '/api/v1/users/admin/disable', { token: ts.adminToken }),
      400,
      'INVALID',
      /you cannot disable your own account/,
    );
    assertError(
      await ts.api('DELETE', '/api/v1/users/admin', { token: ts.adminToken }),
      400,
      'INVALID',
      /you cannot delete your own account/,
    );
    assertError(
      await ts.api('POST', '/api/v1/users/nobody/disable', { token: ts.adminToken }),
      404,
      'NOT_FOUND',
      /no user named "nobody"/,
    );
    assertError(
      await ts.api('DELETE', '/api/v1/users/nobody', { token: ts.adminToken }),
      404,
      'NOT_FOUND',
      /no user named "nobody"/,
    );
    assert.equal((await me(ts, ts.adminToken)).status, 200);
  });

  test('deleting a user ends their sign-ins; the name can be used again', async () => {
    const del = await signedUp(ts, 'del');
    const removed = await ts.api('DELETE', '/api/v1/users/del', { token: ts.adminToken });
    assert.equal(removed.status, 204, removed.text);
    assertError(
      await ts.api('GET', '/api/v1/users/del', { token: ts.adminToken }),
      404,
      'NOT_FOUND',
      /no user named "del"/,
    );
    assertError(await me(ts, del.token), 401, 'UNAUTHENTICATED', /expired or was revoked|no longer exists/);
    assertError(await login(ts, 'del'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    const again = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'del' } });
    assert.equal(again.status, 200, again.text);
  });

  test('an MFA reset removes the devices and sign-ins; the next sign-in asks to register one again', async () => {
    const mo = await signedUp(ts, 'mo');
    const listed = await ts.api('GET', '/api/v1/users/mo/mfa-devices', { token: ts.adminToken });
    assert.equal(listed.status, 200, listed.text);
    const devices = listed.body.devices as Record<string, unknown>[];
    assert.deepEqual(
      devices.map((d) => `${d.kind} ${d.name}`),
      ['totp test phone'],
    );
    assert.equal(devices[0]?.secret, undefined, 'an administrator must never see the TOTP secret');
    const reset = await ts.api('DELETE', '/api/v1/users/mo/mfa-devices', { token: ts.adminToken });
    assert.equal(reset.status, 200, reset.text);
    assert.deepEqual(reset.body, { removed: 1 });
    assertError(await me(ts, mo.token), 401, 'UNAUTHENTICATED', EXPIRED);
    const after = await ts.api('GET', '/api/v1/users/mo/mfa-devices', { token: ts.adminToken });
    assert.deepEqual(after.body.devices, []);
    const next = await login(ts, 'mo');
    assert.equal(next.status, 200, next.text);
    assert.equal(
      next.body.status,
      'enrol-required',
      'without a device the next sign-in must ask to register one',
    );
    assert.deepEqual(next.body.methods, ['totp', 'webauthn']);
  });

  test('a plain user gets 403 naming the sesame: action for every user administration', async () => {
    const pat = await signedUp(ts, 'pat');
    await signedUp(ts, 'target');
    const as = (method: string, path: string, json?: unknown) =>
      ts.api(method, path, { token: pat.token, ...(json === undefined ? {} : { json }) });
    const target = 'arn:aws:sesame:local:000000000000:user/target';
    const cases: [Promise<ApiResponse>, string][] = [
      [as('POST', '/api/v1/users', { username: 'eve', isAdmin: true }), 'sesame:CreateUser'],
      [as('GET', '/api/v1/users'), 'sesame:ListUsers'],
      [as('GET', '/api/v1/users/target'), `sesame:GetUser on ${target}`],
      [as('PATCH', '/api/v1/users/target', { email: 'eve@example.com' }), `sesame:UpdateUser on ${target}`],
      [as('POST', '/api/v1/users/target/reset', {}), `sesame:ResetUserPassword on ${target}`],
      [as('POST', '/api/v1/users/target/disable'), `sesame:DisableUser on ${target}`],
      [as('POST', '/api/v1/users/target/enable'), `sesame:EnableUser on ${target}`],
      [as('POST', '/api/v1/users/target/unlock'), `sesame:UnlockUser on ${target}`],
      [as('DELETE', '/api/v1/users/target'), `sesame:DeleteUser on ${target}`],
      [as('GET', '/api/v1/users/target/mfa-devices'), `sesame:ListMfaDevices on ${target}`],
      [as('DELETE', '/api/v1/users/target/mfa-devices'), `sesame:ResetMfaDevices on ${target}`],
    ];
    for (const [response, action] of cases) {
      const message = assertError(await response, 403, 'FORBIDDEN', /^you are not allowed to sesame:/);
      assert.ok(message.includes(action), `${message} should name ${action}`);
    }
    assert.equal((await me(ts, (await signedUp(ts, 'target2')).token)).status, 200);
    const still = await ts.api('GET', '/api/v1/users/target', { token: ts.adminToken });
    assert.equal((still.body.user as { disabled: boolean }).disabled, false, 'nothing was changed');
    assert.equal((still.body.user as { email: string | null }).email, null);
  });

  test('a policy may let a helpdesk user reset passwords and unlock, and nothing more', async () => {
    const created = await ts.api('POST', '/api/v1/permission-sets', {
      token: ts.adminToken,
      json: {
        name: 'HelpDesk',
        inlinePolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['sesame:ResetUserPassword', 'sesame:UnlockUser'],
              Resource: 'arn:aws:sesame:*:*:user/*',
            },
          ],
        },
      },
    });
    assert.equal(created.status, 200, created.text);
    const helper = await signedUp(ts, 'helper');
    const assigned = await ts.api('POST', '/api/v1/assignments', {
      token: ts.adminToken,
      json: { permissionSet: 'HelpDesk', principalType: 'user', principalName: 'helper' },
    });
    assert.equal(assigned.status, 200, assigned.text);
    await signedUp(ts, 'forgetful');
    const reset = await ts.api('POST', '/api/v1/users/forgetful/reset', { token: helper.token, json: {} });
    assert.equal(reset.status, 200, reset.text);
    assert.match(String(reset.body.setupToken), /^sst_/);
    const unlock = await ts.api('POST', '/api/v1/users/forgetful/unlock', { token: helper.token });
    assert.equal(unlock.status, 204, unlock.text);
    assertError(
      await ts.api('POST', '/api/v1/users/forgetful/disable', { token: helper.token }),
      403,
      'FORBIDDEN',
      /sesame:DisableUser/,
    );
  });
});

describe('identity over HTTP: with a mail server', () => {
  let sink: SmtpSink;
  let ts: TestServer;
  before(async () => {
    sink = await startSmtpSink({ refuse: (recipient) => recipient.startsWith('bounce') });
    ts = await startTestServer({
      file: {
        smtp: { host: '127.0.0.1', port: sink.port, from: 'sesame@example.com' },
        signIn: { ...FAST, maxAccountFailures: 3 },
      },
    });
  });
  after(async () => {
    await ts.close();
    await sink.close();
  });
  const to = (address: string) => sink.messages.filter((m) => m.to.includes(address));

  test('an invitation is mailed with a /setup#token= link that works', async () => {
    const created = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'ivy', email: 'ivy@example.com', sendInvitation: true },
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.invitationSent, true);
    assert.equal(created.body.setupUrl, `${ts.url}/setup#token=${created.body.setupToken}`);
    const message = await sink.waitForMessage((m) => m.to.includes('ivy@example.com'));
    assert.equal(message.from, 'sesame@example.com');
    assert.equal(message.subject, 'You are invited to Sesame');
    const link = new RegExp(`${ts.url.replaceAll('.', '\\.')}/setup#token=(sst_[A-Za-z0-9_-]+)`).exec(
      message.text,
    );
    assert.ok(link, `no setup link in the invitation:\n${message.text}`);
    assert.equal(link[1], created.body.setupToken);
    const setup = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: link[1], password: ADMIN_PASSWORD },
    });
    assert.equal(setup.status, 200, setup.text);
    assert.equal(setup.body.status, 'enrol-required');
    const [event] = (await ts.server.store.listAudit({ actor: 'admin' })).filter(
      (e) => e.action === 'sesame:CreateUser' && e.resource.endsWith('user/ivy'),
    );
    assert.equal(event?.detail.invitationSent, true);
  });

  test('a reset whose email fails still gives the new link, says no email went out, and is audited', async () => {
    await signedUp(ts, 'uma', 'bounce-uma@example.com');
    const reset = await ts.api('POST', '/api/v1/users/uma/reset', {
      token: ts.adminToken,
      json: { sendEmail: true },
    });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.body.emailSent, false);
    assert.match(String(reset.body.setupUrl), /\/reset#token=/);
    const used = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: reset.body.setupToken, password: 'a brand new passphrase' },
    });
    assert.equal(used.status, 200, used.text);
    const [event] = (await ts.server.store.listAudit({ actor: 'admin' })).filter(
      (e) => e.action === 'sesame:ResetUserPassword' && e.resource.endsWith('user/uma'),
    );
    assert.equal(event?.detail.emailSent, false);
  });

  test('a reset revokes sign-ins and mails a /reset# link when asked; only the newest link works', async () => {
    const rose = await signedUp(ts, 'rose', 'rose@example.com');
    const mailed = await ts.api('POST', '/api/v1/users/rose/reset', {
      token: ts.adminToken,
      json: { sendEmail: true },
    });
    assert.equal(mailed.status, 200, mailed.text);
    assert.equal(mailed.body.emailSent, true);
    assertError(await me(ts, rose.token), 401, 'UNAUTHENTICATED', EXPIRED);
    const message = await sink.waitForMessage((m) => m.to.includes('rose@example.com'));
    assert.equal(message.subject, 'Reset your Sesame password');
    assert.ok(
      message.text.includes(`${ts.url}/reset#token=${mailed.body.setupToken}`),
      `no reset link in:\n${message.text}`,
    );
    const quiet = await ts.api('POST', '/api/v1/users/rose/reset', { token: ts.adminToken, json: {} });
    assert.equal(quiet.body.emailSent, false, 'no email unless asked');
    assert.equal(to('rose@example.com').length, 1);
    const stale = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: mailed.body.setupToken, password: 'a brand new passphrase' },
    });
    assertError(stale, 401, 'UNAUTHENTICATED', /this setup link is not valid/);
    const used = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: quiet.body.setupToken, password: 'a brand new passphrase' },
    });
    assert.equal(used.status, 200, used.text);
    assert.equal(used.body.status, 'mfa-required', 'the device survives a password reset');
    // The new password is set once the second factor passed (the old one stopped at the reset).
    assertError(await login(ts, 'rose', 'a brand new passphrase'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assert.equal((await ts.finish('rose', used)).body.status, 'signed-in');
    assertError(await login(ts, 'rose'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assert.equal((await login(ts, 'rose', 'a brand new passphrase')).body.status, 'mfa-required');
  });

  test('unlock clears a lockout', async () => {
    await signedUp(ts, 'lou');
    for (let i = 0; i < 3; i++)
      assertError(await login(ts, 'lou', 'wrong password!'), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assertError(
      await login(ts, 'lou'),
      429,
      'RATE_LIMITED',
      /too many failed sign-in attempts: try again in 15 minutes/,
    );
    const unlocked = await ts.api('POST', '/api/v1/users/lou/unlock', { token: ts.adminToken });
    assert.equal(unlocked.status, 204, unlocked.text);
    const back = await login(ts, 'lou');
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.status, 'mfa-required');
  });

  test('forgot password: the same 202 answer for everyone; only an existing, enabled user with an address gets mail', async () => {
    await signedUp(ts, 'fay', 'fay@example.com');
    await signedUp(ts, 'nomail');
    await signedUp(ts, 'gone', 'gone@example.com');
    assert.equal((await ts.api('POST', '/api/v1/users/gone/disable', { token: ts.adminToken })).status, 200);
    const before = sink.messages.length;
    const answers: ApiResponse[] = [];
    for (const json of [
      { username: 'fay' },
      { username: 'nobody' },
      { username: 'nomail' },
      { username: 'gone' },
      { username: 'nobody@example.com' },
      {},
    ]) {
      answers.push(await ts.api('POST', '/api/v1/auth/forgot', { json }));
      await ts.server.identity.settled();
    }
    for (const answer of answers) {
      assert.equal(answer.status, 202, answer.text);
      assert.deepEqual(answer.body, {
        message: 'If that account exists and has an email address, a reset link is on its way.',
      });
    }
    const sent = sink.messages.slice(before);
    assert.deepEqual(
      sent.map((m) => m.to.join()),
      ['fay@example.com'],
      'only fay has an account, an address and is enabled',
    );
    const link = /\/reset#token=(sst_[A-Za-z0-9_-]+)/.exec(sent[0]?.text ?? '');
    assert.ok(link, 'the mail has a reset link');
    // Asked for by anyone, a link that works for an hour, not the week an administrator's invitation does.
    assert.match(sent[0]?.text ?? '', /the link works once, for 60 minutes/);
    const setup = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: link[1], password: 'fay resets her password' },
    });
    assert.equal(setup.status, 200, setup.text);
    const events = (await ts.server.store.listAudit({})).filter((e) => e.action === 'sesame:ForgotPassword');
    assert.deepEqual(
      events.map((e) => `${e.actor} ${e.outcome}`),
      [
        'fay succeeded',
        'anonymous failed',
        'nomail failed',
        'gone failed',
        'anonymous failed',
        'anonymous failed',
      ],
    );
  });

  test('forgot password by email address, in either field API.md allows', async () => {
    await signedUp(ts, 'eli', 'eli@example.com');
    await signedUp(ts, 'ela', 'ela@example.com');
    const byName = await ts.api('POST', '/api/v1/auth/forgot', { json: { username: 'eli@example.com' } });
    await ts.server.identity.settled();
    assert.equal(byName.status, 202, byName.text);
    assert.equal(to('eli@example.com').length, 1, 'an address in the username field finds the user');
    // API.md: `POST /api/v1/auth/forgot` takes `{ username }` (or `{ email }`).
    const byEmail = await ts.api('POST', '/api/v1/auth/forgot', { json: { email: 'ela@example.com' } });
    await ts.server.identity.settled();
    assert.equal(byEmail.status, 202, byEmail.text);
    assert.equal(
      to('ela@example.com').length,
      1,
      '{ email } must mail the reset link like { username } does',
    );
  });
});
