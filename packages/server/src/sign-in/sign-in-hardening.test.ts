// The attacks a security review of sign-in found, each as a test: they must stay closed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pg from 'pg';
import { hashPassword, hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import { createAuthenticate } from '../http/sign-in-routes.ts';
import { SYSTEM_PRINCIPAL } from '../main.ts';
import { SesameStoreError } from '../store/index.ts';
import { POSTGRES_ADMIN_URL } from '../store/store-test-targets.ts';
import {
  ADMIN_PASSWORD,
  assertError,
  startTestServer,
  type TestServer,
  wrongTotpCode,
} from '../test-server.ts';
import type { SignInSessions } from './sign-in-sessions.ts';
import { totpAt } from './totp.ts';

describe('sign-in hardening', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ file: { signIn: { scryptLog2N: 10, maxAccountFailures: 5 } } });
  });
  after(() => ts.close());

  const login = (username: string) =>
    ts.api('POST', '/api/v1/auth/login', { json: { username, password: ADMIN_PASSWORD } });
  /** A CLI sign-in session for `username` with the given second factor (or none), made by the server itself. */
  const signedIn = async (username: string, mfaAt: number | null, mfaMethod: string | null) => {
    const user = await ts.server.store.getUserByUsername(username);
    assert.ok(user);
    return ts.server.sessions.start({
      user,
      method: 'password',
      providerId: null,
      mfaAt,
      mfaMethod,
      sourceAddress: '127.0.0.1',
      client: 'cli',
    });
  };
  const code = (flow: unknown, value: string) =>
    ts.api('POST', '/api/v1/auth/mfa', { json: { flow, method: 'totp', code: value } });
  /** Makes `link` a setup link of `username` that runs out in `ttlMs`, as a reset mails one. */
  const mailSetupLink = async (username: string, link: string, ttlMs = 60_000) => {
    const user = await ts.server.store.getUserByUsername(username);
    await ts.server.store.createSetupToken({
      tokenHash: hashToken(link),
      userId: user?.id as string,
      expiresAt: Date.now() + ttlMs,
    });
  };
  /** Presents a setup link with a new password. */
  const useSetupLink = (link: string, password = 'a brand new passphrase') =>
    ts.api('POST', '/api/v1/auth/setup', { json: { token: link, password } });

  test('a password hashed at a lower cost is hashed again at the one in force by its next right sign-in; a higher one is kept', async () => {
    const { id } = await ts.createUser('olga');
    const hashOf = async () => String((await ts.server.store.getUserById(id))?.passwordHash);
    // This server hashes at N = 1024.
    await ts.server.store.setPasswordHash(id, await hashPassword(ADMIN_PASSWORD, { N: 2 ** 9, r: 8, p: 1 }));
    const wrong = await ts.api('POST', '/api/v1/auth/login', {
      json: { username: 'olga', password: 'not it at all' },
    });
    assert.equal(wrong.status, 401);
    assert.match(await hashOf(), /^scrypt\$512\$/, 'a wrong one changes nothing');
    assert.equal((await login('olga')).body.status, 'mfa-required');
    assert.match(await hashOf(), /^scrypt\$1024\$8\$1\$/);
    assert.equal((await login('olga')).body.status, 'mfa-required', 'the new hash holds the same password');
    // A stronger hash (the setting was lowered since) is never weakened.
    await ts.server.store.setPasswordHash(id, await hashPassword(ADMIN_PASSWORD, { N: 2 ** 11, r: 8, p: 1 }));
    assert.equal((await login('olga')).body.status, 'mfa-required');
    assert.match(await hashOf(), /^scrypt\$2048\$/);
  });

  test('a sign-in whose password changed while its second factor was awaited does not finish', async () => {
    const { id } = await ts.createUser('vic');
    const begun = await login('vic');
    assert.equal(begun.body.status, 'mfa-required', begun.text);
    // As a reset landing while the password was being checked would leave it: the step exists, the password is new.
    await ts.server.store.setPasswordHash(
      id,
      await hashPassword('a new password for vic', { N: 1024, r: 8, p: 1 }),
    );
    assertError(
      await ts.finish('vic', begun),
      401,
      'UNAUTHENTICATED',
      /your password was changed or reset while you were signing in: sign in again/,
    );
  });

  test('a setup link that runs out while its second factor is typed still sets the password', async () => {
    await ts.createUser('uma');
    const link = 'sst_a-link-about-to-run-out-0123456789';
    await mailSetupLink('uma', link, 1000);
    const begun = await useSetupLink(link);
    assert.equal(begun.body.status, 'mfa-required', begun.text);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await ts.finish('uma', begun)).body.status, 'signed-in');
    const renewed = await ts.api('POST', '/api/v1/auth/login', {
      json: { username: 'uma', password: 'a brand new passphrase' },
    });
    assert.equal(renewed.body.status, 'mfa-required', renewed.text);
  });

  test('a setup link kept for its second factor can be tried 10 times in 10 minutes, then it is refused for a while', async () => {
    await ts.createUser('tia');
    const link = 'sst_a-link-someone-keeps-trying-0123456789';
    await mailSetupLink('tia', link);
    for (let i = 0; i < 10; i++) assert.equal((await useSetupLink(link)).body.status, 'mfa-required');
    assertError(await useSetupLink(link), 429, 'RATE_LIMITED', /uses of this setup link/);
  });

  test('a right password does not wipe the count of wrong codes: guessing codes hits the lockout', async () => {
    const { totpSecret } = await ts.createUser('gus');
    for (let round = 0; round < 2; round++) {
      const flow = (await login('gus')).body.flow;
      for (let i = 0; i < (round === 0 ? 3 : 2); i++)
        assertError(await code(flow, wrongTotpCode(totpSecret)), 401, 'UNAUTHENTICATED', /not right/);
    }
    // Five wrong codes over two password sign-ins: the account is locked, password or not.
    assertError(await login('gus'), 429, 'RATE_LIMITED', /too many failed sign-in attempts/);
  });

  test('parallel guesses on one flow cannot outrun its five attempts', async () => {
    const { totpSecret } = await ts.createUser('pat');
    const flow = (await login('pat')).body.flow;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => code(flow, wrongTotpCode(totpSecret))),
    );
    const checked = answers.filter((a) =>
      /not right/.test(String((a.body.error as { message: string })?.message)),
    );
    assert.ok(checked.length <= 5, `${checked.length} guesses were checked`);
  });

  test('parallel code guesses over many sign-ins cannot outrun the account lockout', () =>
    guessCodesAtOnce(ts));

  test('parallel password guesses cannot outrun the account lockout', async () => {
    await ts.createUser('quin');
    const guess = (i: number) =>
      ts.api('POST', '/api/v1/auth/login', { json: { username: 'quin', password: `guess-${i}-wrong` } });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => guess(i)));
    const checked = answers.filter((a) => a.status === 401);
    const refused = answers.filter((a) => a.status === 429);
    // The limit is 5: five passwords checked, every other guess refused before its password was hashed.
    assert.equal(checked.length, 5, `${checked.length} guesses were checked`);
    assert.equal(refused.length, 25);
    assertError(await login('quin'), 429, 'RATE_LIMITED', /too many failed sign-in attempts/);
  });

  test('a right password among parallel wrong ones is no failure: it leaves no lock behind', async () => {
    await ts.createUser('ravi');
    const wrong = (i: number) =>
      ts.api('POST', '/api/v1/auth/login', { json: { username: 'ravi', password: `guess-${i}-wrong` } });
    const answers = await Promise.all([wrong(1), wrong(2), login('ravi'), wrong(3)]);
    assert.equal(answers[2]?.status, 200);
    assert.equal(answers.filter((a) => a.status === 401).length, 3);
    // Three failures counted, not four: the fourth wrong one is still checked, and the fifth locks.
    assertError(await wrong(4), 401, 'UNAUTHENTICATED', /.*/);
    assertError(await wrong(5), 401, 'UNAUTHENTICATED', /.*/);
    assertError(await login('ravi'), 429, 'RATE_LIMITED', /too many failed sign-in attempts/);
  });

  test('no enrolment for an account that has a device, even of a kind no longer accepted', async () => {
    await ts.createUser('kim');
    const admin = await ts.signIn('admin');
    const put = (methods: string[]) =>
      ts.api('PUT', '/api/v1/settings/mfa', { token: admin, json: { methods } });
    assert.equal((await put(['webauthn'])).status, 200);
    try {
      const response = await login('kim');
      assertError(
        response,
        403,
        'FORBIDDEN',
        /no longer accepts: ask an administrator to reset your MFA devices/,
      );
    } finally {
      assert.equal((await put(['totp', 'webauthn'])).status, 200);
    }
  });

  test('an enrolment step left open cannot add a second device after the first was registered', async () => {
    const created = await ts.api('POST', '/api/v1/users', {
      token: await ts.signIn('admin'),
      json: { username: 'lee' },
    });
    const first = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: created.body.setupToken, password: ADMIN_PASSWORD },
    });
    const second = await login('lee');
    assert.equal(first.body.status, 'enrol-required');
    assert.equal(second.body.status, 'enrol-required');
    const enrol = async (flow: unknown) => {
      const { secret } = (await ts.api('POST', '/api/v1/auth/enrol/totp', { json: { flow } })).body;
      return ts.api('POST', '/api/v1/auth/enrol/totp/confirm', {
        json: { flow, code: totpAt(String(secret), Date.now() / 1000) },
      });
    };
    assert.equal((await enrol(second.body.flow)).body.status, 'signed-in');
    assertError(await enrol(first.body.flow), 403, 'FORBIDDEN', /has an MFA device already/);
  });

  test("managing one's MFA devices needs a recent second factor, not a stolen or remembered session", async () => {
    await ts.createUser('max');
    for (const [mfaAt, method] of [
      [Date.now() - 20 * 60_000, 'totp'],
      [Date.now(), 'remembered'],
      [null, null],
    ] as const) {
      const { token } = await signedIn('max', mfaAt, method);
      assertError(
        await ts.api('POST', '/api/v1/me/mfa-devices/totp', { token }),
        403,
        'FORBIDDEN',
        /sign out and sign in again/,
      );
      const devices = (await ts.api('GET', '/api/v1/me/mfa-devices', { token })).body.devices as {
        id: string;
      }[];
      assertError(
        await ts.api('DELETE', `/api/v1/me/mfa-devices/${devices[0]?.id}`, { token }),
        403,
        'FORBIDDEN',
        /second factor/,
      );
    }
    const { token } = await signedIn('max', Date.now(), 'totp');
    assert.equal((await ts.api('POST', '/api/v1/me/mfa-devices/totp', { token })).status, 200);
  });

  test('only a refused access token is marked invalid_token: the CLI refreshes and retries nothing else', async () => {
    const refused = await fetch(`${ts.url}/api/v1/me`, {
      headers: { authorization: 'Bearer ses_not_a_token' },
    });
    await refused.body?.cancel();
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer error="invalid_token"');

    await ts.createUser('wrong-coder');
    const { token } = await signedIn('wrong-coder', Date.now(), 'totp');
    const started = await ts.api('POST', '/api/v1/me/mfa-devices/totp', { token });
    assert.equal(started.status, 200, started.text);
    const wrong = await fetch(`${ts.url}/api/v1/me/mfa-devices/totp/confirm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        enrolment: started.body.enrolment,
        code: wrongTotpCode(String(started.body.secret)),
      }),
    });
    assert.equal(wrong.status, 401, await wrong.text());
    assert.equal(wrong.headers.get('www-authenticate'), null);
  });

  test('a database that cannot check the token does not mark it invalid_token (a refresh would not help)', async () => {
    const headers = new Map<string, string>();
    const reply = { header: (name: string, value: string) => headers.set(name, value) };
    const failing = (error: Error) =>
      createAuthenticate(
        {
          authenticate: async () => {
            throw error;
          },
        } as unknown as SignInSessions,
        () => 'ses_some_token',
        false,
      )({ ip: '127.0.0.1', cookies: {} } as unknown as FastifyRequest, reply as unknown as FastifyReply);
    const down = new SesameStoreError('UNAVAILABLE', 'store.getSession: the database is unavailable');
    await assert.rejects(failing(down), down);
    assert.equal(headers.get('www-authenticate'), undefined);
    const refused = new SesameError('UNAUTHENTICATED', 'this sign-in has ended');
    await assert.rejects(failing(refused), refused);
    assert.equal(headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  });

  test('creating an administrator takes the right to add to Administrators, not only CreateUser', async () => {
    await ts.server.permissions.createPermissionSet(SYSTEM_PRINCIPAL, {
      name: 'UserCreator',
      inlinePolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sesame:CreateUser', Resource: '*' }],
      },
    });
    const { token } = await ts.createUser('helpdesk');
    await ts.server.permissions.assign(SYSTEM_PRINCIPAL, {
      permissionSet: 'UserCreator',
      principalType: 'user',
      principalName: 'helpdesk',
    });
    const admin = await ts.api('POST', '/api/v1/users', { token, json: { username: 'sock', isAdmin: true } });
    assertError(admin, 403, 'FORBIDDEN', /sesame:AddUserToGroup/);
    assert.equal(await ts.server.store.getUserByUsername('sock'), undefined, 'nothing was created');
    assert.equal((await ts.api('POST', '/api/v1/users', { token, json: { username: 'plain' } })).status, 200);
  });

  test("sign-in steps take JSON only: another site's HTML form cannot post to them (login CSRF)", async () => {
    const response = await ts.api('POST', '/api/v1/auth/login', {
      raw: `username=admin&password=${encodeURIComponent(ADMIN_PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
    });
    assertError(
      response,
      415,
      'INVALID',
      /^this endpoint takes a JSON body: send it with Content-Type: application\/json \(got "application\/x-www-form-urlencoded"\)/,
    );
    assert.equal(response.body.token, undefined);
    const poisoned = await ts.api('POST', '/api/v1/auth/login', { raw: '{"__proto__": {"isAdmin": true}}' });
    assertError(poisoned, 400, 'INVALID', /not valid JSON \(keys named __proto__/);
  });

  test('a setup link alone changes nothing on an account with an MFA device; with the second factor the password is set and every old sign-in ends', async () => {
    const { token } = await ts.createUser('ray');
    const link = 'sst_a-reset-link-mailed-to-ray-0123456789';
    await mailSetupLink('ray', link);
    const reset = await useSetupLink(link);
    assert.equal(reset.body.status, 'mfa-required', reset.text);
    // Whoever read the mail, without the second factor, neither locks the owner out nor ends their sign-ins,
    // nor uses the link up: left half done, it still works.
    assert.equal((await ts.api('GET', '/api/v1/me', { token })).status, 200);
    const again = await useSetupLink(link);
    assert.equal(again.body.status, 'mfa-required', again.text);
    const stillOld = await ts.api('POST', '/api/v1/auth/login', {
      json: { username: 'ray', password: ADMIN_PASSWORD },
    });
    assert.equal(stillOld.body.status, 'mfa-required', stillOld.text);
    assert.equal((await ts.finish('ray', reset)).body.status, 'signed-in');
    // Used once the second factor passed: the other sign-in it began cannot set a password with it any more.
    assertError(
      await useSetupLink(link, 'yet another passphrase'),
      401,
      'UNAUTHENTICATED',
      /this setup link is not valid/,
    );
    assertError(
      await ts.api('GET', '/api/v1/me', { token }),
      401,
      'UNAUTHENTICATED',
      /expired or was revoked/,
    );
    const renewed = await ts.api('POST', '/api/v1/auth/login', {
      json: { username: 'ray', password: 'a brand new passphrase' },
    });
    assert.equal(renewed.body.status, 'mfa-required', renewed.text);
    assertError(
      await ts.api('POST', '/api/v1/auth/login', { json: { username: 'ray', password: ADMIN_PASSWORD } }),
      401,
      'UNAUTHENTICATED',
      /wrong user name or password/,
    );
  });

  test("without a public URL, security keys are offered only for this server's own or a loopback host", async () => {
    const token = await ts.signIn('admin');
    // fetch will not send another Host header; a proxy would.
    const options = (host: string) =>
      new Promise<{ status: number; body: Record<string, unknown>; text: string }>((resolve, reject) => {
        const req = request(
          `${ts.url}/api/v1/me/mfa-devices/webauthn-options`,
          { method: 'POST', headers: { host, authorization: `Bearer ${token}` } },
          (res) => {
            let text = '';
            res.on('data', (chunk) => {
              text += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), text }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    assertError(await options('evil.example'), 400, 'INVALID', /set publicUrl/);
    const local = await options(`localhost:${new URL(ts.url).port}`);
    assert.equal(local.status, 200, local.text);
    assert.equal((local.body.options as { rp: { id: string } }).rp.id, 'localhost');
  });
});

describe('behind a reverse proxy', () => {
  const failedFrom = async (file: Record<string, unknown>) => {
    const ts = await startTestServer({ file: { signIn: { scryptLog2N: 10 } }, ...file, signIn: false });
    try {
      await ts.api('POST', '/api/v1/auth/login', {
        json: { username: 'nobody', password: 'wrong password here' },
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      const events = await ts.server.store.listAudit({});
      return events.find((e) => e.action === 'sesame:SignIn' && e.outcome === 'failed')?.sourceAddress;
    } finally {
      await ts.close();
    }
  };

  test('X-Forwarded-For counts only from a trusted proxy (config trustProxy)', async () => {
    assert.equal(await failedFrom({}), '127.0.0.1', 'a header from anyone is ignored');
    assert.equal(
      await failedFrom({ file: { signIn: { scryptLog2N: 10 }, trustProxy: ['127.0.0.1'] } }),
      '203.0.113.9',
    );
  });
});

/**
 * Someone with the password opens sign-ins (a right password counts nothing), then guesses codes on all of them
 * at once: only as many are checked as the account's limit (5). The race needs a store whose queries take real
 * round trips: on SQLite in-process the requests run one at a time, so it is run on PostgreSQL too.
 */
async function guessCodesAtOnce(ts: TestServer): Promise<void> {
  const { totpSecret } = await ts.createUser('sol');
  const login = () =>
    ts.api('POST', '/api/v1/auth/login', { json: { username: 'sol', password: ADMIN_PASSWORD } });
  const flows = [];
  for (let i = 0; i < 6; i++) flows.push((await login()).body.flow);
  const answers = await Promise.all(
    flows.flatMap((flow) =>
      Array.from({ length: 3 }, () =>
        ts.api('POST', '/api/v1/auth/mfa', {
          json: { flow, method: 'totp', code: wrongTotpCode(totpSecret) },
        }),
      ),
    ),
  );
  const checked = answers.filter((a) =>
    /not right/.test(String((a.body.error as { message: string })?.message)),
  );
  assert.equal(checked.length, 5, `${checked.length} codes were checked against a limit of 5`);
  assertError(await login(), 429, 'RATE_LIMITED', /too many failed sign-in attempts/);
}

describe('sign-in hardening on PostgreSQL', async () => {
  const database = `sesame_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(POSTGRES_ADMIN_URL);
  const skip = await admin.connect().then(
    () => admin.query(`create database ${database}`).then(() => false as const),
    (error: Error) => `PostgreSQL not reachable: ${error.message}`,
  );
  let ts: TestServer;
  before(async () => {
    if (skip) return;
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${database}`;
    ts = await startTestServer({
      file: { databaseUrl: url.toString(), signIn: { scryptLog2N: 10, maxAccountFailures: 5 } },
    });
  });
  after(async () => {
    await ts?.close();
    if (!skip) await admin.query(`drop database ${database} with (force)`);
    await admin.end().catch(() => {});
  });
  test('parallel code guesses over many sign-ins cannot outrun the account lockout', { skip }, () =>
    guessCodesAtOnce(ts),
  );
});
