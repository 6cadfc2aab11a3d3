import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agentKeys, connectAgent, INVENTORY } from '../agents/test-agent.ts';
import { eventually, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer({ signIn: false });
});
after(() => ts.close());

test('setup, sign-in, users, activations and registration leave no secret in the log or the audit trail', async () => {
  const secrets: Record<string, string> = {};
  const password = 'the admin passphrase 7f3a';
  secrets['admin setup token'] = ts.setupToken;
  secrets['admin password'] = password;

  // First administrator: a mistyped password first, then the real one.
  const short = await ts.api('POST', '/api/v1/auth/setup', {
    json: { token: ts.setupToken, password: 'short' },
  });
  assert.equal(short.status, 400);
  const setup = await ts.finish(
    'admin',
    await ts.api('POST', '/api/v1/auth/setup', { json: { token: ts.setupToken, password } }),
  );
  assert.equal(setup.status, 200, setup.text);
  secrets['admin TOTP secret'] = ts.totpSecrets.get('admin') as string;
  secrets['setup bearer token'] = String(setup.body.token);
  const reused = await ts.api('POST', '/api/v1/auth/setup', { json: { token: ts.setupToken, password } });
  assert.equal(reused.status, 401);

  // Sign-ins: wrong, unknown, malformed (with the password in the broken body), right.
  assert.equal(
    (await ts.api('POST', '/api/v1/auth/login', { json: { username: 'admin', password: `${password}!` } }))
      .status,
    401,
  );
  assert.equal(
    (await ts.api('POST', '/api/v1/auth/login', { json: { username: 'ghost', password } })).status,
    401,
  );
  const broken = await ts.api('POST', '/api/v1/auth/login', {
    raw: `{"username":"admin","password":"${password}"`,
  });
  assert.equal(broken.status, 400);
  assert.ok(!broken.text.includes(password), 'the error echoes the password');
  const login = await ts.finish(
    'admin',
    await ts.api('POST', '/api/v1/auth/login', { json: { username: 'admin', password } }),
  );
  assert.equal(login.status, 200, login.text);
  secrets['refresh token'] = String(login.body.refreshToken);
  const token = String(login.body.token);
  secrets['login bearer token'] = token;

  // A user with a setup link, who then sets a password and is refused something.
  const created = await ts.api('POST', '/api/v1/users', { token, json: { username: 'alice' } });
  secrets['alice setup token'] = String(created.body.setupToken);
  secrets['alice password'] = 'alice passphrase 19c2';
  const aliceSetup = await ts.finish(
    'alice',
    await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: created.body.setupToken, password: secrets['alice password'] },
    }),
  );
  secrets['alice bearer token'] = String(aliceSetup.body.token);
  assert.equal((await ts.api('GET', '/api/v1/users', { token: String(aliceSetup.body.token) })).status, 403);
  const reset = await ts.api('POST', '/api/v1/users/alice/reset', { token });
  secrets['alice reset token'] = String(reset.body.setupToken);

  // An activation, a failed and a good registration, and the agent connecting.
  const activation = await ts.api('POST', '/api/v1/activations', { token, json: { description: 'fleet' } });
  const activationId = (activation.body.activation as { id: string }).id;
  const code = String(activation.body.code);
  secrets['activation code'] = code;
  const keys = agentKeys();
  const wrong = await ts.api('POST', '/api/v1/agent/register', {
    json: { activationId, activationCode: code.slice(1), publicKey: keys.publicKey, inventory: INVENTORY },
  });
  assert.equal(wrong.status, 401);
  const registered = await ts.api('POST', '/api/v1/agent/register', {
    json: { activationId, activationCode: code, publicKey: keys.publicKey, inventory: INVENTORY },
  });
  assert.equal(registered.status, 200, registered.text);
  const agent = await connectAgent(ts.url, { instanceId: String(registered.body.instanceId), keys });
  await eventually(() => ts.server.hub.isOnline(String(registered.body.instanceId)));
  agent.ws.close();

  // Signing out, and a request with the revoked token.
  assert.equal((await ts.api('POST', '/api/v1/auth/logout', { token })).status, 204);
  assert.equal((await ts.api('GET', '/api/v1/me', { token })).status, 401);

  const log = ts.logs.join('\n');
  const trail = JSON.stringify(await ts.server.store.listAudit({ limit: 1000 }));
  assert.ok(ts.logs.length > 10, 'the log captured the flow');
  assert.match(log, /sesame:SignIn/);
  assert.match(log, /ssm:RegisterInstance/);
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(secret.length >= 12, `${what} was captured`);
    assert.ok(!log.includes(secret), `the ${what} is in the log`);
    assert.ok(!trail.includes(secret), `the ${what} is in the audit trail`);
  }
});
