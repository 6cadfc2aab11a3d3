import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashToken } from '../crypto.ts';
import type { SessionRecord } from '../store/index.ts';
import { ADMIN_PASSWORD, assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let alice: { id: string; token: string };
let bob: { id: string; token: string };
before(async () => {
  ts = await startTestServer();
  alice = await ts.createUser('alice');
  bob = await ts.createUser('bob');
});
after(() => ts.close());

const login = (username: unknown, password: unknown) =>
  ts.api('POST', '/api/v1/auth/login', { json: { username, password } });

describe('HTTP API: setup tokens and passwords', () => {
  test('a setup token works once', async () => {
    const created = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'dave' },
    });
    const token = String(created.body.setupToken);
    const first = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token, password: 'dave the passphrase' },
    });
    assert.equal(first.status, 200, first.text);
    const second = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token, password: 'mallory was here!' },
    });
    assertError(second, 401, 'UNAUTHENTICATED', /used already.*Ask an administrator/);
    assert.equal((await login('dave', 'dave the passphrase')).status, 200);
    assertError(await login('dave', 'mallory was here!'), 401, 'UNAUTHENTICATED', /wrong/);
  });

  test('an expired setup token is refused', async () => {
    const created = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'erin' },
    });
    const user = created.body.user as { id: string };
    const token = 'sst_expired-for-the-test';
    await ts.server.store.createSetupToken({
      tokenHash: hashToken(token),
      userId: user.id,
      expiresAt: Date.now() - 1,
    });
    const response = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token, password: 'erin the passphrase' },
    });
    assertError(response, 401, 'UNAUTHENTICATED', /expired/);
  });

  test('a password shorter than 12 characters is refused; the token stays usable', async () => {
    const created = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'frank' },
    });
    const token = String(created.body.setupToken);
    const short = await ts.api('POST', '/api/v1/auth/setup', { json: { token, password: '11 chars!!!' } });
    assertError(short, 400, 'INVALID', /password must be 12/);
    const missing = await ts.api('POST', '/api/v1/auth/setup', { json: { token } });
    assertError(missing, 400, 'INVALID', /password must be 12/);
    for (const password of [' '.repeat(12), '  hunt  \t  \n    '])
      assertError(
        await ts.api('POST', '/api/v1/auth/setup', { json: { token, password } }),
        400,
        'INVALID',
        /^password must have at least 6 characters that are not spaces$/,
      );
    const good = await ts.api('POST', '/api/v1/auth/setup', { json: { token, password: '12 chars!!!!' } });
    assert.equal(good.status, 200, good.text);
  });

  test('a wrong password and an unknown user get the same answer', async () => {
    const wrong = assertError(await login('admin', 'not the password'), 401, 'UNAUTHENTICATED', /wrong/);
    const unknown = assertError(await login('nobody', ADMIN_PASSWORD), 401, 'UNAUTHENTICATED', /wrong/);
    const noPassword = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'gina' },
    });
    assert.equal(noPassword.status, 200);
    const unset = assertError(await login('gina', ''), 401, 'UNAUTHENTICATED', /wrong/);
    const typed = assertError(await login(42, ['x']), 401, 'UNAUTHENTICATED', /wrong/);
    assert.equal(new Set([wrong, unknown, unset, typed]).size, 1);
    const good = await login('admin', ADMIN_PASSWORD);
    assert.equal(good.status, 200);
    assert.equal(good.body.status, 'mfa-required', 'the password alone signs no one in');
    assert.equal(good.body.token, undefined);
    const signedIn = await ts.finish('admin', good);
    assert.match(String(signedIn.body.token), /^ses_/);
  });
});

describe('HTTP API: what a non-administrator may not do', () => {
  test('create, list or reset users: 403 naming the action', async () => {
    const create = await ts.api('POST', '/api/v1/users', {
      token: alice.token,
      json: { username: 'eve', isAdmin: true },
    });
    assertError(create, 403, 'FORBIDDEN', /sesame:CreateUser/);
    assertError(await ts.api('GET', '/api/v1/users', { token: alice.token }), 403, 'FORBIDDEN', /ListUsers/);
    const reset = await ts.api('POST', '/api/v1/users/admin/reset', { token: alice.token });
    assertError(reset, 403, 'FORBIDDEN', /ResetUserPassword/);
    assert.equal((await login('eve', '')).status, 401);
  });

  test('create, list or delete activations: 403', async () => {
    const created = await ts.api('POST', '/api/v1/activations', { token: ts.adminToken, json: {} });
    const id = (created.body.activation as { id: string }).id;
    const create = await ts.api('POST', '/api/v1/activations', { token: alice.token, json: {} });
    assertError(create, 403, 'FORBIDDEN', /CreateActivation/);
    assertError(
      await ts.api('GET', '/api/v1/activations', { token: alice.token }),
      403,
      'FORBIDDEN',
      /Describe/,
    );
    const remove = await ts.api('DELETE', `/api/v1/activations/${id}`, { token: alice.token });
    assertError(remove, 403, 'FORBIDDEN', /DeleteActivation/);
    assert.equal((await ts.api('DELETE', `/api/v1/activations/${id}`, { token: ts.adminToken })).status, 204);
  });
});

describe("HTTP API: a user's sessions are theirs", () => {
  const session = (owner: { id: string }, name: string, hex: string): SessionRecord => ({
    id: `${name}-${hex}`,
    ownerId: owner.id,
    owner: name,
    instanceId: 'mi-0123456789abcdef0',
    document: 'SSM-SessionManagerRunShell',
    state: 'Connected',
    reason: null,
    startedAt: Date.now(),
    endedAt: null,
    exitCode: null,
    recordingKey: null,
    clientAddress: null,
  });
  let aliceSession: SessionRecord;
  let bobSession: SessionRecord;
  before(async () => {
    aliceSession = session(alice, 'alice', '0123456789abcdef0');
    bobSession = session(bob, 'bob', 'fedcba98765432100');
    await ts.server.store.createSession(aliceSession);
    await ts.server.store.createSession(bobSession);
  });

  test("reading or terminating someone else's session: 403, and the session is untouched", async () => {
    const read = await ts.api('GET', `/api/v1/sessions/${bobSession.id}`, { token: alice.token });
    assertError(read, 403, 'FORBIDDEN', /DescribeSessions/);
    const end = await ts.api('POST', `/api/v1/sessions/${bobSession.id}/terminate`, { token: alice.token });
    assertError(end, 403, 'FORBIDDEN', /TerminateSession/);
    const recording = await ts.api('GET', `/api/v1/sessions/${bobSession.id}/recording`, {
      token: alice.token,
    });
    assertError(recording, 403, 'FORBIDDEN', /DescribeSessions/);
    assert.equal((await ts.server.store.getSession(bobSession.id))?.state, 'Connected');
  });

  test('listing shows only their own sessions', async () => {
    const listed = await ts.api('GET', '/api/v1/sessions', { token: alice.token });
    assert.deepEqual(
      (listed.body.sessions as SessionRecord[]).map((s) => s.id),
      [aliceSession.id],
    );
    const all = await ts.api('GET', '/api/v1/sessions', { token: ts.adminToken });
    assert.equal((all.body.sessions as SessionRecord[]).length, 2);
  });

  test('their own session they may read and terminate; the other one stays', async () => {
    const read = await ts.api('GET', `/api/v1/sessions/${aliceSession.id}`, { token: alice.token });
    assert.equal(read.status, 200, read.text);
    const end = await ts.api('POST', `/api/v1/sessions/${aliceSession.id}/terminate`, { token: alice.token });
    assert.equal(end.status, 200, end.text);
    assert.equal((end.body.session as SessionRecord).state, 'Terminated');
    assert.equal((await ts.server.store.getSession(bobSession.id))?.state, 'Connected');
  });

  test('the denials are in the audit trail', async () => {
    const denied = (await ts.server.store.listAudit({ actor: 'alice' })).filter(
      (e) => e.outcome === 'denied',
    );
    assert.ok(denied.some((e) => e.action === 'ssm:TerminateSession' && e.resource.endsWith(bobSession.id)));
  });
});
