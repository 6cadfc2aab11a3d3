/**
 * OpenID Connect single sign-on end to end: a real Sesame server, a real OpenID provider (panva's
 * oidc-provider) on loopback, and the browser's redirects followed by hand. Covers just-in-time provisioning
 * (name, groups, principal tags), MFA trusted from the IdP or asked on top, the State Street ABAC decision
 * through the real authorizer, re-provisioning on the next sign-in, no take-over of local accounts, and
 * every kind of bad callback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, assertError, startTestServer, type TestServer } from '../test-server.ts';
import {
  startTestOidcProvider,
  type TestLogin,
  type TestOidcProvider,
} from './oidc-provider.test-support.ts';
import { getWithoutRedirect, type Landing, landingOf, ssoFailureReason } from './sso-landing.test-support.ts';
import { setUpStateStreetPam } from './state-street-pam.test-support.ts';
import { totpAt } from './totp.ts';

const SECRET = 'oidc-client-secret-for-tests';
const TAGS = { AppGroupName: 'webserver', AppId: 'ABC', ReleaseId: '1.0' };

describe('OIDC single sign-on against a real OpenID provider', () => {
  let ts: TestServer;
  let op: TestOidcProvider;
  const instances: Record<string, string> = {};
  const admin = (method: string, path: string, json?: unknown) =>
    ts.api(method, path, { token: ts.adminToken, ...(json === undefined ? {} : { json }) });
  const ok = async (response: Promise<ApiResponse>) => {
    const r = await response;
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const provider = (id: string, mfa: 'trust-idp' | 'require') =>
    ok(
      admin('POST', '/api/v1/identity-providers', {
        id,
        kind: 'oidc',
        name: `Corp ${id}`,
        config: {
          issuer: op.issuer,
          clientId: 'sesame',
          clientSecret: SECRET,
          allowInsecureHttp: true,
          mfa,
          mapping: { tags: { AppGroupName: 'AppGroupName', AppId: 'AppId', ReleaseId: 'ReleaseId' } },
        },
      }),
    );

  before(async () => {
    ts = await startTestServer();
    op = await startTestOidcProvider({
      clientId: 'sesame',
      clientSecret: SECRET,
      redirectUris: [`${ts.url}/sso/corp/callback`, `${ts.url}/sso/corp-strict/callback`],
    });
    await provider('corp', 'trust-idp');
    await provider('corp-strict', 'require');
    Object.assign(
      instances,
      await setUpStateStreetPam(
        ts,
        ['auditors'],
        [
          ['web-1', 'webserver', 'ABC', '1.0'],
          ['web-other-app', 'webserver', 'DEF', '1.0'],
          ['web-other-release', 'webserver', 'ABC', '2.0'],
        ],
      ),
    );
    const account = (name: string, extra: Record<string, unknown> = {}) =>
      op.setAccount(name, {
        preferred_username: name,
        email: `${name}@corp.example`,
        groups: ['pam-users', 'not-a-sesame-group'],
        ...TAGS,
        ...extra,
      });
    for (const name of ['alice', 'bob', 'dave', 'eve']) account(name);
  });
  after(async () => {
    await op?.close();
    await ts?.close();
  });

  const get = (path: string, cookie?: string) => getWithoutRedirect(`${ts.url}${path}`, cookie);
  const land = async (path: string, browser?: string): Promise<Landing> =>
    landingOf(await get(path, browser));
  /** GET /sso/<id>/start, the IdP's login, then the callback on Sesame: where the browser lands. */
  const signIn = async (login: TestLogin | undefined, id = 'corp', next = '/console/') => {
    const start = await get(`/sso/${id}/start?next=${encodeURIComponent(next)}`);
    assert.equal(start.status, 303);
    const authUrl = start.headers.get('location') ?? '';
    assert.ok(authUrl.startsWith(`${op.issuer}/`), authUrl);
    const callback = await op.followLogin(authUrl, login);
    const path = `${callback.pathname}${callback.search}`;
    // The browser that started comes back with its device cookie.
    const browser = start.headers
      .getSetCookie()
      .find((c) => c.startsWith('sesame_device='))
      ?.split(';')[0];
    const landing = await land(path, browser);
    landing.device ||= browser ?? '';
    return { path, browser, landing };
  };
  const me = async (cookie: string | undefined) => {
    const response = await fetch(`${ts.url}/api/v1/me`, { headers: { cookie: cookie ?? '' } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { user: Record<string, unknown> }).user as {
      username: string;
      source: string;
      email: string;
      groups: string[];
      tags: Record<string, string>;
      signIn: { method: string; provider: string; mfa: { present: boolean; method: string | null } };
    };
  };
  const listing = async (cookie: string | undefined) => {
    const response = await fetch(`${ts.url}/api/v1/instances`, { headers: { cookie: cookie ?? '' } });
    const body = (await response.json()) as { instances?: { tags: { Name: string } }[] };
    return { status: response.status, names: (body.instances ?? []).map((i) => i.tags.Name).sort() };
  };
  const simulate = async (username: string, target: string) => {
    const body = await ok(
      admin('POST', '/api/v1/policy/simulate', { username, action: 'ssm:StartSession', target }),
    );
    return (body.decision as { allowed: boolean }).allowed;
  };
  const loginError = (landing: Landing, pattern: RegExp) => {
    assert.equal(landing.status, 303);
    assert.equal(landing.location, '/login#sso-error');
    assert.equal(landing.cookie, undefined, 'a failed sign-in sets no session cookie');
    const message = ssoFailureReason(landing, ts.logs).reason;
    assert.match(message, pattern);
    return message;
  };
  const auditedFailure = async (reason: RegExp) => {
    const events = await ts.server.store.listAudit({});
    const hit = events.find(
      (e) => e.action === 'sesame:SignIn' && e.outcome === 'failed' && reason.test(String(e.detail.reason)),
    );
    assert.ok(hit, `no failed sesame:SignIn audit event with reason ${reason}`);
  };
  const enrol = async (landing: Landing, username: string) => {
    assert.equal(landing.status, 303);
    assert.equal(landing.cookie, undefined, 'no session before MFA');
    assert.ok(landing.location.startsWith('/login#'), landing.location);
    assert.equal(landing.hash.get('status'), 'enrol-required');
    const flow = landing.hash.get('flow');
    const secret = String(
      (
        await ok(
          ts.api('POST', '/api/v1/auth/enrol/totp', { json: { flow }, headers: { cookie: landing.device } }),
        )
      ).secret,
    );
    ts.totpSecrets.set(username, secret);
    const code = totpAt(secret, Date.now() / 1000);
    const response = await fetch(`${ts.url}/api/v1/auth/enrol/totp/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: landing.device },
      body: JSON.stringify({ flow, code, client: 'web' }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'signed-in');
    assert.equal(body.token, undefined, 'a browser gets a cookie, not a token');
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('sesame_session='));
    assert.ok(cookie, 'the enrolment answer sets the session cookie');
    return { cookie: cookie.split(';')[0], body };
  };

  test('IdP MFA trusted: signed in, provisioned just in time, and the ABAC policy decides', async () => {
    const { landing } = await signIn({ accountId: 'alice', amr: ['pwd', 'mfa'] });
    assert.equal(landing.status, 303);
    assert.equal(landing.location, '/console/');
    assert.ok(landing.cookie, 'sesame_session is set');
    const user = await me(landing.cookie);
    assert.equal(user.username, 'alice');
    assert.equal(user.source, 'corp');
    assert.equal(user.email, 'alice@corp.example');
    assert.deepEqual(user.groups, ['pam-users'], 'IdP groups unknown to Sesame are ignored');
    assert.deepEqual(user.tags, TAGS);
    assert.equal(user.signIn.method, 'sso');
    assert.equal(user.signIn.provider, 'corp');
    assert.deepEqual(user.signIn.mfa.present, true);
    assert.equal(user.signIn.mfa.method, 'idp');

    assert.deepEqual(await listing(landing.cookie), { status: 200, names: ['web-1'] });
    assert.equal(await simulate('alice', instances['web-1'] as string), true);
    assert.equal(
      await simulate('alice', instances['web-other-app'] as string),
      false,
      'APP_ID (trailing space) differs',
    );
    assert.equal(
      await simulate('alice', instances['web-other-release'] as string),
      false,
      'RELEASE_ID differs',
    );
  });

  test('a deep link given at start is where the browser lands', async () => {
    const { landing } = await signIn(
      { accountId: 'alice', amr: ['mfa'] },
      'corp',
      '/console/connect?target=web-1',
    );
    assert.equal(landing.location, '/console/connect?target=web-1');
    assert.ok(landing.cookie);
  });

  test('without MFA at the IdP (amr pwd) Sesame asks for its own: enrol, then signed in', async () => {
    const { landing } = await signIn({ accountId: 'bob', amr: ['pwd'] });
    const { cookie, body } = await enrol(landing, 'bob');
    assert.equal(body.redirect, '/console/');
    const user = await me(cookie);
    assert.equal(user.username, 'bob');
    assert.equal(user.signIn.mfa.method, 'totp');
    assert.deepEqual(user.groups, ['pam-users']);
  });

  test("mfa 'require' asks for Sesame MFA even when the IdP did MFA; next time a code", async () => {
    const first = await signIn({ accountId: 'dave', amr: ['mfa'] }, 'corp-strict');
    const { cookie } = await enrol(first.landing, 'dave');
    assert.equal((await me(cookie)).signIn.provider, 'corp-strict');
    const again = await signIn({ accountId: 'dave', amr: ['mfa'] }, 'corp-strict');
    assert.equal(again.landing.hash.get('status'), 'mfa-required');
    assert.equal(again.landing.cookie, undefined);
  });

  test('the next sign-in applies changed claims: tags and group membership, removal included', async () => {
    op.setAccount('alice', {
      preferred_username: 'alice',
      email: 'alice@corp.example',
      groups: ['auditors'],
      AppGroupName: 'webserver',
      AppId: 'DEF',
    });
    const { landing } = await signIn({ accountId: 'alice', amr: ['mfa'] });
    const user = await me(landing.cookie);
    assert.deepEqual(user.groups, ['auditors'], 'removed from pam-users');
    assert.deepEqual(user.tags, { AppGroupName: 'webserver', AppId: 'DEF' }, 'ReleaseId dropped');
    assert.equal((await listing(landing.cookie)).status, 403, 'no permission set any more');
    assert.equal(await simulate('alice', instances['web-1'] as string), false);

    op.setAccount('alice', {
      preferred_username: 'alice',
      email: 'alice@corp.example',
      groups: ['pam-users'],
      AppGroupName: 'webserver',
      AppId: 'DEF',
      ReleaseId: '1.0',
    });
    const back = await signIn({ accountId: 'alice', amr: ['mfa'] });
    assert.deepEqual(await listing(back.landing.cookie), { status: 200, names: ['web-other-app'] });
  });

  test('a sign-in with the same claims changes nothing: no provisioning event (the access model is reloaded only with one)', async () => {
    const provisioned = async () =>
      (await ts.server.store.listAudit({ actor: 'alice' })).filter((e) => e.action === 'sesame:ProvisionUser')
        .length;
    await signIn({ accountId: 'alice', amr: ['mfa'] });
    const before = await provisioned();
    const again = await signIn({ accountId: 'alice', amr: ['mfa'] });
    assert.ok(again.landing.cookie, 'signed in');
    assert.equal(await provisioned(), before);
    op.setAccount('alice', {
      preferred_username: 'alice',
      email: 'alice@corp.example',
      groups: ['pam-users'],
      AppGroupName: 'webserver',
      AppId: 'ABC',
      ReleaseId: '1.0',
    });
    await signIn({ accountId: 'alice', amr: ['mfa'] });
    assert.equal(await provisioned(), before + 1, 'changed tags are provisioned and audited');
    assert.deepEqual(await listing((await signIn({ accountId: 'alice', amr: ['mfa'] })).landing.cookie), {
      status: 200,
      names: ['web-1'],
    });
  });

  test("an IdP group named like Sesame's Administrators makes no one an administrator, nor removes one", async () => {
    op.setAccount('mallory', {
      preferred_username: 'mallory',
      email: 'mallory@corp.example',
      groups: ['administrators', 'Administrators', 'pam-users'],
    });
    const first = await signIn({ accountId: 'mallory', amr: ['mfa'] });
    assert.deepEqual((await me(first.landing.cookie)).groups, ['pam-users']);
    // An administrator made in Sesame stays one, whatever the IdP's groups say.
    const admins = await ts.server.store.getGroupByName('Administrators');
    const mallory = await ts.server.store.getUserByUsername('mallory');
    assert.ok(admins && mallory);
    await ts.server.store.addGroupMember(admins.id, mallory.id);
    op.setAccount('mallory', { preferred_username: 'mallory', email: 'mallory@corp.example', groups: [] });
    const again = await signIn({ accountId: 'mallory', amr: ['mfa'] });
    assert.deepEqual((await me(again.landing.cookie)).groups, ['Administrators']);
  });

  test('a local account with the same name is never taken over', async () => {
    await ok(admin('POST', '/api/v1/users', { username: 'eve' }));
    const { landing } = await signIn({ accountId: 'eve', amr: ['mfa'] });
    loginError(landing, /the user name "eve" already belongs to another Sesame account/);
    await auditedFailure(/user name taken/);
    const eve = (await ok(admin('GET', '/api/v1/users/eve'))).user as { source: string | null };
    assert.equal(eve.source, 'local', 'the local account is not linked to the IdP');
  });

  test('a user name that would share session ids with another user is refused, clearly and audited', async () => {
    // "alice" exists (from the IdP): "alice-ops" would have its sessions matched by alice's session/${aws:username}-*.
    op.setAccount('alice-ops', { preferred_username: 'alice-ops', groups: ['pam-users'] });
    const { landing } = await signIn({ accountId: 'alice-ops', amr: ['mfa'] });
    loginError(
      landing,
      /Sesame cannot create an account for "alice-ops": the username "alice-ops" cannot be used while "alice" exists: .*ask an administrator/,
    );
    await auditedFailure(/user name refused/);
    assertError(await admin('GET', '/api/v1/users/alice-ops'), 404, 'NOT_FOUND', /alice-ops/);
  });

  test('a user disabled in Sesame cannot come back through the IdP', async () => {
    await ok(admin('POST', '/api/v1/users/bob/disable'));
    const { landing } = await signIn({ accountId: 'bob', amr: ['mfa'] });
    loginError(landing, /this account is disabled in Sesame/);
    await auditedFailure(/^disabled$/);
    await ok(admin('POST', '/api/v1/users/bob/enable'));
  });

  test('a user name the IdP sends that Sesame cannot use is refused, clearly and audited', async () => {
    op.setAccount('mallory', { preferred_username: "Mallory O'Hara", groups: ['pam-users'] });
    const { landing } = await signIn({ accountId: 'mallory', amr: ['mfa'] });
    loginError(landing, /\(from "preferred_username"\) cannot be a Sesame user name/);
    await auditedFailure(/cannot be a Sesame user name/);
  });

  test('updating a provider with a config that is not an object is refused and changes nothing', async () => {
    const providers = async () => (await ok(admin('GET', '/api/v1/identity-providers'))).providers;
    const before = await providers();
    for (const config of [null, 'issuer=https://idp.example', ['clientId']])
      assertError(
        await admin('PUT', '/api/v1/identity-providers/corp', { config }),
        400,
        'INVALID',
        /config must be an object/,
      );
    assert.deepEqual(await providers(), before);
  });

  test('the stored client secret is kept only for the issuer and client it was given for', async () => {
    const providers = async () => (await ok(admin('GET', '/api/v1/identity-providers'))).providers;
    const before = await providers();
    const config = {
      issuer: op.issuer,
      clientId: 'sesame',
      allowInsecureHttp: true,
      mfa: 'trust-idp',
      mapping: { tags: { AppGroupName: 'AppGroupName', AppId: 'AppId', ReleaseId: 'ReleaseId' } },
    };
    for (const changed of [{ issuer: 'https://idp.evil.example' }, { clientId: 'other' }])
      assertError(
        await admin('PUT', '/api/v1/identity-providers/corp', { config: { ...config, ...changed } }),
        400,
        'INVALID',
        /clientSecret: must be given again when issuer or clientId changes/,
      );
    assert.deepEqual(await providers(), before);
    // Same issuer and client: the secret is kept.
    await ok(admin('PUT', '/api/v1/identity-providers/corp', { config }));
    const corp = ((await providers()) as { id: string; config: { clientSecret?: string } }[]).find(
      (p) => p.id === 'corp',
    );
    assert.equal(corp?.config.clientSecret, '(set)');
  });

  test('creating a provider refuses an enabled that is not true or false, and an oversized secret', async () => {
    const base = { kind: 'oidc', name: 'X', config: { issuer: op.issuer, clientId: 'x', clientSecret: 's' } };
    assertError(
      await admin('POST', '/api/v1/identity-providers', { ...base, id: 'x1', enabled: 'false' }),
      400,
      'INVALID',
      /enabled must be true or false/,
    );
    assertError(
      await admin('POST', '/api/v1/identity-providers', {
        ...base,
        id: 'x2',
        config: { ...base.config, clientSecret: 's'.repeat(4097) },
      }),
      400,
      'INVALID',
      /clientSecret: must be a non-empty string of at most 4096 characters/,
    );
    const ids = ((await ok(admin('GET', '/api/v1/identity-providers'))).providers as { id: string }[]).map(
      (p) => p.id,
    );
    assert.ok(!ids.includes('x1') && !ids.includes('x2'), ids.join());
  });

  test('a callback with a wrong state is refused, clearly and audited', async () => {
    const start = await get('/sso/corp/start?next=/console/');
    const callback = await op.followLogin(start.headers.get('location') ?? '', {
      accountId: 'alice',
      amr: ['mfa'],
    });
    callback.searchParams.set('state', 'x'.repeat(43));
    const landing = await land(`${callback.pathname}${callback.search}`);
    loginError(landing, /does not belong to a sign-in started here, or it expired: start again/);
    await auditedFailure(/does not belong to a sign-in started here/);
  });

  test("a callback carrying another provider's state is refused", async () => {
    const start = await get('/sso/corp-strict/start?next=/console/');
    const callback = await op.followLogin(start.headers.get('location') ?? '', {
      accountId: 'alice',
      amr: ['mfa'],
    });
    const landing = await land(`/sso/corp/callback${callback.search}`);
    loginError(landing, /does not belong to a sign-in started here/);
  });

  test('the IdP refusing (error=access_denied) is said plainly', async () => {
    const { landing } = await signIn(undefined);
    loginError(landing, /the identity provider returned error=access_denied/);
    await auditedFailure(/error=access_denied/);
  });

  test('a callback opened in another browser is refused (a mailed link cannot sign a victim in)', async () => {
    const start = await get('/sso/corp/start?next=/console/');
    const callback = await op.followLogin(start.headers.get('location') ?? '', {
      accountId: 'alice',
      amr: ['mfa'],
    });
    const elsewhere = await land(
      `${callback.pathname}${callback.search}`,
      'sesame_device=another-browser-0123456789',
    );
    loginError(elsewhere, /does not belong to a sign-in started here/);
    loginError(
      await land(`${callback.pathname}${callback.search}`),
      /does not belong to a sign-in started here/,
    );
  });

  test('the same callback URL a second time is rejected', async () => {
    const { path, landing } = await signIn({ accountId: 'alice', amr: ['mfa'] });
    assert.ok(landing.cookie, 'the first use signs in');
    loginError(await land(path), /does not belong to a sign-in started here, or it expired/);
  });
});
