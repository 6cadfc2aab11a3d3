import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashToken } from '../crypto.ts';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
/** Warnings the process printed while the server started (an operator sees them on every start). */
const warnings: string[] = [];
before(async () => {
  const collect = (w: Error & { code?: string }) => warnings.push(`${w.code ?? w.name}: ${w.message}`);
  process.on('warning', collect);
  ts = await startTestServer();
  process.off('warning', collect);
});
after(() => ts.close());

test('the server starts without a deprecation warning', () => {
  assert.deepEqual(
    warnings.filter((w) => /DEP/.test(w)),
    [],
  );
});

describe('HTTP API: sign-in required', () => {
  test('no token: 401 saying to sign in', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/instances'],
      ['GET', '/api/v1/me'],
      ['POST', '/api/v1/users'],
      ['GET', '/api/v1/activations'],
      ['POST', '/api/v1/sessions/admin-0123456789abcdef0/terminate'],
      ['GET', '/api/v1/connect'],
    ] as const) {
      assertError(await ts.api(method, path), 401, 'UNAUTHENTICATED', /sign in/);
    }
  });

  test('a token that is not ours, or a header that is not a bearer token: 401', async () => {
    const forged = await ts.api('GET', '/api/v1/me', {
      token: 'ses_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    assertError(forged, 401, 'UNAUTHENTICATED', /sesame login/);
    const basic = await ts.api('GET', '/api/v1/me', { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
    assertError(basic, 401, 'UNAUTHENTICATED', /sign in/);
    const spaced = await ts.api('GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${ts.adminToken} x` },
    });
    assertError(spaced, 401, 'UNAUTHENTICATED', /sign in/);
  });

  test('an expired token: 401 saying to sign in again', async () => {
    const admin = await ts.server.store.getUserByUsername('admin');
    const token = 'ses_expired-token-for-the-test';
    const t = Date.now();
    await ts.server.store.createApiToken({
      tokenHash: hashToken(token),
      userId: admin?.id ?? '',
      createdAt: t - 2000,
      expiresAt: t - 1000,
      sessionId: null,
    });
    assertError(
      await ts.api('GET', '/api/v1/me', { token }),
      401,
      'UNAUTHENTICATED',
      /expired.*sesame login/,
    );
  });

  test('a token signed out of: 401', async () => {
    const { token } = await ts.createUser('signout');
    assert.equal((await ts.api('GET', '/api/v1/me', { token })).status, 200);
    assert.equal((await ts.api('POST', '/api/v1/auth/logout', { token })).status, 204);
    assertError(await ts.api('GET', '/api/v1/me', { token }), 401, 'UNAUTHENTICATED', /revoked/);
  });

  test('the administrator is who the token says', async () => {
    const me = await ts.api('GET', '/api/v1/me', { token: ts.adminToken });
    assert.equal(me.status, 200);
    assert.deepEqual(
      {
        username: (me.body.user as { username: string }).username,
        groups: (me.body.user as { groups: string[] }).groups,
      },
      { username: 'admin', groups: ['Administrators'] },
    );
  });
});

describe('HTTP API: bad requests get JSON errors', () => {
  test('unknown route: 404 naming the method and path', async () => {
    assertError(await ts.api('GET', '/api/v1/nope?x=1'), 404, 'NOT_FOUND', /GET \/api\/v1\/nope$/);
    assertError(await ts.api('DELETE', '/api/v1/users'), 404, 'NOT_FOUND', /DELETE \/api\/v1\/users/);
  });

  test('malformed JSON: 400', async () => {
    const response = await ts.api('POST', '/api/v1/auth/login', {
      raw: '{"username": "admin", "password": ',
    });
    assertError(response, 400, 'INVALID', /JSON/);
  });

  test('an empty JSON body, a JSON array, a text body: 400', async () => {
    assertError(await ts.api('POST', '/api/v1/auth/login', { raw: '' }), 400, 'INVALID', /empty/);
    assertError(await ts.api('POST', '/api/v1/auth/login', { json: [1] }), 400, 'INVALID', /JSON object/);
    const text = await ts.api('POST', '/api/v1/auth/login', {
      raw: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    assertError(text, 400, 'INVALID', /JSON object/);
  });

  test('a path the router refuses (bad percent-encoding, an over-long value): 400 INVALID, not echoed', async () => {
    const bad = await ts.api('GET', '/api/v1/users/%E0%A4%A', { token: ts.adminToken });
    assertError(
      bad,
      400,
      'INVALID',
      /the request path is not valid: a % must be followed by two hexadecimal/,
    );
    const long = `x${'a'.repeat(400)}`;
    const tooLong = await ts.api('POST', `/api/v1/sessions/${long}/terminate`, { token: ts.adminToken });
    assertError(tooLong, 400, 'INVALID', /a value in the request path is longer than 300 characters/);
    assert.ok(!tooLong.text.includes(long), 'the path is not echoed');
    // A 255-character instance name fits.
    const named = await ts.api('GET', `/api/v1/instances/${'n'.repeat(255)}`, { token: ts.adminToken });
    assertError(named, 404, 'NOT_FOUND', /no instance/);
  });

  test('a body over 64 KiB: 413', async () => {
    const response = await ts.api('POST', '/api/v1/auth/login', { json: { username: 'x'.repeat(70_000) } });
    assertError(response, 413, 'INVALID', /too large/);
  });

  test('the agent endpoint without a WebSocket upgrade: 400 saying so', async () => {
    assertError(await ts.api('GET', '/api/v1/agent/connect'), 400, 'INVALID', /WebSocket/);
  });

  test('a user name already taken: 409, not 500', async () => {
    await ts.createUser('carol');
    const again = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'carol' },
    });
    assertError(again, 409, 'CONFLICT', /already taken/);
    const upper = await ts.api('POST', '/api/v1/users', {
      token: ts.adminToken,
      json: { username: 'Carol' },
    });
    assertError(upper, 400, 'INVALID', /lower-case/);
  });

  test('a session whose recording file is gone: 404 JSON, not a broken download', async () => {
    const id = 'admin-0123456789abcdef0';
    await ts.server.store.createSession({
      id,
      ownerId: 'u',
      owner: 'admin',
      instanceId: 'mi-0123456789abcdef0',
      document: 'SSM-SessionManagerRunShell',
      state: 'Terminated',
      reason: 'exited',
      startedAt: 1,
      endedAt: 2,
      exitCode: 0,
      recordingKey: 'recordings/gone.cast',
      clientAddress: null,
    });
    const response = await ts.api('GET', `/api/v1/sessions/${id}/recording`, { token: ts.adminToken });
    assertError(response, 404, 'NOT_FOUND', /recording/);
  });

  test('nothing above was logged as an internal error', () => {
    const errors = ts.logs.filter((line) => JSON.parse(line).level >= 50);
    assert.deepEqual(errors, []);
  });
});

describe('HTTP API: a NUL character anywhere (PostgreSQL cannot store one in text)', () => {
  test('is refused before any work, naming where it is: body, nested body, key, path, query', async () => {
    const login = await ts.api('POST', '/api/v1/auth/login', {
      json: { username: 'a\u0000', password: 'x' },
    });
    assertError(login, 400, 'INVALID', /^body\.username contains a NUL character/);
    const audited = (await ts.server.store.listAudit({ limit: 10_000 })).filter((e) =>
      JSON.stringify(e).includes('\\u0000'),
    );
    assert.deepEqual(audited, [], 'nothing reached the sign-in service');
    const admin = (method: string, path: string, json?: unknown) =>
      ts.api(method, path, { token: ts.adminToken, ...(json === undefined ? {} : { json }) });
    assertError(
      await admin('POST', '/api/v1/activations', { defaultTags: [{ Key: 'k', Value: 'v\u0000' }] }),
      400,
      'INVALID',
      /^body\.defaultTags\[0\]\.Value contains a NUL character/,
    );
    assertError(
      await admin('POST', '/api/v1/activations', { 'de\u0000scription': 'x' }),
      400,
      'INVALID',
      /^a key in body contains a NUL character/,
    );
    assertError(await admin('GET', '/api/v1/users/a%00b'), 400, 'INVALID', /^path\.username contains/);
    // Nested 20,000 deep (40 KB): found without recursion, the path cut short.
    const deep = `${'['.repeat(20_000)}"\\u0000"${']'.repeat(20_000)}`;
    assertError(
      await ts.api('POST', '/api/v1/auth/login', { raw: deep }),
      400,
      'INVALID',
      /^body(\[0\]){30}… contains a NUL character/,
    );
    assertError(
      await admin('GET', '/api/v1/sessions?state=active%00'),
      400,
      'INVALID',
      /^query\.state contains/,
    );
  });
});
