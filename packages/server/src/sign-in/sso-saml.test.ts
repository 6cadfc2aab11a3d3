/**
 * SAML 2.0 single sign-on end to end: a real Sesame server and a real SAML IdP (samlify, signing with a key
 * made at test time), the browser's redirect and form POST done by hand. Covers SP- and IdP-initiated
 * sign-in with the AWS attribute names (PrincipalTag:X, RoleSessionName, SessionDuration), the State Street
 * ABAC decision with two tag groups, the portal deep link, SP metadata, and each way a response can be bad.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, startTestServer, type TestServer } from '../test-server.ts';
import { createTestIdp, type TestIdpResponse } from './saml-idp.test-support.ts';
import { getWithoutRedirect, type Landing, landingOf, ssoFailureReason } from './sso-landing.test-support.ts';
import { STATE_STREET_ABAC, setUpStateStreetPam } from './state-street-pam.test-support.ts';
import { totpAt } from './totp.ts';

const AWS = 'https://aws.amazon.com/SAML/Attributes/';
const PASSWORD_CONTEXT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const SESSION_DURATION_S = 1800;
const TAGS = {
  AppGroupName: 'webserver',
  AppId: 'ABC',
  ReleaseId: '2.0',
  AppGroupName2: 'db',
  AppId2: 'XYZ',
  ReleaseId2: '3.0',
};

/** The published policy with its StartSession statement repeated for tag group 2, as the post describes. */
function withSecondTagGroup(text: string): string {
  const policy = JSON.parse(text);
  const start = structuredClone(policy.Statement[0]);
  start.Sid = 'SSMStartSession2';
  start.Condition = {
    StringEquals: {
      'ssm:resourceTag/APP_GROUP_NAME': '${aws:PrincipalTag/AppGroupName2}',
      'ssm:resourceTag/RELEASE_ID': '${aws:PrincipalTag/ReleaseId2}',
      'ssm:resourceTag/APP_ID': '${aws:PrincipalTag/AppId2}',
    },
  };
  policy.Statement.splice(1, 0, start);
  return JSON.stringify(policy, null, 2);
}

const attributes = (user: string): Record<string, string | string[]> => ({
  ...Object.fromEntries(Object.entries(TAGS).map(([k, v]) => [`${AWS}PrincipalTag:${k}`, v])),
  [`${AWS}RoleSessionName`]: `${user}@corp.example`,
  [`${AWS}SessionDuration`]: String(SESSION_DURATION_S),
  email: `${user}@corp.example`,
  groups: ['pam-users', 'not-a-sesame-group'],
});

describe('SAML single sign-on against a real SAML IdP', () => {
  let ts: TestServer;
  let idp: ReturnType<typeof createTestIdp>;
  const instances: Record<string, string> = {};
  const admin = (method: string, path: string, json?: unknown) =>
    ts.api(method, path, { token: ts.adminToken, ...(json === undefined ? {} : { json }) });
  const ok = async (response: Promise<ApiResponse>) => {
    const r = await response;
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const config = (options: { allowIdpInitiated: boolean; trustPassword?: boolean }) => ({
    idpSsoUrl: idp.ssoUrl,
    idpEntityId: idp.entityId,
    idpCertificates: [idp.certificatePem],
    mfa: 'trust-idp',
    allowIdpInitiated: options.allowIdpInitiated,
    // The test IdP always says PasswordProtectedTransport; trusting it stands in for an MFA context class.
    ...(options.trustPassword ? { trustedMfaValues: [PASSWORD_CONTEXT] } : {}),
  });
  const configure = (options: { allowIdpInitiated: boolean; trustPassword?: boolean }) =>
    ok(admin('PUT', '/api/v1/identity-providers/okta', { config: config(options) }));

  before(async () => {
    ts = await startTestServer();
    idp = createTestIdp({ spEntityId: `${ts.url}/sso/okta/metadata`, acsUrl: `${ts.url}/sso/okta/acs` });
    for (const id of ['okta', 'okta-eu'])
      await ok(
        admin('POST', '/api/v1/identity-providers', {
          id,
          kind: 'saml',
          name: id,
          config: config({ allowIdpInitiated: false }),
        }),
      );
    Object.assign(
      instances,
      await setUpStateStreetPam(
        ts,
        [],
        [
          ['web-1', 'webserver', 'ABC', '1.0'],
          ['web-2', 'webserver', 'ABC', '2.0'],
          ['db-1', 'db', 'XYZ', '3.0'],
        ],
      ),
    );
  });
  after(async () => ts?.close());

  /** GET /sso/<id>/start: the AuthnRequest's id and the RelayState Sesame sent along. */
  const start = async (id = 'okta', next = '/console/') => {
    const response = await getWithoutRedirect(`${ts.url}/sso/${id}/start?next=${encodeURIComponent(next)}`);
    assert.equal(response.status, 303);
    const location = response.headers.get('location') ?? '';
    const url = new URL(location);
    assert.equal(`${url.origin}${url.pathname}`, idp.ssoUrl);
    assert.ok(url.searchParams.get('SAMLRequest'));
    const relayState = url.searchParams.get('RelayState') ?? '';
    const request = await idp.parseRequest(location);
    assert.equal(request.relayState, relayState);
    return { requestId: request.id, relayState };
  };
  /** The browser's auto-submitted form from the IdP to the ACS. */
  const post = async (samlResponse: string, relayState: string | undefined, id = 'okta') =>
    landingOf(
      await fetch(`${ts.url}/sso/${id}/acs`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          SAMLResponse: samlResponse,
          ...(relayState === undefined ? {} : { RelayState: relayState }),
        }).toString(),
      }),
    );
  const respond = (user: string, options: Partial<TestIdpResponse> = {}) =>
    idp.respond({ nameId: `${user}@corp.example`, attributes: attributes(user), ...options });
  /** SP-initiated from start to the ACS, the IdP answering with `options`. */
  const spSignIn = async (user: string, options: Partial<TestIdpResponse> = {}, next = '/console/') => {
    const { requestId, relayState } = await start('okta', next);
    const samlResponse = await respond(user, { inResponseTo: requestId, ...options });
    return { samlResponse, relayState, landing: await post(samlResponse, relayState) };
  };
  const me = async (cookie: string | undefined) => {
    const response = await fetch(`${ts.url}/api/v1/me`, { headers: { cookie: cookie ?? '' } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { user: Record<string, unknown> }).user as {
      username: string;
      email: string;
      groups: string[];
      tags: Record<string, string>;
      signIn: {
        provider: string;
        createdAt: number;
        expiresAt: number;
        mfa: { method: string | null; authenticatedAt: number | null };
      };
    };
  };
  const names = async (cookie: string | undefined) => {
    const response = await fetch(`${ts.url}/api/v1/instances`, { headers: { cookie: cookie ?? '' } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { instances: { tags: { Name: string } }[] };
    return body.instances.map((i) => i.tags.Name).sort();
  };
  const allowed = async (target: string) => {
    const input = { username: 'carol', action: 'ssm:StartSession', target: instances[target] };
    return ((await ok(admin('POST', '/api/v1/policy/simulate', input))).decision as { allowed: boolean })
      .allowed;
  };
  /**
   * Refused: back to the sign-in page with the problem named, no session, no new device cookie (a post from any
   * site must not replace the browser's device), and a failed sign-in audited.
   */
  const refused = async (landed: Landing, pattern: RegExp) => {
    assert.equal(landed.status, 303);
    assert.equal(landed.location, '/login#sso-error');
    assert.equal(landed.cookie, undefined);
    assert.equal(landed.device, '', 'a refused answer sets no device cookie');
    const message = ssoFailureReason(landed, ts.logs).reason;
    assert.match(message, pattern);
    const events = await ts.server.store.listAudit({});
    const audited = events.some(
      (e) => e.action === 'sesame:SignIn' && e.outcome === 'failed' && e.detail.reason === message,
    );
    assert.ok(audited, `no failed sesame:SignIn audit event for: ${message}`);
  };

  test('SP metadata names the entity id and the ACS', async () => {
    const response = await fetch(`${ts.url}/sso/okta/metadata`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /samlmetadata\+xml/);
    const xml = await response.text();
    assert.match(xml, new RegExp(`entityID="${ts.url}/sso/okta/metadata"`));
    assert.match(xml, new RegExp(`AssertionConsumerService[^>]*Location="${ts.url}/sso/okta/acs"`));
  });

  test('SP-initiated, password at the IdP: enrol in Sesame MFA, then signed in with the AWS attributes', async () => {
    const { landing: landed } = await spSignIn('carol');
    assert.equal(landed.status, 303);
    assert.equal(landed.cookie, undefined, 'PasswordProtectedTransport is not MFA');
    assert.equal(landed.hash.get('status'), 'enrol-required', landed.location);
    const flow = landed.hash.get('flow');
    const { secret } = await ok(
      ts.api('POST', '/api/v1/auth/enrol/totp', { json: { flow }, headers: { cookie: landed.device } }),
    );
    const code = totpAt(String(secret), Date.now() / 1000);
    const confirmed = await fetch(`${ts.url}/api/v1/auth/enrol/totp/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: landed.device },
      body: JSON.stringify({ flow, code, client: 'web' }),
    });
    const body = (await confirmed.json()) as Record<string, unknown>;
    assert.equal(confirmed.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'signed-in');
    const cookie = confirmed.headers
      .getSetCookie()
      .find((c) => c.startsWith('sesame_session='))
      ?.split(';')[0];
    const user = await me(cookie);
    assert.equal(user.username, 'carol', 'RoleSessionName, local part');
    assert.equal(user.email, 'carol@corp.example');
    assert.deepEqual(user.groups, ['pam-users']);
    assert.deepEqual(user.tags, TAGS, 'every PrincipalTag:X, AppGroupName2 included');
    assert.equal(user.signIn.provider, 'okta');
    assert.equal(user.signIn.mfa.method, 'totp');
    const lifetime = user.signIn.expiresAt - user.signIn.createdAt;
    assert.ok(lifetime <= SESSION_DURATION_S * 1000, `session lasts ${lifetime} ms, over SessionDuration`);
    assert.ok(lifetime > (SESSION_DURATION_S - 60) * 1000, `session lasts only ${lifetime} ms`);
  });

  test('State Street ABAC: one tag group, then both once the policy has the tag-group-2 statement', async () => {
    await configure({ allowIdpInitiated: false, trustPassword: true });
    const { landing: landed } = await spSignIn('carol');
    assert.equal(landed.location, '/console/', 'a trusted IdP context class signs in directly');
    assert.equal((await me(landed.cookie)).signIn.mfa.method, 'idp');
    assert.deepEqual(await names(landed.cookie), ['web-2']);
    assert.deepEqual(
      [await allowed('web-1'), await allowed('web-2'), await allowed('db-1')],
      [false, true, false],
    );
    await ok(admin('PUT', '/api/v1/policies/PamAbac', { document: withSecondTagGroup(STATE_STREET_ABAC) }));
    assert.deepEqual(await names(landed.cookie), ['db-1', 'web-2']);
    assert.deepEqual(
      [await allowed('web-1'), await allowed('web-2'), await allowed('db-1')],
      [false, true, true],
    );
  });

  test("the IdP's MFA counts from when the IdP authenticated (AuthnInstant), not from the assertion", async () => {
    await configure({ allowIdpInitiated: false, trustPassword: true });
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const { landing } = await spSignIn('carol', { authnInstant: twoDaysAgo });
    const { mfa } = (await me(landing.cookie)).signIn;
    assert.equal(mfa.method, 'idp');
    assert.equal(mfa.authenticatedAt, twoDaysAgo.getTime());
  });

  test('without a trusted context class, an enrolled user is asked for a code', async () => {
    await configure({ allowIdpInitiated: false });
    const { landing: landed } = await spSignIn('carol');
    assert.equal(landed.hash.get('status'), 'mfa-required', landed.location);
    assert.equal(landed.cookie, undefined);
  });

  test('IdP-initiated with RelayState = an instance: refused while off, then the portal deep link', async () => {
    await configure({ allowIdpInitiated: false, trustPassword: true });
    const target = instances['web-2'] as string;
    await refused(await post(await respond('carol'), target), /IdP-initiated sign-in is off/);
    await configure({ allowIdpInitiated: true, trustPassword: true });
    const landed = await post(await respond('carol'), target);
    assert.equal(landed.status, 303);
    assert.equal(landed.location, `/console/connect?target=${target}`);
    assert.ok(landed.cookie);
    assert.equal((await me(landed.cookie)).username, 'carol');
  });

  test("a forged post's own words never reach the sign-in page: it is told a code", async () => {
    // Anyone can make a browser post this (a form on another site): it is refused before any signature check,
    // and the page gets only the code, while the log says why.
    const forged = Buffer.from(
      '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Destination="Your account is locked. Call 555-0100"/>',
    ).toString('base64');
    await configure({ allowIdpInitiated: true, trustPassword: true });
    const landed = await post(forged, undefined);
    assert.equal(landed.location, '/login#sso-error');
    assert.equal(landed.error, 'UNAUTHENTICATED');
    assert.match(
      ssoFailureReason(landed, ts.logs).reason,
      /Destination is Your account is locked.*wrong recipient/,
    );
  });

  test('an unsigned response is refused', async () => {
    await configure({ allowIdpInitiated: false, trustPassword: true });
    await refused((await spSignIn('carol', { signWith: 'none' })).landing, /has no signature/);
  });

  test('a response signed by another key is refused', async () => {
    const { landing: landed } = await spSignIn('carol', { signWith: 'other' });
    await refused(landed, /does not verify against the configured IdP certificate/);
  });

  test('a response for another audience is refused', async () => {
    const { landing: landed } = await spSignIn('carol', { audience: 'https://other-sp.example/metadata' });
    await refused(landed, /audience is https:\/\/other-sp\.example\/metadata, not /);
  });

  test('an expired response is refused', async () => {
    const past = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    const { landing: landed } = await spSignIn('carol', { notBefore: past(15), notOnOrAfter: past(10) });
    await refused(landed, /expired/);
  });

  test('the same response posted twice is refused the second time', async () => {
    const first = await spSignIn('carol');
    assert.ok(first.landing.cookie, 'the first post signs in');
    await refused(await post(first.samlResponse, first.relayState), /or the sign-in expired: start again/);

    await configure({ allowIdpInitiated: true, trustPassword: true });
    const unsolicited = await respond('carol');
    assert.ok((await post(unsolicited, undefined)).cookie, 'IdP-initiated, first post');
    await refused(await post(unsolicited, undefined), /already used \(replayed assertion\)/);
  });

  test('a RelayState from another provider or an unknown flow is refused', async () => {
    await configure({ allowIdpInitiated: false, trustPassword: true });
    const other = await start('okta-eu');
    const samlResponse = await respond('carol', { inResponseTo: other.requestId });
    await refused(await post(samlResponse, other.relayState), /belongs to another sign-in/);
    const unknown = `flw_${'A'.repeat(43)}`;
    await refused(await post(await respond('carol'), unknown), /not asked for by Sesame/);
  });

  test('attributes Sesame cannot use (user name, tag value) are refused, clearly and audited', async () => {
    const badName = { ...attributes('carol'), [`${AWS}RoleSessionName`]: 'Carol Smith' };
    const named = await spSignIn('carol', { attributes: badName });
    await refused(named.landing, /user name \(from "[^"]*RoleSessionName"\) cannot be a Sesame user name/);
    const badTag = { ...attributes('carol'), [`${AWS}PrincipalTag:AppGroupName2`]: 'ledger & <co>' };
    const tagged = await spSignIn('carol', { attributes: badTag });
    await refused(tagged.landing, /tags from the identity provider\.AppGroupName2: value must be/);
  });
});

describe('SAML over https: the answer signs in only the browser that started the sign-in', () => {
  const PUBLIC = 'https://sesame.example.test';
  let ts: TestServer;
  let idp: ReturnType<typeof createTestIdp>;
  before(async () => {
    ts = await startTestServer({ file: { publicUrl: PUBLIC } });
    idp = createTestIdp({ spEntityId: `${PUBLIC}/sso/okta/metadata`, acsUrl: `${PUBLIC}/sso/okta/acs` });
    const created = await ts.api('POST', '/api/v1/identity-providers', {
      token: ts.adminToken,
      json: {
        id: 'okta',
        kind: 'saml',
        name: 'okta',
        config: {
          idpSsoUrl: idp.ssoUrl,
          idpEntityId: idp.entityId,
          idpCertificates: [idp.certificatePem],
          mfa: 'trust-idp',
          trustedMfaValues: [PASSWORD_CONTEXT],
        },
      },
    });
    assert.equal(created.status, 200, created.text);
  });
  after(async () => ts?.close());

  /** Starts a sign-in: the AuthnRequest, the RelayState and the binding cookie the browser got. */
  const start = async () => {
    const response = await getWithoutRedirect(`${ts.url}/sso/okta/start`);
    assert.equal(response.status, 303);
    const binding = response.headers.getSetCookie().find((c) => c.startsWith('__Host-sesame_saml_'));
    assert.ok(binding, 'over https the start sets the binding cookie');
    for (const attribute of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=None/i, /;\s*Path=\/(;|$)/])
      assert.match(binding, attribute);
    const location = response.headers.get('location') ?? '';
    const relayState = new URL(location).searchParams.get('RelayState') ?? '';
    const request = await idp.parseRequest(location);
    return { requestId: request.id, relayState, cookie: binding.split(';')[0] as string };
  };
  const post = async (samlResponse: string, relayState: string, cookie: string | undefined) =>
    landingOf(
      await fetch(`${ts.url}/sso/okta/acs`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(cookie ? { cookie } : {}),
        },
        body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: relayState }).toString(),
      }),
    );
  const respond = (user: string, inResponseTo: string) =>
    idp.respond({ nameId: `${user}@corp.example`, attributes: attributes(user), inResponseTo });

  test('the answer signs in the device that started: it keeps its device cookie, and context-change remembers it', async () => {
    const admin = (method: string, path: string, json: unknown) =>
      ts.api(method, path, { token: ts.adminToken, json });
    const provider = (mfa: string) =>
      admin('PUT', '/api/v1/identity-providers/okta', {
        config: {
          idpSsoUrl: idp.ssoUrl,
          idpEntityId: idp.entityId,
          idpCertificates: [idp.certificatePem],
          mfa,
          trustedMfaValues: [PASSWORD_CONTEXT],
        },
      });
    assert.equal((await provider('require')).status, 200);
    assert.equal((await admin('PUT', '/api/v1/settings/mfa', { prompt: 'context-change' })).status, 200);
    try {
      // The browser's first visit: /sso/okta/start gives it its device cookie and the binding.
      const first = await getWithoutRedirect(`${ts.url}/sso/okta/start`);
      const device = first.headers
        .getSetCookie()
        .find((c) => c.startsWith('__Host-sesame_device='))
        ?.split(';')[0];
      assert.ok(device, 'the start gives a new browser its device cookie');
      const signIn = async () => {
        const response = await getWithoutRedirect(`${ts.url}/sso/okta/start`, device);
        const binding = response.headers.getSetCookie().find((c) => c.startsWith('__Host-sesame_saml_'));
        const location = response.headers.get('location') ?? '';
        const { id } = await idp.parseRequest(location);
        const relayState = new URL(location).searchParams.get('RelayState') ?? '';
        // The IdP's form post is cross-site: the (Lax) device cookie does not come with it, the binding does.
        const landed = await post(await respond('ines', id), relayState, binding?.split(';')[0]);
        assert.ok(
          !landed.setCookies.some((c) => c.startsWith('__Host-sesame_device=')),
          "the answer leaves the browser's device cookie as it is",
        );
        return landed;
      };
      const enrol = await signIn();
      assert.equal(enrol.hash.get('status'), 'enrol-required', enrol.location);
      const flow = enrol.hash.get('flow');
      const started = await ts.api('POST', '/api/v1/auth/enrol/totp', {
        json: { flow },
        headers: { cookie: device },
      });
      assert.equal(started.status, 200, started.text);
      const confirmed = await ts.api('POST', '/api/v1/auth/enrol/totp/confirm', {
        json: { flow, code: totpAt(String(started.body.secret), Date.now() / 1000), client: 'web' },
        headers: { cookie: device },
      });
      assert.equal(confirmed.body.status, 'signed-in', confirmed.text);

      const again = await signIn();
      assert.equal(again.location, '/console/', 'the same device from the same address: remembered');
      assert.ok(again.cookie?.startsWith('__Host-sesame_session='));
    } finally {
      const restored = [
        (await admin('PUT', '/api/v1/settings/mfa', { prompt: 'always' })).status,
        (await provider('trust-idp')).status,
      ];
      assert.deepEqual(restored, [200, 200], 'the settings of the other tests are back');
    }
  });

  test("an attacker's own answer posted from the victim's browser is refused; the starting browser signs in", async () => {
    // The attacker starts a sign-in, gets the IdP's answer for their own account, and has the victim's
    // browser post it (a form on another site): the victim's browser has no binding for that sign-in.
    const attacker = await start();
    const answer = await respond('mallory', attacker.requestId);
    const victim = await post(answer, attacker.relayState, undefined);
    assert.equal(victim.location, '/login#sso-error');
    assert.equal(victim.cookie, undefined, 'no one is signed in');
    assert.match(ssoFailureReason(victim, ts.logs).reason, /started in another browser/);
    const otherBrowser = await start();
    const wrong = await post(answer, attacker.relayState, otherBrowser.cookie);
    assert.equal(wrong.cookie, undefined, "another browser's binding does not fit");

    // Two sign-ins in one browser (two tabs): each has its own cookie, and a junk post spends neither.
    const mine = await start();
    const otherTab = await start();
    const jar = `${mine.cookie}; ${otherTab.cookie}`;
    // (Another site knows no sign-in's RelayState: that is in the IdP address this browser was sent to.)
    const junk = await post(Buffer.from('<samlp:Response/>').toString('base64'), 'flw_not-one-of-ours', jar);
    assert.equal(junk.cookie, undefined);
    assert.ok(
      !junk.setCookies.some(
        (c) => c.startsWith('__Host-sesame_saml_') || c.startsWith('__Host-sesame_device'),
      ),
      'the junk post spends no binding and replaces no device cookie',
    );
    const landed = await post(await respond('carol', mine.requestId), mine.relayState, jar);
    assert.equal(landed.status, 303);
    assert.ok(landed.cookie?.startsWith('__Host-sesame_session='), landed.location);
    assert.ok(
      landed.setCookies.some((c) => c.startsWith(`${mine.cookie.split('=')[0]}=;`)),
      'the sign-in spends its own binding',
    );
    const second = await post(await respond('carol', otherTab.requestId), otherTab.relayState, jar);
    assert.ok(second.cookie?.startsWith('__Host-sesame_session='), 'the other tab signs in too');
  });
});
