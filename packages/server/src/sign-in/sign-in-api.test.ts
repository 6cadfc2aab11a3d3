import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import WebSocket from 'ws';
import { hashPassword, hashToken } from '../crypto.ts';
import { SYSTEM_PRINCIPAL } from '../main.ts';
import { rejects, serviceFixture } from '../services/service-fixture.ts';
import type { User } from '../store/index.ts';
import { mfaDevice } from '../store/store-test-fixtures.ts';
import { TEST_SECRETS } from '../store/test-secrets.ts';
import {
  ADMIN_PASSWORD,
  type ApiResponse,
  assertError,
  startTestServer,
  type TestServer,
  wrongTotpCode,
} from '../test-server.ts';
import type { MailMessage } from './mailer.ts';
import { createMfaEnrolment } from './mfa-enrolment.ts';
import type { MfaSettings } from './mfa-settings.ts';
import { createFlows } from './sign-in-flows.ts';
import { createSignInService, type SignInContext } from './sign-in-service.ts';
import { createSignInSessions } from './sign-in-sessions.ts';
import { type SmtpSink, startSmtpSink } from './smtp-sink.test-support.ts';
import { createThrottle } from './throttle.ts';
import { totpAt } from './totp.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const FAST = { scryptLog2N: 10, maxAddressFailures: 100_000 };
const EXPIRED = /your sign-in has expired or was revoked: run `sesame login` again/;
const WRONG_PASSWORD = /^wrong user name or password$/;
const STEP_GONE = /^this sign-in step has expired or was already used: start signing in again$/;

type Body = Record<string, unknown>;
type Me = {
  userId: string;
  username: string;
  signIn: {
    sessionId: string;
    client: string;
    expiresAt: number;
    mfa: { present: boolean; authenticatedAt: number | null; method: string | null };
  };
};

/** The code of the next 30 s step: still inside the ±1 window, and unused even right after an enrolment. */
const nextCode = (secret: string) => totpAt(secret, Date.now() / 1000 + 30);
const login = (ts: TestServer, username: string, extra: Body = {}) =>
  ts.api('POST', '/api/v1/auth/login', { json: { username, password: ADMIN_PASSWORD, ...extra } });
const mfa = (ts: TestServer, flow: unknown, code: string, extra: Body = {}) =>
  ts.api('POST', '/api/v1/auth/mfa', { json: { flow, method: 'totp', code, ...extra } });
const meOf = async (ts: TestServer, token: string): Promise<Me> => {
  const response = await ts.api('GET', '/api/v1/me', { token });
  assert.equal(response.status, 200, response.text);
  return response.body.user as Me;
};

/** A user with an authenticator app, signed in once more (CLI) with the next step's code: the full answer. */
async function freshSignIn(ts: TestServer, username: string, extra: Body = {}) {
  const { secret } = await created(ts, username);
  const first = await login(ts, username, extra);
  assert.equal(first.body.status, 'mfa-required', first.text);
  const done = await mfa(ts, first.body.flow, nextCode(secret), extra);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'signed-in', done.text);
  return { secret, body: done.body, token: String(done.body.token) };
}

async function created(ts: TestServer, username: string) {
  const user = await ts.createUser(username);
  return { ...user, secret: user.totpSecret };
}

/** fetch with the response's cookies, for the browser's side of things. */
async function http(
  ts: TestServer,
  method: string,
  path: string,
  options: { json?: unknown; cookie?: string; csrf?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${ts.url}${path}`, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: Body = {};
  try {
    body = text ? (JSON.parse(text) as Body) : {};
  } catch {}
  return { status: response.status, body, text, setCookies: response.headers.getSetCookie() };
}

const cookieNamed = (setCookies: string[], name: string) => setCookies.find((c) => c.startsWith(`${name}=`));
const cookiePair = (setCookie: string | undefined) => (setCookie ?? '').split(';')[0] ?? '';

/** A WebSocket upgrade's outcome: 'open', or the HTTP status (and body) it was refused with. */
function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number | 'open'; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 'open', body: '' });
    });
    ws.on('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    ws.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

describe('sign-in API (HTTP)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ file: { signIn: FAST } });
  });
  after(() => ts.close());

  const putSettings = (json: unknown, token = ts.adminToken) =>
    ts.api('PUT', '/api/v1/settings/mfa', { token, json });
  const restoreSettings = async () => {
    const restored = await putSettings({
      prompt: 'always',
      methods: ['totp', 'webauthn'],
      withoutDevice: 'register',
    });
    assert.equal(restored.status, 200, restored.text);
  };

  describe('password and TOTP', () => {
    let tom: { secret: string };
    before(async () => {
      tom = await created(ts, 'tom');
    });

    test('the password alone never yields a token', async () => {
      const response = await login(ts, 'tom');
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.status, 'mfa-required');
      assert.deepEqual(response.body.methods, ['totp']);
      assert.match(String(response.body.flow), /^flw_[A-Za-z0-9_-]{20,}$/);
      assert.equal(response.body.token, undefined, 'a password alone must not sign anyone in');
      assert.equal(response.body.refreshToken, undefined);
      const expiresAt = Number(response.body.expiresAt);
      assert.ok(
        expiresAt > Date.now() && expiresAt <= Date.now() + 10 * MINUTE,
        `flow expiresAt ${expiresAt}`,
      );
    });

    let used = '';
    test('the right code signs in (CLI: token, refresh token, both expiries) with MFA recorded', async () => {
      const first = await login(ts, 'tom');
      used = nextCode(tom.secret);
      const done = await mfa(ts, first.body.flow, used);
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.status, 'signed-in');
      assert.match(String(done.body.token), /^ses_/);
      assert.match(String(done.body.refreshToken), /^rft_/);
      assert.equal(done.body.csrfToken, undefined, 'a CLI answer carries no CSRF token');
      const user = done.body.user as Record<string, unknown>;
      assert.equal(user.username, 'tom');
      assert.equal(user.passwordHash, undefined, 'the password hash must never leave the server');
      const now = Date.now();
      assert.ok(Number(done.body.expiresAt) <= now + 15 * MINUTE + 5000, 'the CLI access token is short');
      assert.ok(
        Number(done.body.sessionExpiresAt) > now + 50 * MINUTE,
        'the session lasts the permission set',
      );
      const me = await meOf(ts, String(done.body.token));
      assert.equal(me.signIn.mfa.present, true);
      assert.equal(me.signIn.mfa.method, 'totp');
      assert.equal(me.signIn.client, 'cli');
    });

    test('the same code again is refused as used, and counted', async () => {
      const first = await login(ts, 'tom');
      const replay = await mfa(ts, first.body.flow, used);
      assertError(
        replay,
        401,
        'UNAUTHENTICATED',
        /^that code was used already: wait for the next one \(4 attempts left\)$/,
      );
      // The code of the step before is older than the one used: refused as used too, not as wrong.
      const older = await mfa(ts, first.body.flow, totpAt(tom.secret, Date.now() / 1000 - 30));
      assertError(older, 401, 'UNAUTHENTICATED', /used already.*\(3 attempts left\)/);
    });

    test('a malformed code says what a code looks like; it, and a wrong or missing method, are INVALID and not counted', async () => {
      // Earlier tests left wrong codes on tom's account; a right password does not clear them, an admin does.
      assert.equal((await ts.api('POST', '/api/v1/users/tom/unlock', { token: ts.adminToken })).status, 204);
      const first = await login(ts, 'tom');
      for (const code of ['', '12345', '1234567', 'abcdef'])
        assertError(
          await mfa(ts, first.body.flow, code),
          400,
          'INVALID',
          /^the code must be the 6 digits your authenticator app shows$/,
        );

      const noMethod = await ts.api('POST', '/api/v1/auth/mfa', {
        json: { flow: first.body.flow, code: '123456' },
      });
      assertError(noMethod, 400, 'INVALID', /^method must be one of "totp"$/);
      assertError(
        await mfa(ts, first.body.flow, '123456', { method: 'email' }),
        400,
        'INVALID',
        /method must be one of "totp"/,
      );
      // None of them was an attempt: the first wrong code of the right shape leaves 4.
      assertError(
        await mfa(ts, first.body.flow, wrongTotpCode(tom.secret)),
        401,
        'UNAUTHENTICATED',
        /\(4 attempts left\)$/,
      );
    });

    test('five wrong codes end the flow (and, at the default limit of 5, lock the account)', async () => {
      const walt = await created(ts, 'walt');
      const first = await login(ts, 'walt');
      const messages: string[] = [];
      for (let i = 0; i < 5; i++) {
        messages.push(
          assertError(
            await mfa(ts, first.body.flow, wrongTotpCode(walt.secret)),
            401,
            'UNAUTHENTICATED',
            /not right/,
          ),
        );
      }
      assert.deepEqual(messages, [
        'that code is not right (4 attempts left)',
        'that code is not right (3 attempts left)',
        'that code is not right (2 attempts left)',
        'that code is not right (1 attempt left)',
        'that code is not right; start signing in again',
      ]);
      assertError(await mfa(ts, first.body.flow, nextCode(walt.secret)), 401, 'UNAUTHENTICATED', STEP_GONE);
      assertError(await login(ts, 'walt'), 429, 'RATE_LIMITED', /too many failed sign-in attempts/);
      const failed = (await ts.server.store.listAudit({ actor: 'walt' })).filter(
        (e) => e.action === 'sesame:SignIn' && e.outcome === 'failed',
      );
      assert.equal(failed.length, 6, 'five wrong codes and the refused sign-in are audited');
    });

    test('flow tokens: garbage is 400; unknown or expired is 401 saying to start again', async () => {
      for (const flow of [undefined, 'nope', 42, 'flw_short', `ses_${'a'.repeat(30)}`]) {
        assertError(
          await mfa(ts, flow, '123456'),
          400,
          'INVALID',
          /^flow must be the flw_… token from the previous step$/,
        );
      }
      assertError(await mfa(ts, `flw_${'a'.repeat(40)}`, '123456'), 401, 'UNAUTHENTICATED', STEP_GONE);
      const token = `flw_${'e'.repeat(40)}`;
      const tomUser = (await ts.server.store.getUserByUsername('tom')) as User;
      await ts.server.store.createFlow({
        idHash: hashToken(token),
        kind: 'mfa',
        userId: tomUser.id,
        data: {
          client: 'cli',
          methods: ['totp'],
          method: 'password',
          providerId: null,
          deviceHash: null,
          sourceAddress: null,
        },
        attempts: 0,
        createdAt: Date.now() - 11 * MINUTE,
        expiresAt: Date.now() - MINUTE,
      });
      assertError(await mfa(ts, token, nextCode(tom.secret)), 401, 'UNAUTHENTICATED', STEP_GONE);
      // An enrolment flow is not an MFA flow.
      const created = await ts.api('POST', '/api/v1/users', {
        token: ts.adminToken,
        json: { username: 'nat' },
      });
      const setup = await ts.api('POST', '/api/v1/auth/setup', {
        json: { token: created.body.setupToken, password: ADMIN_PASSWORD },
      });
      assert.equal(setup.body.status, 'enrol-required', setup.text);
      assertError(await mfa(ts, setup.body.flow, '123456'), 401, 'UNAUTHENTICATED', STEP_GONE);
    });
  });

  test('setting the password ends every other link to set it (an earlier reset mail, the invitation)', async () => {
    const made = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'tia' } });
    const user = await ts.server.store.getUserByUsername('tia');
    assert.ok(user);
    // A second link alongside the invitation, as a reset mail leaves one (it does not cancel earlier links).
    const other = 'sst_another-link-for-tia-000000000000000';
    await ts.server.store.createSetupToken({
      tokenHash: hashToken(other),
      userId: user.id,
      expiresAt: Date.now() + 60 * MINUTE,
    });
    const setup = await ts.api('POST', '/api/v1/auth/setup', {
      json: { token: made.body.setupToken, password: ADMIN_PASSWORD },
    });
    assert.equal(setup.body.status, 'enrol-required', setup.text);
    assertError(
      await ts.api('POST', '/api/v1/auth/setup', {
        json: { token: other, password: 'a password of my own' },
      }),
      401,
      'UNAUTHENTICATED',
      /this setup link is not valid/,
    );
  });

  describe('enrolment', () => {
    test('the first sign-in asks to register a device; the flow walks through it', async () => {
      const made = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'eno' } });
      const setup = await ts.api('POST', '/api/v1/auth/setup', {
        json: { token: made.body.setupToken, password: ADMIN_PASSWORD },
      });
      assert.equal(setup.status, 200, setup.text);
      assert.equal(setup.body.status, 'enrol-required');
      assert.deepEqual(setup.body.methods, ['totp', 'webauthn']);
      assert.equal(setup.body.token, undefined);
      const early = await ts.api('POST', '/api/v1/auth/enrol/totp/confirm', {
        json: { flow: setup.body.flow, code: '123456' },
      });
      assertError(early, 400, 'INVALID', /ask for a new authenticator secret first/);
      // Not finishing enrolment: the next sign-in asks again.
      const again = await login(ts, 'eno');
      assert.equal(again.body.status, 'enrol-required', again.text);
      const flow = again.body.flow;
      const secret = await ts.api('POST', '/api/v1/auth/enrol/totp', { json: { flow } });
      assert.equal(secret.status, 200, secret.text);
      assert.match(String(secret.body.secret), /^[A-Z2-7]{32}$/);
      assert.match(String(secret.body.uri), /^otpauth:\/\/totp\/Sesame:eno\?/);
      assert.match(String(secret.body.qrSvg), /^<svg/);
      // While it waits for its first code, the new secret is in the flow sealed, not as shown.
      const waiting = await ts.server.store.getFlow(hashToken(String(flow)));
      assert.match(String(waiting?.data.totpSecret), /^sealed:v1:/);
      assert.ok(!JSON.stringify(waiting?.data).includes(String(secret.body.secret)));
      const confirm = (code: string) =>
        ts.api('POST', '/api/v1/auth/enrol/totp/confirm', { json: { flow, code, name: 'phone' } });
      assertError(
        await confirm('12 34'),
        400,
        'INVALID',
        /^the code must be the 6 digits your authenticator app shows$/,
      );
      assertError(
        await confirm(wrongTotpCode(String(secret.body.secret))),
        401,
        'UNAUTHENTICATED',
        /^that code is not right \(4 attempts left\)$/,
      );
      const done = await confirm(totpAt(String(secret.body.secret), Date.now() / 1000));
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.status, 'signed-in');
      const me = await meOf(ts, String(done.body.token));
      assert.equal(me.signIn.mfa.method, 'totp');
      const devices = await ts.api('GET', '/api/v1/me/mfa-devices', { token: String(done.body.token) });
      assert.deepEqual(
        (devices.body.devices as { name: string }[]).map((d) => d.name),
        ['phone'],
      );
      assertError(await confirm(nextCode(String(secret.body.secret))), 401, 'UNAUTHENTICATED', STEP_GONE);
    });
  });

  describe('MFA settings', () => {
    afterEach(restoreSettings);

    test("revoking a device's sign-in makes the device unknown again: it is asked for MFA; logging out is not that", async () => {
      const delia = await created(ts, 'delia');
      assert.equal((await putSettings({ prompt: 'context-change' })).status, 200);
      const laptop = { device: 'delia-laptop-0123456789' };
      const first = await login(ts, 'delia', laptop);
      const proved = await mfa(ts, first.body.flow, nextCode(delia.secret), laptop);
      assert.equal(proved.status, 200, proved.text);
      // Signing out keeps the device known.
      const again = await login(ts, 'delia', laptop);
      assert.equal(again.body.status, 'signed-in', again.text);
      assert.equal(
        (await ts.api('POST', '/api/v1/auth/logout', { token: String(again.body.token) })).status,
        204,
      );
      const remembered = await login(ts, 'delia', laptop);
      assert.equal(remembered.body.status, 'signed-in', 'logout does not forget the device');
      // From another sign-in (her phone's browser, say), delia revokes the laptop's: the laptop is asked again.
      const laptopSignIn = (await meOf(ts, String(remembered.body.token))).signIn.sessionId;
      const revoked = await ts.api('DELETE', `/api/v1/me/sign-ins/${laptopSignIn}`, {
        token: String(proved.body.token),
      });
      assert.equal(revoked.status, 204, revoked.text);
      assert.equal((await login(ts, 'delia', laptop)).body.status, 'mfa-required');
    });

    test('context-change: the same device from the same address skips MFA ("remembered"); another device does not', async () => {
      const cora = await created(ts, 'cora');
      assert.equal((await putSettings({ prompt: 'context-change' })).status, 200);
      const device = 'cora-laptop-0123456789';
      const first = await login(ts, 'cora', { device });
      assert.equal(first.body.status, 'mfa-required', 'a device never seen must be asked for MFA');
      const proved = await mfa(ts, first.body.flow, nextCode(cora.secret), { device });
      assert.equal(proved.status, 200, proved.text);
      const provedMe = await meOf(ts, String(proved.body.token));
      const second = await login(ts, 'cora', { device });
      assert.equal(second.status, 200, second.text);
      assert.equal(
        second.body.status,
        'signed-in',
        'the same device from the same address must not be asked again',
      );
      const me = await meOf(ts, String(second.body.token));
      assert.deepEqual(me.signIn.mfa, {
        present: true,
        authenticatedAt: provedMe.signIn.mfa.authenticatedAt,
        method: 'remembered',
      });
      assert.equal(
        (await login(ts, 'cora', { device: 'cora-desktop-987654321' })).body.status,
        'mfa-required',
      );
      assert.equal((await login(ts, 'cora')).body.status, 'mfa-required', 'no device id: always asked');
      assert.equal(
        (await login(ts, 'cora', { device: 'short' })).body.status,
        'mfa-required',
        'a device id shorter than 16 characters is ignored',
      );
    });

    test('prompt "always" asks every time even on a remembered device', async () => {
      const ada = await created(ts, 'ada');
      assert.equal((await putSettings({ prompt: 'context-change' })).status, 200);
      const device = 'ada-laptop-0123456789';
      const first = await login(ts, 'ada', { device });
      assert.equal((await mfa(ts, first.body.flow, nextCode(ada.secret), { device })).status, 200);
      await restoreSettings();
      assert.equal((await login(ts, 'ada', { device })).body.status, 'mfa-required');
    });

    test('block: a user without a device is refused with a message that says what to do', async () => {
      assert.equal((await putSettings({ withoutDevice: 'block' })).status, 200);
      const made = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username: 'bea' } });
      const setup = await ts.api('POST', '/api/v1/auth/setup', {
        json: { token: made.body.setupToken, password: ADMIN_PASSWORD },
      });
      assertError(
        setup,
        403,
        'FORBIDDEN',
        /^your account has no MFA device, and this server requires one: ask an administrator to help you register one$/,
      );
      assertError(await login(ts, 'bea'), 403, 'FORBIDDEN', /no MFA device/);
      const audited = (await ts.server.store.listAudit({ actor: 'bea' })).filter(
        (e) => e.action === 'sesame:SignIn',
      );
      assert.deepEqual(
        audited.map((e) => `${e.outcome} ${String(e.detail.reason)}`),
        ['failed no MFA device', 'failed no MFA device'],
      );
    });

    test('PUT validation: unknown key, bad value, empty methods, email-code without SMTP', async () => {
      const unknown = await putSettings({ prompt: 'always', rememberDays: 30 });
      assertError(
        unknown,
        400,
        'INVALID',
        /rememberDays: unknown setting \(known: prompt, methods, withoutDevice\)/,
      );
      assert.deepEqual(unknown.body.error && (unknown.body.error as Body).details, [
        { path: 'rememberDays', message: 'unknown setting (known: prompt, methods, withoutDevice)' },
      ]);
      assertError(
        await putSettings({ prompt: 'sometimes' }),
        400,
        'INVALID',
        /prompt: must be one of "always", "context-change"/,
      );
      assertError(
        await putSettings({ withoutDevice: 'allow' }),
        400,
        'INVALID',
        /withoutDevice: must be one of/,
      );
      assertError(
        await putSettings({ methods: [] }),
        400,
        'INVALID',
        /methods: must be a non-empty list of distinct methods/,
      );
      assertError(
        await putSettings({ methods: ['sms'] }),
        400,
        'INVALID',
        /methods: must be a non-empty list/,
      );
      assertError(await putSettings(['always']), 400, 'INVALID', /MFA settings must be a JSON object/);
      assertError(
        await putSettings({ withoutDevice: 'email-code' }),
        400,
        'INVALID',
        /withoutDevice "email-code" needs a mail server: configure smtp/,
      );
      const current = await ts.api('GET', '/api/v1/settings/mfa', { token: ts.adminToken });
      assert.deepEqual(current.body, {
        settings: { prompt: 'always', methods: ['totp', 'webauthn'], withoutDevice: 'register' },
      });
    });

    test('only an administrator reads or changes the settings', async () => {
      const pam = await created(ts, 'pam');
      assertError(
        await ts.api('GET', '/api/v1/settings/mfa', { token: pam.token }),
        403,
        'FORBIDDEN',
        /sesame:GetMfaSettings/,
      );
      assertError(
        await putSettings({ prompt: 'context-change' }, pam.token),
        403,
        'FORBIDDEN',
        /sesame:UpdateMfaSettings/,
      );
      assertError(await ts.api('GET', '/api/v1/settings/mfa'), 401, 'UNAUTHENTICATED', /sign in first/);
      const settings = await ts.api('GET', '/api/v1/settings/mfa', { token: ts.adminToken });
      assert.equal((settings.body.settings as MfaSettings).prompt, 'always');
    });
  });

  describe('tokens: refresh and logout', () => {
    test('refresh rotates; presenting the old refresh token again revokes the sign-in', async () => {
      const ray = await freshSignIn(ts, 'ray');
      const refresh = (refreshToken: unknown) =>
        ts.api('POST', '/api/v1/auth/refresh', { json: { refreshToken } });
      const next = await refresh(ray.body.refreshToken);
      assert.equal(next.status, 200, next.text);
      assert.match(String(next.body.token), /^ses_/);
      assert.notEqual(next.body.refreshToken, ray.body.refreshToken);
      assert.equal(
        next.body.sessionExpiresAt,
        ray.body.sessionExpiresAt,
        'refreshing does not extend the sign-in',
      );
      assert.equal((await meOf(ts, String(next.body.token))).signIn.mfa.method, 'totp', 'MFA carries over');
      assertError(
        await refresh(ray.body.refreshToken),
        401,
        'UNAUTHENTICATED',
        /this refresh token was already used, so the sign-in was revoked to be safe/,
      );
      assertError(
        await ts.api('GET', '/api/v1/me', { token: String(next.body.token) }),
        401,
        'UNAUTHENTICATED',
        EXPIRED,
      );
      assertError(await ts.api('GET', '/api/v1/me', { token: ray.token }), 401, 'UNAUTHENTICATED', EXPIRED);
      assertError(await refresh(next.body.refreshToken), 401, 'UNAUTHENTICATED', EXPIRED);
      assertError(await refresh('garbage'), 400, 'INVALID', /refreshToken must be the refresh token/);
    });

    test('a proposed next refresh token: the same request again is answered, a malformed proposal is a 400', async () => {
      const ray = await freshSignIn(ts, 'rhea');
      const refresh = (json: Record<string, unknown>) => ts.api('POST', '/api/v1/auth/refresh', { json });
      const pair = { refreshToken: ray.body.refreshToken, nextRefreshToken: `rft_${'n'.repeat(43)}` };
      assertError(
        await refresh({ ...pair, nextRefreshToken: 'rft_short' }),
        400,
        'INVALID',
        /nextRefreshToken must be a new refresh token: "rft_" and 43 to 100 random base64url characters/,
      );
      const first = await refresh(pair);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.refreshToken, pair.nextRefreshToken);
      const again = await refresh(pair);
      assert.equal(again.status, 200, again.text);
      assert.notEqual(again.body.token, first.body.token);
      assert.equal((await meOf(ts, String(again.body.token))).username, 'rhea');
    });

    test('logout revokes this sign-in only', async () => {
      const leo = await created(ts, 'leo');
      const other = await login(ts, 'leo');
      const second = await mfa(ts, other.body.flow, nextCode(leo.secret));
      const out = await ts.api('POST', '/api/v1/auth/logout', { token: leo.token });
      assert.equal(out.status, 204, out.text);
      assertError(await ts.api('GET', '/api/v1/me', { token: leo.token }), 401, 'UNAUTHENTICATED', EXPIRED);
      assert.equal((await meOf(ts, String(second.body.token))).username, 'leo');
      assertError(
        await ts.api('POST', '/api/v1/auth/logout', { token: leo.token }),
        401,
        'UNAUTHENTICATED',
        EXPIRED,
      );
    });
  });

  describe('MFA in policy: aws:MultiFactorAuthPresent and aws:MultiFactorAuthAge', () => {
    test('a permission set that needs recent MFA allows an MFA sign-in and refuses one without', async () => {
      const mia = await created(ts, 'mia');
      const set = await ts.api('POST', '/api/v1/permission-sets', {
        token: ts.adminToken,
        json: {
          name: 'ListUsersWithMfa',
          inlinePolicy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'sesame:ListUsers',
                Resource: '*',
                Condition: {
                  Bool: { 'aws:MultiFactorAuthPresent': 'true' },
                  NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' },
                },
              },
            ],
          },
        },
      });
      assert.equal(set.status, 200, set.text);
      const assigned = await ts.api('POST', '/api/v1/assignments', {
        token: ts.adminToken,
        json: { permissionSet: 'ListUsersWithMfa', principalType: 'user', principalName: 'mia' },
      });
      assert.equal(assigned.status, 200, assigned.text);
      const withMfa = await ts.api('GET', '/api/v1/users', { token: mia.token });
      assert.equal(withMfa.status, 200, `an MFA sign-in must be allowed: ${withMfa.text}`);
      const user = (await ts.server.store.getUserByUsername('mia')) as User;
      const start = (mfaAt: number | null) =>
        ts.server.sessions.start({
          user,
          method: 'password',
          providerId: null,
          mfaAt,
          mfaMethod: mfaAt ? 'totp' : null,
          sourceAddress: '127.0.0.1',
          client: 'cli',
        });
      const noMfa = await start(null);
      assertError(
        await ts.api('GET', '/api/v1/users', { token: noMfa.token }),
        403,
        'FORBIDDEN',
        /sesame:ListUsers/,
      );
      const stale = await start(Date.now() - 2 * HOUR);
      assertError(
        await ts.api('GET', '/api/v1/users', { token: stale.token }),
        403,
        'FORBIDDEN',
        /sesame:ListUsers/,
      );
      const recent = await start(Date.now() - MINUTE);
      assert.equal((await ts.api('GET', '/api/v1/users', { token: recent.token })).status, 200);
      const simulated = await ts.server.permissions.listPermissionSets(SYSTEM_PRINCIPAL);
      assert.ok(simulated.some((p) => p.name === 'ListUsersWithMfa'));
    });
  });

  describe('browser sign-in: cookie, CSRF, WebSocket origin, CLI hand-off', () => {
    let cookie = '';
    let csrf = '';
    let webMe: Me;
    before(async () => {
      const wendy = await created(ts, 'wendy');
      const first = await http(ts, 'POST', '/api/v1/auth/login', {
        json: { username: 'wendy', password: ADMIN_PASSWORD, client: 'web' },
      });
      assert.equal(first.body.status, 'mfa-required', first.text);
      const device = cookieNamed(first.setCookies, 'sesame_device');
      assert.match(device ?? '', /HttpOnly/i, 'the browser gets an HttpOnly device cookie');
      const done = await http(ts, 'POST', '/api/v1/auth/mfa', {
        json: { flow: first.body.flow, method: 'totp', code: nextCode(wendy.secret), client: 'web' },
        cookie: cookiePair(device),
      });
      assert.equal(done.status, 200, done.text);
      const session = cookieNamed(done.setCookies, 'sesame_session');
      assert.ok(session, `no sesame_session cookie in ${JSON.stringify(done.setCookies)}`);
      assert.match(session, /;\s*HttpOnly/i);
      assert.match(session, /;\s*SameSite=Lax/i);
      assert.match(session, /;\s*Path=\//);
      assert.doesNotMatch(session, /;\s*Secure/i, 'plain http: the cookie must not be Secure');
      assert.equal(done.body.status, 'signed-in');
      assert.equal(done.body.token, undefined, 'a browser answer must not carry the token');
      assert.equal(done.body.refreshToken, undefined);
      assert.match(String(done.body.csrfToken), /^[A-Za-z0-9_-]{43}$/);
      cookie = cookiePair(session);
      csrf = String(done.body.csrfToken);
      const me = await http(ts, 'GET', '/api/v1/me', { cookie });
      assert.equal(me.status, 200, me.text);
      webMe = me.body.user as Me;
    });

    test('cookie GETs work; changes need the X-CSRF-Token header', async () => {
      assert.equal(webMe.username, 'wendy');
      assert.equal(webMe.signIn.client, 'web');
      const token = await http(ts, 'GET', '/api/v1/auth/csrf', { cookie });
      assert.deepEqual(token.body, { csrfToken: csrf });
      const without = await http(ts, 'POST', '/api/v1/me/mfa-devices/totp', { cookie });
      assertError(
        without as ApiResponse,
        403,
        'FORBIDDEN',
        /^missing or wrong X-CSRF-Token header \(cross-site request refused\)$/,
      );
      const wrong = await http(ts, 'POST', '/api/v1/me/mfa-devices/totp', {
        cookie,
        csrf: `${csrf.slice(1)}x`,
      });
      assertError(wrong as ApiResponse, 403, 'FORBIDDEN', /X-CSRF-Token/);
      const right = await http(ts, 'POST', '/api/v1/me/mfa-devices/totp', { cookie, csrf });
      assert.equal(right.status, 200, right.text);
      assert.match(String(right.body.enrolment), /^flw_/);
      assertError(
        (await http(ts, 'GET', '/api/v1/auth/csrf', {
          headers: { authorization: `Bearer ${ts.adminToken}` },
        })) as ApiResponse,
        400,
        'INVALID',
        /only a browser sign-in \(cookie\) has a CSRF token/,
      );
    });

    test('a WebSocket with the cookie from a foreign Origin is refused; from our own pages it opens', async () => {
      const url = `${ts.url.replace(/^http/, 'ws')}/api/v1/connect`;
      const foreign = await upgrade(url, { cookie, origin: 'http://evil.example' });
      assert.equal(foreign.status, 403, foreign.body);
      assert.match(foreign.body, /a browser WebSocket must come from this server's own pages/);
      const none = await upgrade(url, { cookie });
      assert.equal(none.status, 403, 'no Origin with a cookie is refused too');
      const own = await upgrade(url, { cookie, origin: ts.url });
      assert.equal(own.status, 'open', own.body);
    });

    test('device code: start, approve from the browser, the CLI gets a sign-in with the same MFA', async () => {
      const started = await ts.api('POST', '/api/v1/auth/device', { json: {} });
      assert.equal(started.status, 200, started.text);
      const { deviceCode, userCode, verificationUri, verificationUriComplete, interval, expiresIn } =
        started.body;
      assert.match(String(deviceCode), /^flw_/);
      assert.match(String(userCode), /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      assert.equal(verificationUri, `${ts.url}/device`);
      assert.equal(verificationUriComplete, `${ts.url}/device?code=${userCode}`);
      assert.equal(interval, 3);
      assert.equal(expiresIn, 600);
      const poll = () => ts.api('POST', '/api/v1/auth/device/token', { json: { deviceCode } });
      assert.deepEqual((await poll()).body, { status: 'pending' });
      const approve = (code: unknown, withCsrf = true) =>
        http(ts, 'POST', '/api/v1/auth/device/approve', {
          json: { userCode: code },
          cookie,
          ...(withCsrf ? { csrf } : {}),
        });
      assertError((await approve(userCode, false)) as ApiResponse, 403, 'FORBIDDEN', /X-CSRF-Token/);
      const typed = String(userCode).toLowerCase().replace('-', ' ');
      const approved = await approve(typed);
      assert.equal(approved.status, 200, approved.text);
      assert.deepEqual(approved.body, { approved: true });
      const cli = await poll();
      assert.equal(cli.status, 200, cli.text);
      assert.equal(cli.body.status, 'signed-in');
      assert.match(String(cli.body.refreshToken), /^rft_/);
      const me = await meOf(ts, String(cli.body.token));
      assert.equal(me.username, 'wendy');
      assert.equal(me.signIn.client, 'cli');
      assert.notEqual(me.signIn.sessionId, webMe.signIn.sessionId);
      // It inherits the browser sign-in's MFA, marked as proved there.
      const inherited = { ...webMe.signIn.mfa, method: `browser:${webMe.signIn.mfa.method}` };
      assert.deepEqual(me.signIn.mfa, inherited, 'the CLI sign-in inherits the browser sign-in MFA');
      assert.ok(Number(cli.body.sessionExpiresAt) <= webMe.signIn.expiresAt, 'and ends no later than it');
      assertError(await poll(), 401, 'UNAUTHENTICATED', STEP_GONE);
      assertError(
        (await approve(userCode)) as ApiResponse,
        404,
        'NOT_FOUND',
        /no sign-in is waiting for this code/,
      );
      assertError(
        (await approve('BBBB-BBBB')) as ApiResponse,
        404,
        'NOT_FOUND',
        /^no sign-in is waiting for this code \(mistyped, or expired\): check the code your terminal shows$/,
      );
      assertError((await approve('not a code')) as ApiResponse, 404, 'NOT_FOUND', /no sign-in is waiting/);
      assertError(
        await ts.api('POST', '/api/v1/auth/device/token', { json: { deviceCode: 'nope' } }),
        400,
        'INVALID',
        /deviceCode must be the flw_… token/,
      );
      const wendyArn = 'arn:aws:sesame:local:000000000000:user/wendy';
      const trail = (await ts.server.store.listAudit({ actor: 'wendy' })).filter(
        (e) => e.action === 'sesame:ApproveDeviceSignIn' || e.detail.method === 'cli-handoff',
      );
      assert.deepEqual(
        trail.map((e) => `${e.action} ${e.resource}`),
        [`sesame:ApproveDeviceSignIn ${wendyArn}`, `sesame:SignIn ${wendyArn}`],
        'the hand-off is audited against the user ARN, as every other sign-in event is',
      );
    });

    test('loopback: authorize gives a redirect with code and state; the right verifier signs in once; a wrong one is 401', async () => {
      const verifier = 'verifier-0123456789-abcdefghijklmnop-0123456789';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const state = 'state-0123456789abcdef';
      const authorize = () =>
        http(ts, 'POST', '/api/v1/auth/cli/authorize', {
          json: { port: 49_152, state, codeChallenge: challenge },
          cookie,
          csrf,
        });
      const first = await authorize();
      assert.equal(first.status, 200, first.text);
      const redirect = new URL(String(first.body.redirect));
      assert.equal(`${redirect.origin}${redirect.pathname}`, 'http://127.0.0.1:49152/callback');
      assert.equal(redirect.searchParams.get('state'), state);
      const code = redirect.searchParams.get('code');
      assert.match(code ?? '', /^flw_/);
      const exchange = (c: unknown, codeVerifier: string) =>
        ts.api('POST', '/api/v1/auth/cli/token', { json: { code: c, codeVerifier } });
      assertError(
        await exchange(code, `${verifier}-wrong`),
        401,
        'UNAUTHENTICATED',
        /^codeVerifier does not match this sign-in: start `sesame login` again$/,
      );
      const second = new URL(String((await authorize()).body.redirect)).searchParams.get('code');
      const signedIn = await exchange(second, verifier);
      assert.equal(signedIn.status, 200, signedIn.text);
      assert.equal(signedIn.body.status, 'signed-in');
      const me = await meOf(ts, String(signedIn.body.token));
      assert.equal(me.username, 'wendy');
      assert.deepEqual(me.signIn.mfa, { ...webMe.signIn.mfa, method: `browser:${webMe.signIn.mfa.method}` });
      assertError(await exchange(second, verifier), 401, 'UNAUTHENTICATED', /expired or was already used/);
      const bad = (json: Body) => http(ts, 'POST', '/api/v1/auth/cli/authorize', { json, cookie, csrf });
      assertError(
        (await bad({ port: 80, state, codeChallenge: challenge })) as ApiResponse,
        400,
        'INVALID',
        /port must be 1024-65535/,
      );
      assertError(
        (await bad({ port: 49_152, state: 'x', codeChallenge: challenge })) as ApiResponse,
        400,
        'INVALID',
        /state must be 16-128/,
      );
      assertError(
        (await bad({ port: 49_152, state, codeChallenge: 'plain' })) as ApiResponse,
        400,
        'INVALID',
        /codeChallenge must be a S256 PKCE challenge/,
      );
      assertError(
        await ts.api('POST', '/api/v1/auth/cli/authorize', {
          json: { port: 49_152, state, codeChallenge: challenge },
        }),
        401,
        'UNAUTHENTICATED',
        /sign in first/,
      );
      // A CLI's access token (minutes long) must not mint a sign-in of its own, with its own refresh token: the
      // code would come back in the answer to whoever holds the token. Only a browser's sign-in hands off.
      const cliToken = String(signedIn.body.token);
      const onlyBrowser = /only a sign-in in the browser can sign in the CLI/;
      assertError(
        await ts.api('POST', '/api/v1/auth/cli/authorize', {
          token: cliToken,
          json: { port: 49_152, state, codeChallenge: challenge },
        }),
        403,
        'FORBIDDEN',
        onlyBrowser,
      );
      const device = await ts.api('POST', '/api/v1/auth/device', { json: {} });
      assertError(
        await ts.api('POST', '/api/v1/auth/device/approve', {
          token: cliToken,
          json: { userCode: device.body.userCode },
        }),
        403,
        'FORBIDDEN',
        onlyBrowser,
      );
      const poll = await ts.api('POST', '/api/v1/auth/device/token', {
        json: { deviceCode: device.body.deviceCode },
      });
      assert.deepEqual(poll.body, { status: 'pending' }, 'the refused approval approved nothing');
      const checked = await http(ts, 'POST', '/api/v1/auth/device/check', {
        json: { userCode: device.body.userCode },
        cookie,
        csrf,
      });
      assert.equal(checked.status, 200, `the refused approval did not use the code up: ${checked.text}`);
    });

    test('a CLI sign-in handed off from the browser ends with the browser sign-in', async () => {
      /** A browser sign-in of a new user: its cookie and CSRF token. */
      const browser = async (username: string) => {
        const { secret } = await created(ts, username);
        const code = nextCode(secret);
        const first = await http(ts, 'POST', '/api/v1/auth/login', {
          json: { username, password: ADMIN_PASSWORD, client: 'web' },
        });
        const device = cookiePair(cookieNamed(first.setCookies, 'sesame_device'));
        const done = await http(ts, 'POST', '/api/v1/auth/mfa', {
          json: { flow: first.body.flow, method: 'totp', code, client: 'web' },
          cookie: device,
        });
        assert.equal(done.status, 200, done.text);
        return {
          cookie: cookiePair(cookieNamed(done.setCookies, 'sesame_session')),
          csrf: String(done.body.csrfToken),
        };
      };
      const handOff = async (web: { cookie: string; csrf: string }) => {
        const started = await ts.api('POST', '/api/v1/auth/device', { json: {} });
        const { deviceCode, userCode } = started.body;
        const approved = await http(ts, 'POST', '/api/v1/auth/device/approve', {
          json: { userCode },
          ...web,
        });
        assert.equal(approved.status, 200, approved.text);
        return () => ts.api('POST', '/api/v1/auth/device/token', { json: { deviceCode } });
      };
      const logout = async (web: { cookie: string; csrf: string }) =>
        assert.equal((await http(ts, 'POST', '/api/v1/auth/logout', web)).status, 204);

      // Collected, then the browser signs out: the CLI sign-in goes with it.
      const web = await browser('hank');
      const cli = await (await handOff(web))();
      assert.equal(cli.status, 200, cli.text);
      // A handed-over sign-in (a phished approval, maybe) cannot add or remove an MFA device; the browser can.
      for (const [method, path] of [
        ['POST', '/api/v1/me/mfa-devices/totp'],
        ['DELETE', '/api/v1/me/mfa-devices/mfa-any'],
      ] as const)
        assertError(
          await ts.api(method, path, { token: String(cli.body.token) }),
          403,
          'FORBIDDEN',
          /approved in the browser, so it cannot change your MFA devices: change them in the browser/,
        );
      assert.equal((await http(ts, 'POST', '/api/v1/me/mfa-devices/totp', web)).status, 200);
      await logout(web);
      assert.equal((await ts.api('GET', '/api/v1/me', { token: String(cli.body.token) })).status, 401);
      const refreshed = await ts.api('POST', '/api/v1/auth/refresh', {
        json: { refreshToken: cli.body.refreshToken },
      });
      assert.equal(refreshed.status, 401, refreshed.text);

      // Approved, then the browser signs out before the CLI collects: nothing to collect.
      const again = await browser('ivan');
      const collect = await handOff(again);
      await logout(again);
      assertError(
        await collect(),
        401,
        'UNAUTHENTICATED',
        /the browser sign-in that approved this has ended/,
      );
    });
  });

  describe('self-service: my MFA devices and my sign-ins', () => {
    test('list, add a second authenticator, rename, remove; then sign in with the new one', async () => {
      const dora = await created(ts, 'dora');
      const as = (method: string, path: string, json?: unknown) =>
        ts.api(method, path, { token: dora.token, ...(json === undefined ? {} : { json }) });
      const list = async () =>
        (await as('GET', '/api/v1/me/mfa-devices')).body.devices as Record<string, unknown>[];
      const [phone] = await list();
      assert.equal(phone?.kind, 'totp');
      assert.equal(phone?.name, 'test phone');
      assert.equal(phone?.secret, undefined, 'the secret is never listed');
      const started = await as('POST', '/api/v1/me/mfa-devices/totp');
      assert.equal(started.status, 200, started.text);
      const secret = String(started.body.secret);
      assert.match(String(started.body.uri), /^otpauth:\/\/totp\/Sesame:dora\?/);
      const confirm = (code: string, name?: string) =>
        as('POST', '/api/v1/me/mfa-devices/totp/confirm', { enrolment: started.body.enrolment, code, name });
      assertError(
        await confirm(wrongTotpCode(secret)),
        401,
        'UNAUTHENTICATED',
        /^that code is not right \(4 attempts left\)$/,
      );
      assertError(
        await confirm(totpAt(secret, Date.now() / 1000), 'x\u0007'),
        400,
        'INVALID',
        /name must be 1-64 printable characters/,
      );
      const added = await confirm(totpAt(secret, Date.now() / 1000), 'backup phone');
      assert.equal(added.status, 200, added.text);
      const backup = added.body.device as { id: string; name: string };
      assert.equal(backup.name, 'backup phone');
      assert.deepEqual((await list()).map((d) => d.name).sort(), ['backup phone', 'test phone']);
      const renamed = await as('PATCH', `/api/v1/me/mfa-devices/${backup.id}`, { name: 'spare phone' });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal((renamed.body.device as { name: string }).name, 'spare phone');
      assertError(
        await as('PATCH', `/api/v1/me/mfa-devices/${backup.id}`, { name: '' }),
        400,
        'INVALID',
        /name must be 1-64/,
      );
      assertError(
        await as('PATCH', '/api/v1/me/mfa-devices/mfa-nope', { name: 'x' }),
        404,
        'NOT_FOUND',
        /you have no MFA device mfa-nope/,
      );
      const removed = await as('DELETE', `/api/v1/me/mfa-devices/${phone?.id}`);
      assert.equal(removed.status, 204, removed.text);
      assertError(
        await as('DELETE', `/api/v1/me/mfa-devices/${phone?.id}`),
        404,
        'NOT_FOUND',
        /you have no MFA device/,
      );
      assert.deepEqual(
        (await list()).map((d) => d.name),
        ['spare phone'],
      );
      // Someone else cannot touch dora's device.
      assertError(
        await ts.api('DELETE', `/api/v1/me/mfa-devices/${backup.id}`, { token: ts.adminToken }),
        404,
        'NOT_FOUND',
        /you have no MFA device/,
      );
      const first = await login(ts, 'dora');
      assertError(await mfa(ts, first.body.flow, nextCode(dora.secret)), 401, 'UNAUTHENTICATED', /not right/);
      const done = await mfa(ts, first.body.flow, nextCode(secret));
      assert.equal(done.status, 200, `the new device signs in: ${done.text}`);
    });

    test('my sign-ins: listed with the current one marked; revoking one ends it', async () => {
      const sid = await freshSignIn(ts, 'sid');
      const sessions = async (token: string) =>
        (await ts.api('GET', '/api/v1/me/sign-ins', { token })).body.sessions as Record<string, unknown>[];
      const listed = await sessions(sid.token);
      assert.equal(listed.length, 2, 'the setup sign-in and the login');
      const current = listed.filter((s) => s.current);
      assert.equal(current.length, 1);
      assert.equal(current[0]?.id, (await meOf(ts, sid.token)).signIn.sessionId);
      for (const s of listed) {
        assert.equal(s.method, 'password');
        assert.equal(s.client, 'cli');
        assert.equal(s.sourceAddress, '127.0.0.1');
      }
      const other = listed.find((s) => !s.current) as { id: string };
      const adminSession = (await meOf(ts, ts.adminToken)).signIn.sessionId;
      assertError(
        await ts.api('DELETE', `/api/v1/me/sign-ins/${adminSession}`, { token: sid.token }),
        404,
        'NOT_FOUND',
        /you have no active sign-in/,
      );
      assert.equal((await meOf(ts, ts.adminToken)).username, 'admin', "someone else's sign-in is untouched");
      const revoked = await ts.api('DELETE', `/api/v1/me/sign-ins/${other.id}`, { token: sid.token });
      assert.equal(revoked.status, 204, revoked.text);
      assert.deepEqual(
        (await sessions(sid.token)).map((s) => s.id),
        [current[0]?.id],
      );
      assertError(
        await ts.api('DELETE', `/api/v1/me/sign-ins/${other.id}`, { token: sid.token }),
        404,
        'NOT_FOUND',
        new RegExp(`you have no active sign-in ${other.id}`),
      );
    });
  });
});

describe('a browser sign-in over https (publicUrl https://…): __Host- cookies', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ file: { signIn: FAST, publicUrl: 'https://sesame.example.test' } });
  });
  after(() => ts.close());

  test('the cookies are __Host- (Secure, path /), and a bare-named one, which a sibling subdomain could set, is ignored', async () => {
    const { secret } = await created(ts, 'hana');
    const first = await http(ts, 'POST', '/api/v1/auth/login', {
      json: { username: 'hana', password: ADMIN_PASSWORD, client: 'web' },
    });
    assert.equal(first.body.status, 'mfa-required', first.text);
    const device = cookieNamed(first.setCookies, '__Host-sesame_device');
    assert.ok(device, `no __Host-sesame_device in ${JSON.stringify(first.setCookies)}`);
    for (const attribute of [/;\s*Secure/i, /;\s*Path=\/(;|$)/, /;\s*HttpOnly/i])
      assert.match(device, attribute);
    assert.doesNotMatch(device, /Domain=/i);
    const done = await http(ts, 'POST', '/api/v1/auth/mfa', {
      json: { flow: first.body.flow, method: 'totp', code: nextCode(secret), client: 'web' },
      cookie: cookiePair(device),
    });
    assert.equal(done.status, 200, done.text);
    const session = cookieNamed(done.setCookies, '__Host-sesame_session');
    assert.ok(session, `no __Host-sesame_session in ${JSON.stringify(done.setCookies)}`);
    for (const attribute of [/;\s*Secure/i, /;\s*Path=\/(;|$)/, /;\s*HttpOnly/i])
      assert.match(session, attribute);
    assert.equal(cookieNamed(done.setCookies, 'sesame_session'), undefined);
    const token = cookiePair(session).slice('__Host-sesame_session='.length);

    assert.equal((await http(ts, 'GET', '/api/v1/me', { cookie: cookiePair(session) })).status, 200);
    const planted = await http(ts, 'GET', '/api/v1/me', { cookie: `sesame_session=${token}` });
    assertError({ ...planted, body: planted.body }, 401, 'UNAUTHENTICATED', /sign/i);

    const out = await http(ts, 'POST', '/api/v1/auth/logout', {
      cookie: cookiePair(session),
      csrf: String(done.body.csrfToken),
    });
    assert.equal(out.status, 204, out.text);
    const cleared = cookieNamed(out.setCookies, '__Host-sesame_session');
    assert.ok(cleared, 'logout expires the __Host- cookie');
    assert.match(cleared, /;\s*Secure/i, 'only a Secure Set-Cookie can replace a __Host- cookie');
    assert.match(cleared, /Expires=Thu, 01 Jan 1970|Max-Age=0/i);
  });
});

describe('sign-in API with a mail server: email codes and lockout', () => {
  let sink: SmtpSink;
  let ts: TestServer;
  before(async () => {
    sink = await startSmtpSink();
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

  const codeIn = (message: { text: string }) => {
    const match = /\b(\d{6})\b/.exec(message.text);
    assert.ok(match, `no 6-digit code in:\n${message.text}`);
    return match[1] as string;
  };
  const mailTo = (address: string) => sink.messages.filter((m) => m.to.includes(address));

  test('lockout: the 4th attempt is 429 even with the right password, for an unknown name alike, all audited', async () => {
    await created(ts, 'lou');
    const attempts = async (username: string) => {
      const out: ApiResponse[] = [];
      for (let i = 0; i < 3; i++)
        out.push(
          await ts.api('POST', '/api/v1/auth/login', { json: { username, password: 'not the password' } }),
        );
      out.push(await login(ts, username));
      return out;
    };
    const lou = await attempts('lou');
    const ghost = await attempts('ghost');
    const shape = (responses: ApiResponse[]) =>
      responses.map(
        (r) =>
          `${r.status} ${(r.body.error as { code: string; message: string } | undefined)?.code} ${(r.body.error as { message: string } | undefined)?.message}`,
      );
    for (const r of lou.slice(0, 3)) assertError(r, 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assertError(
      lou[3] as ApiResponse,
      429,
      'RATE_LIMITED',
      /^too many failed sign-in attempts: try again in 15 minutes, or ask an administrator to unlock the account$/,
    );
    assert.deepEqual(shape(ghost), shape(lou), 'an unknown user name must look exactly like a real one');
    // An unknown name is not kept (it may be a password typed in the wrong field): anonymous, on user/*.
    for (const [actor, resource] of [
      ['lou', 'lou'],
      ['anonymous', '*'],
    ] as const) {
      const events = (await ts.server.store.listAudit({ actor })).filter(
        (e) => e.action === 'sesame:SignIn' && e.outcome !== 'succeeded', // lou's own setup sign-in succeeded
      );
      assert.deepEqual(
        events.map((e) => `${e.outcome} ${String(e.detail.reason)}${e.detail.locked ? ' (locked)' : ''}`),
        [
          'failed wrong user name or password',
          'failed wrong user name or password',
          'failed wrong user name or password (locked)',
          'failed rate limited',
        ],
        `${actor}: every attempt must be audited`,
      );
      for (const e of events) {
        assert.equal(e.sourceAddress, '127.0.0.1');
        assert.equal(e.resource, `arn:aws:sesame:local:000000000000:user/${resource}`);
      }
    }
    const trail = JSON.stringify(await ts.server.store.listAudit({}));
    assert.ok(!trail.includes('not the password'), 'no password in the trail');
    assert.ok(!trail.includes('ghost'), 'no unknown user name in the trail');
  });

  test('a stranger who locks a name does not lock its owner out of a device that completed MFA as them', async () => {
    const { secret } = await created(ts, 'kai');
    const laptop = { device: 'kai-laptop-0123456789' };
    const first = await login(ts, 'kai', laptop);
    assert.equal(
      (await mfa(ts, first.body.flow, nextCode(secret), laptop)).status,
      200,
      'the laptop is known',
    );
    const guess = (extra: Body = {}) =>
      ts.api('POST', '/api/v1/auth/login', { json: { username: 'kai', password: 'a guess', ...extra } });
    for (let i = 0; i < 3; i++) assertError(await guess(), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    const LOCKED = /^too many failed sign-in attempts/;
    assertError(await login(ts, 'kai'), 429, 'RATE_LIMITED', LOCKED);
    assertError(await login(ts, 'kai', { device: 'somebody-else-0000' }), 429, 'RATE_LIMITED', LOCKED);

    // kai, from the laptop: past the password, and the MFA step's lock check too (a wrong code is only wrong).
    const again = await login(ts, 'kai', laptop);
    assert.equal(again.body.status, 'mfa-required', again.text);
    assertError(
      await mfa(ts, again.body.flow, wrongTotpCode(secret), laptop),
      401,
      'UNAUTHENTICATED',
      /not right/,
    );
    // Failures on the laptop have a lock of their own, as large: a stolen device cookie is no way around it.
    for (let i = 0; i < 2; i++) assertError(await guess(laptop), 401, 'UNAUTHENTICATED', WRONG_PASSWORD);
    assertError(await login(ts, 'kai', laptop), 429, 'RATE_LIMITED', LOCKED);

    // An administrator's unlock ends both locks.
    assert.equal((await ts.api('POST', '/api/v1/users/kai/unlock', { token: ts.adminToken })).status, 204);
    assert.equal((await login(ts, 'kai')).body.status, 'mfa-required');
    assert.equal((await login(ts, 'kai', laptop)).body.status, 'mfa-required');
  });

  describe('withoutDevice: email-code', () => {
    before(async () => {
      await created(ts, 'tia');
      const put = await ts.api('PUT', '/api/v1/settings/mfa', {
        token: ts.adminToken,
        json: { withoutDevice: 'email-code' },
      });
      assert.equal(put.status, 200, put.text);
    });

    const setUp = async (username: string, email?: string) => {
      const made = await ts.api('POST', '/api/v1/users', { token: ts.adminToken, json: { username, email } });
      assert.equal(made.status, 200, made.text);
      return ts.api('POST', '/api/v1/auth/setup', {
        json: { token: made.body.setupToken, password: ADMIN_PASSWORD },
      });
    };

    test('a user without a device gets a 6-digit code by email and signs in with it; a wrong one is refused', async () => {
      const setup = await setUp('erin', 'erin@example.com');
      assert.equal(setup.status, 200, setup.text);
      assert.equal(setup.body.status, 'mfa-required');
      assert.deepEqual(setup.body.methods, ['email']);
      assert.equal(setup.body.emailSentTo, 'e•••@example.com');
      const message = await sink.waitForMessage((m) => m.to.includes('erin@example.com'));
      assert.equal(message.subject, 'Your Sesame sign-in code');
      const code = codeIn(message);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      const send = (c: string) =>
        ts.api('POST', '/api/v1/auth/mfa', { json: { flow: setup.body.flow, method: 'email', code: c } });
      assertError(await send(wrong), 401, 'UNAUTHENTICATED', /^that code is not right \(4 attempts left\)$/);
      assertError(await send('12ab56'), 400, 'INVALID', /^the code must be the 6 digits in the email$/);
      const done = await send(code);
      assert.equal(done.status, 200, done.text);
      assert.equal((await meOf(ts, String(done.body.token))).signIn.mfa.method, 'email');
      assertError(await send(code), 401, 'UNAUTHENTICATED', STEP_GONE);
      assert.ok(
        !JSON.stringify(await ts.server.store.listAudit({})).includes(code),
        'the code is not in the audit trail',
      );
      assert.ok(!ts.logs.join('').includes(`code is ${code}`), 'the code is not in the log');
    });

    test('resending replaces the code, at most 3 codes per sign-in', async () => {
      const first = await login(ts, 'erin');
      assert.equal(first.body.status, 'mfa-required', first.text);
      const resend = () => ts.api('POST', '/api/v1/auth/mfa/email', { json: { flow: first.body.flow } });
      const count = mailTo('erin@example.com').length;
      const r1 = await resend();
      assert.equal(r1.status, 200, r1.text);
      assert.deepEqual(r1.body, { emailSentTo: 'e•••@example.com' });
      assert.equal((await resend()).status, 200);
      assertError(
        await resend(),
        429,
        'RATE_LIMITED',
        /^too many codes were sent for this sign-in: start signing in again$/,
      );
      const codes = mailTo('erin@example.com')
        .slice(count - 1)
        .map(codeIn);
      assert.equal(codes.length, 3);
      const send = (c: string) =>
        ts.api('POST', '/api/v1/auth/mfa', { json: { flow: first.body.flow, method: 'email', code: c } });
      if (codes[0] !== codes[2])
        assertError(await send(codes[0] as string), 401, 'UNAUTHENTICATED', /not right/);
      assert.equal((await send(codes[2] as string)).status, 200, 'the newest code works');
    });

    test('a user with an authenticator app is still asked for it; no email goes out', async () => {
      const before = sink.messages.length;
      const response = await login(ts, 'tia');
      assert.equal(response.body.status, 'mfa-required', response.text);
      assert.deepEqual(response.body.methods, ['totp']);
      assert.equal(response.body.emailSentTo, undefined);
      assertError(
        await ts.api('POST', '/api/v1/auth/mfa/email', { json: { flow: response.body.flow } }),
        400,
        'INVALID',
        /this sign-in does not offer an email code/,
      );
      assert.equal(sink.messages.length, before);
    });

    test('a user with neither a device nor an address is refused, saying to ask an administrator', async () => {
      assertError(await setUp('noel'), 403, 'FORBIDDEN', /no MFA device.*ask an administrator/);
    });
  });
});

describe('sign-in API: a flood of refused sign-ins', () => {
  // A server of its own: the audit limiter's minute starts with this flood, not with another test's refusal.
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ file: { signIn: { ...FAST, maxAccountFailures: 3 } } });
  });
  after(() => ts.close());

  test('a flood of sign-ins to a locked account writes at most 20 audit rows a minute from one address', async () => {
    for (let i = 0; i < 3; i++)
      await ts.api('POST', '/api/v1/auth/login', {
        json: { username: 'flood', password: 'not the password' },
      });
    for (let i = 0; i < 40; i++) {
      const refused = await ts.api('POST', '/api/v1/auth/login', {
        json: { username: 'flood', password: 'x' },
      });
      assert.equal(refused.status, 429);
    }
    const refusals = (await ts.server.store.listAudit({ limit: 10_000 })).filter(
      (e) => e.action === 'sesame:SignIn' && e.detail.reason === 'rate limited',
    );
    assert.ok(refusals.length <= 20, `${refusals.length} rows`);
    assert.ok(
      refusals.some((e) => e.actor === 'anonymous'), // 'flood' is no account: its name is not kept
      'the first refusals are audited',
    );
  });
});

describe('sign-in service (fake clock)', () => {
  const PASSWORD = 'a long enough passphrase';
  const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  let f: Awaited<ReturnType<typeof serviceFixture>>;
  let settings: MfaSettings;
  let sent: MailMessage[];
  let signIn: ReturnType<typeof createSignInService>;
  let user: User;
  const ctx = (overrides: Partial<SignInContext> = {}): SignInContext => ({
    sourceAddress: '192.0.2.1',
    client: 'cli',
    deviceId: null,
    browserDeviceId: null,
    rp: { rpId: 'localhost', origin: 'http://localhost' },
    ...overrides,
  });
  const code = (offsetSeconds = 0) => totpAt(SECRET, f.now() / 1000 + offsetSeconds);

  beforeEach(async () => {
    f = await serviceFixture();
    settings = { prompt: 'always', methods: ['totp', 'webauthn'], withoutDevice: 'email-code' };
    sent = [];
    const flows = createFlows({ store: f.store, now: f.now });
    const sessions = createSignInSessions({
      store: f.store,
      audit: f.audit,
      arn: f.arn,
      accessTokenTtlMs: 15 * MINUTE,
      maxSessionMsFor: () => HOUR,
      now: f.now,
    });
    signIn = createSignInService({
      store: f.store,
      flows,
      sessions,
      enrolment: createMfaEnrolment({
        store: f.store,
        flows,
        issuer: 'Sesame',
        now: f.now,
        secrets: TEST_SECRETS,
      }),
      throttle: createThrottle({
        store: f.store,
        windowMs: 15 * MINUTE,
        lockoutMs: 15 * MINUTE,
        limits: { account: 50, address: 1000 },
        now: f.now,
      }),
      audit: f.audit,
      log: f.log,
      arn: f.arn,
      mfaSettings: async () => settings,
      mailer: { send: async (message) => void sent.push(message) },
      issuer: 'Sesame',
      scryptCost: { N: 1024, r: 8, p: 1 },
      now: f.now,
    });
    user = await f.store.createUser({
      id: 'u-erin',
      username: 'erin',
      passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }),
      isAdmin: false,
      createdAt: f.now(),
      email: 'erin@example.com',
    });
  });
  afterEach(() => f.store.close());

  const addTotp = () =>
    f.store.createMfaDevice(
      mfaDevice({ id: 'mfa-erin', userId: user.id, secret: SECRET, createdAt: f.now() }),
    );
  const password = (c: SignInContext = ctx()) => signIn.password({ username: 'erin', password: PASSWORD }, c);
  const flowOf = (result: Awaited<ReturnType<typeof password>>) => {
    assert.notEqual(result.status, 'signed-in');
    return (result as { flow: string }).flow;
  };

  test('an email code works until its 10 minutes are up, then the sign-in must start again', async () => {
    const result = await password();
    assert.equal(result.status, 'mfa-required');
    const emailed = /\b(\d{6})\b/.exec(sent[0]?.text ?? '')?.[1] as string;
    f.advance(10 * MINUTE - 1);
    const early = await password();
    const earlyCode = /\b(\d{6})\b/.exec(sent[1]?.text ?? '')?.[1] as string;
    f.advance(1);
    await rejects(
      signIn.verifyMfa({ flow: flowOf(result), method: 'email', code: emailed }, ctx()),
      'UNAUTHENTICATED',
      /expired/,
    );
    f.advance(10 * MINUTE - 2);
    const done = await signIn.verifyMfa({ flow: flowOf(early), method: 'email', code: earlyCode }, ctx());
    assert.equal(done.status, 'signed-in');
  });

  test('TOTP: the code of the next step is accepted once; two steps ahead is wrong; replay is "used"', async () => {
    await addTotp();
    const first = await password();
    await rejects(
      signIn.verifyMfa({ flow: flowOf(first), method: 'totp', code: code(60) }, ctx()),
      'UNAUTHENTICATED',
      /^that code is not right \(4 attempts left\)$/,
    );
    const done = await signIn.verifyMfa({ flow: flowOf(first), method: 'totp', code: code(30) }, ctx());
    assert.equal(done.status, 'signed-in');
    const second = await password();
    await rejects(
      signIn.verifyMfa({ flow: flowOf(second), method: 'totp', code: code(0) }, ctx()),
      'UNAUTHENTICATED',
      /used already/,
    );
    f.advance(30_000);
    await rejects(
      signIn.verifyMfa({ flow: flowOf(second), method: 'totp', code: code(0) }, ctx()),
      'UNAUTHENTICATED',
      /used already/,
    );
    f.advance(30_000);
    assert.equal(
      (await signIn.verifyMfa({ flow: flowOf(second), method: 'totp', code: code(0) }, ctx())).status,
      'signed-in',
    );
  });

  test("the owner's sign-in from a known device leaves a stranger's lock on the name in place", async () => {
    await addTotp();
    const laptop = ctx({ deviceId: 'laptop-0123456789abcdef' });
    await signIn.verifyMfa({ flow: flowOf(await password(laptop)), method: 'totp', code: code() }, laptop);
    const wrong = (c: SignInContext) => signIn.password({ username: 'erin', password: 'a guess' }, c);
    for (let i = 0; i < 50; i++) await assert.rejects(wrong(ctx()), { code: 'UNAUTHENTICATED' });
    await assert.rejects(password(), { code: 'RATE_LIMITED' });
    f.advance(30_000);
    const owner = await password(laptop);
    assert.equal(
      (await signIn.verifyMfa({ flow: flowOf(owner), method: 'totp', code: code() }, laptop)).status,
      'signed-in',
    );
    // The stranger still meets the lock; their guesses were not forgiven by the owner's sign-in.
    await assert.rejects(password(), { code: 'RATE_LIMITED' });
    // A typed name no account can have cannot spell out the laptop's scope.
    await assert.rejects(
      signIn.password({ username: `erin|device:${'x'.repeat(43)}`, password: 'a guess' }, ctx()),
      { code: 'UNAUTHENTICATED' },
    );
  });

  test('an MFA step counts on the device its sign-in began on, whatever device a later request names', async () => {
    await addTotp();
    const laptop = ctx({ deviceId: 'laptop-0123456789abcdef' });
    await signIn.verifyMfa({ flow: flowOf(await password(laptop)), method: 'totp', code: code() }, laptop);
    // A sign-in begun without the laptop: its wrong codes count on the name, even when the requests name the laptop.
    for (let round = 0; round < 10; round++) {
      const flow = flowOf(await password());
      for (let i = 0; i < 5; i++)
        await assert.rejects(signIn.verifyMfa({ flow, method: 'totp', code: '000000' }, laptop), {
          code: /UNAUTHENTICATED|RATE_LIMITED/,
        });
    }
    await assert.rejects(password(), { code: 'RATE_LIMITED' });
    assert.equal((await password(laptop)).status, 'mfa-required', 'the laptop itself is not locked');
  });

  test('context-change: a known device from another address is asked again', async () => {
    settings = { ...settings, prompt: 'context-change' };
    await addTotp();
    const here = ctx({ deviceId: 'laptop-0123456789abcdef' });
    const first = await password(here);
    await signIn.verifyMfa({ flow: flowOf(first), method: 'totp', code: code() }, here);
    assert.equal((await password(here)).status, 'signed-in');
    const moved = await password({ ...here, sourceAddress: '198.51.100.9' });
    assert.equal(moved.status, 'mfa-required', 'the same device from a new address must be asked for MFA');
  });

  test('after a raise of the hashing cost, a remembered device and two sign-ins at once still sign in', async () => {
    settings = { ...settings, prompt: 'context-change' };
    await addTotp();
    const here = ctx({ deviceId: 'laptop-0123456789abcdef' });
    await signIn.verifyMfa({ flow: flowOf(await password(here)), method: 'totp', code: code() }, here);
    const weaker = () => hashPassword(PASSWORD, { N: 512, r: 8, p: 1 });
    // The remembered device's sign-in re-hashes the password and finishes at once, on the new hash.
    await f.store.setPasswordHash(user.id, await weaker());
    assert.equal((await password(here)).status, 'signed-in');
    assert.match(String((await f.store.getUserById(user.id))?.passwordHash), /^scrypt\$1024\$/);
    // Two sign-ins re-hash at once: one write wins, and both go on to their second factor and finish.
    await f.store.setPasswordHash(user.id, await weaker());
    const [a, b] = await Promise.all([password(), password()]);
    f.advance(30_000);
    assert.equal(
      (await signIn.verifyMfa({ flow: flowOf(a), method: 'totp', code: code() }, ctx())).status,
      'signed-in',
    );
    f.advance(30_000);
    assert.equal(
      (await signIn.verifyMfa({ flow: flowOf(b), method: 'totp', code: code() }, ctx())).status,
      'signed-in',
    );
  });

  test('context-change: a device is remembered for 30 days from the MFA, not from the last sign-in', async () => {
    settings = { ...settings, prompt: 'context-change' };
    await addTotp();
    const here = ctx({ deviceId: 'laptop-0123456789abcdef' });
    const first = await password(here);
    await signIn.verifyMfa({ flow: flowOf(first), method: 'totp', code: code() }, here);
    f.advance(20 * 24 * HOUR);
    assert.equal((await password(here)).status, 'signed-in', 'day 20: remembered');
    f.advance(11 * 24 * HOUR);
    assert.equal(
      (await password(here)).status,
      'mfa-required',
      'day 31: the MFA of day 0 is too old; a remembered sign-in must not extend the remembering',
    );
  });
});
