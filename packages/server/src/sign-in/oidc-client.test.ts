import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { type ErrorCode, SesameError } from '../errors.ts';
import { createOidcClient, type OidcClient, type OidcClientOptions } from './oidc-client.ts';
import { startTestOidcProvider, type TestOidcProvider } from './oidc-provider.test-support.ts';

/** The browser would land here; nothing listens, the tests read the URL the IdP redirected to. */
const REDIRECT_URI = 'http://127.0.0.1:9/sign-in/oidc/callback';
const SECRET = 'client-secret-that-must-never-show';

async function assertFails(promise: Promise<unknown>, code: ErrorCode, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SesameError, `expected a SesameError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, problem);
    // Neither the message nor anything a logger could reach through `cause` holds a secret or a token.
    assert.doesNotMatch(inspect(error, { depth: 10 }), new RegExp(`${SECRET}|fake-access-token|eyJ`));
    return true;
  });
}

describe('OIDC sign-in against a real oidc-provider', () => {
  let op: TestOidcProvider;
  let client: OidcClient;
  const clientFor = (options: Partial<OidcClientOptions> = {}) =>
    createOidcClient({
      issuer: op.issuer,
      clientId: 'sesame',
      clientSecret: SECRET,
      redirectUri: REDIRECT_URI,
      scopes: ['groups'],
      allowInsecure: true,
      ...options,
    });
  const alice = { accountId: 'alice', amr: ['pwd', 'mfa'], acr: 'urn:sesame:loa:2' };

  before(async () => {
    op = await startTestOidcProvider({
      clientId: 'sesame',
      clientSecret: SECRET,
      redirectUris: [REDIRECT_URI],
    });
    op.setAccount('alice', {
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['ProductionAccess', 'payments-admins'],
      AppGroupName: 'payments',
      AppId: 'app-42',
      amr: ['spoofed-by-userinfo'],
    });
    client = clientFor();
  });
  after(() => op.close());

  test('a good login returns the custom claims; the ID token decides sub, amr and acr', async () => {
    const attempt = await client.begin({ extraParams: { prompt: 'login', state: 'attacker-chosen' } });
    const url = new URL(attempt.url);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('state'), attempt.state);
    assert.equal(url.searchParams.get('nonce'), attempt.nonce);
    assert.equal(url.searchParams.get('scope'), 'openid profile email groups');
    assert.equal(url.searchParams.get('prompt'), 'login');

    const { claims, idTokenClaims, userinfo } = await client.complete({
      callbackUrl: await op.followLogin(attempt.url, alice),
      ...attempt,
    });
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iss, op.issuer);
    assert.deepEqual(claims.groups, ['ProductionAccess', 'payments-admins']);
    assert.equal(claims.AppGroupName, 'payments');
    assert.equal(claims.AppId, 'app-42');
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    assert.equal(claims.acr, 'urn:sesame:loa:2');
    assert.equal(typeof claims.auth_time, 'number');
    assert.deepEqual(idTokenClaims.amr, ['pwd', 'mfa']);
    assert.deepEqual(userinfo?.amr, ['spoofed-by-userinfo']);
  });

  test('a public client (PKCE, no secret) signs in too', async () => {
    const pub = await startTestOidcProvider({ clientId: 'sesame-cli', redirectUris: [REDIRECT_URI] });
    try {
      pub.setAccount('bob', { preferred_username: 'bob', groups: ['DevelopmentAccess'] });
      const cli = createOidcClient({
        issuer: pub.issuer,
        clientId: 'sesame-cli',
        redirectUri: REDIRECT_URI,
        scopes: ['groups'],
        allowInsecure: true,
      });
      const attempt = await cli.begin();
      const { claims } = await cli.complete({
        callbackUrl: await pub.followLogin(attempt.url, { accountId: 'bob' }),
        ...attempt,
      });
      assert.equal(claims.preferred_username, 'bob');
      assert.deepEqual(claims.groups, ['DevelopmentAccess']);
    } finally {
      await pub.close();
    }
  });

  test('a callback for another sign-in attempt is a state mismatch', async () => {
    const first = await client.begin();
    const second = await client.begin();
    const callbackUrl = await op.followLogin(first.url, alice);
    await assertFails(
      client.complete({ ...first, callbackUrl, state: second.state }),
      'UNAUTHENTICATED',
      /state mismatch/,
    );
  });

  test('an ID token for another attempt is a nonce mismatch', async () => {
    const first = await client.begin();
    const second = await client.begin();
    const callbackUrl = await op.followLogin(first.url, alice);
    await assertFails(
      client.complete({ ...first, callbackUrl, nonce: second.nonce }),
      'UNAUTHENTICATED',
      /nonce mismatch/,
    );
  });

  test('replaying a callback (code reuse) is rejected', async () => {
    const attempt = await client.begin();
    const callbackUrl = await op.followLogin(attempt.url, alice);
    await client.complete({ ...attempt, callbackUrl });
    await assertFails(
      client.complete({ ...attempt, callbackUrl }),
      'UNAUTHENTICATED',
      /error=invalid_grant.*already used/,
    );
  });

  test('a client id the IdP does not know is rejected without echoing the secret', async () => {
    const attempt = await client.begin();
    const callbackUrl = await op.followLogin(attempt.url, alice);
    const intruder = clientFor({ clientId: 'intruder' });
    await assertFails(
      intruder.complete({ ...attempt, callbackUrl }),
      'UNAUTHENTICATED',
      /error=invalid_client/,
    );
  });

  test('error=access_denied from the IdP is named', async () => {
    const attempt = await client.begin();
    const callbackUrl = await op.followLogin(attempt.url); // no account chosen: the IdP denies
    assert.equal(callbackUrl.searchParams.get('error'), 'access_denied');
    await assertFails(
      client.complete({ ...attempt, callbackUrl }),
      'UNAUTHENTICATED',
      /returned error=access_denied/,
    );
  });
});

describe('OIDC sign-in against a crafted IdP (ID token validation)', () => {
  let fake: FakeIdp;
  before(async () => {
    fake = await startFakeIdp();
  });
  after(() => fake.close());

  /** One sign-in where the token endpoint answers with the ID token `craft` builds for this attempt's nonce. */
  async function signIn(craft: (nonce: string) => Promise<string>, options: Partial<OidcClientOptions> = {}) {
    const client = createOidcClient({
      issuer: fake.issuer,
      clientId: 'sesame',
      clientSecret: SECRET,
      redirectUri: REDIRECT_URI,
      allowInsecure: true,
      ...options,
    });
    const attempt = await client.begin();
    fake.idToken = () => craft(attempt.nonce);
    return client.complete({
      ...attempt,
      callbackUrl: `${REDIRECT_URI}?code=fake-code&state=${attempt.state}`,
    });
  }
  const now = () => Math.floor(Date.now() / 1000);

  test('an ID token signed by a different key is a bad signature', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    await assertFails(
      signIn((nonce) => fake.sign({ nonce }, privateKey)),
      'UNAUTHENTICATED',
      /bad signature/,
    );
  });

  test('an unsigned (alg none) ID token is rejected, even when the IdP advertises none', async () => {
    const unsigned = (nonce: string) => Promise.resolve(new UnsecuredJWT(fake.claims({ nonce })).encode());
    fake.algs = ['RS256', 'none'];
    try {
      await assertFails(signIn(unsigned), 'UNAUTHENTICATED', /alg=none/);
    } finally {
      fake.algs = ['RS256'];
    }
    await assertFails(signIn(unsigned), 'UNAUTHENTICATED', /alg=none/);
  });

  test('an ID token for another audience is a wrong audience', async () => {
    await assertFails(
      signIn((nonce) => fake.sign({ nonce, aud: 'another-app' })),
      'UNAUTHENTICATED',
      /wrong audience/,
    );
  });

  test('an expired ID token is rejected; one expired within the clock tolerance is accepted', async () => {
    const expiredAgo = (seconds: number) => (nonce: string) =>
      fake.sign({ nonce, iat: now() - 600, exp: now() - seconds });
    await assertFails(
      signIn(expiredAgo(120), { clockToleranceSec: 60 }),
      'UNAUTHENTICATED',
      /expired ID token/,
    );
    const { claims, userinfo } = await signIn(expiredAgo(30), { clockToleranceSec: 60 });
    assert.equal(claims.sub, 'bob');
    assert.equal(userinfo, undefined); // this IdP has no userinfo endpoint: the ID token is all there is
  });

  test('userinfo for another subject is rejected', async () => {
    fake.userinfo = { sub: 'mallory', groups: ['admins'] };
    try {
      await assertFails(
        signIn((nonce) => fake.sign({ nonce })),
        'UNAUTHENTICATED',
        /userinfo subject mismatch/,
      );
    } finally {
      fake.userinfo = undefined;
    }
  });

  test('discovery is lazy, cached, and retried after a failure', async () => {
    const hits = fake.discoveryHits;
    fake.discoveryStatus = 503;
    const client = createOidcClient({
      issuer: fake.issuer,
      clientId: 'sesame',
      redirectUri: REDIRECT_URI,
      allowInsecure: true,
    });
    assert.equal(fake.discoveryHits, hits, 'nothing is fetched before the first sign-in');
    await assertFails(client.begin(), 'UNAVAILABLE', /OpenID configuration.*HTTP 503/);
    fake.discoveryStatus = 200;
    await Promise.all([client.begin(), client.begin()]);
    await client.begin();
    assert.equal(fake.discoveryHits - hits, 2, 'one failed discovery, then one cached success');
  });
});

describe('OIDC configuration and reachability', () => {
  test('an unreachable issuer is UNAVAILABLE', async () => {
    const port = await freePort();
    const client = createOidcClient({
      issuer: `http://127.0.0.1:${port}`,
      clientId: 'sesame',
      redirectUri: REDIRECT_URI,
      allowInsecure: true,
      discoveryTimeoutMs: 2000,
    });
    await assertFails(client.begin(), 'UNAVAILABLE', /ECONNREFUSED/);
  });

  test('plain http is refused unless allowed, and never allowed off loopback', () => {
    const base = { clientId: 'sesame', redirectUri: REDIRECT_URI };
    assert.throws(() => createOidcClient({ ...base, issuer: 'http://127.0.0.1:1' }), /needs allowInsecure/);
    assert.throws(
      () => createOidcClient({ ...base, issuer: 'http://idp.example.com', allowInsecure: true }),
      /must use https/,
    );
    assert.throws(
      () => createOidcClient({ ...base, issuer: 'not a url' }),
      (e: unknown) => e instanceof SesameError && e.code === 'INVALID',
    );
  });
});

type FakeIdp = Awaited<ReturnType<typeof startFakeIdp>>;

/** Discovery, JWKS, token (and optional userinfo) endpoints serving whatever ID token the test crafts. */
async function startFakeIdp() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = 'fake-key-1';
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const path = req.url?.split('?')[0];
    if (path === '/.well-known/openid-configuration') {
      fake.discoveryHits++;
      if (fake.discoveryStatus !== 200)
        return send(fake.discoveryStatus, { error: 'temporarily_unavailable' });
      return send(200, {
        issuer: fake.issuer,
        authorization_endpoint: `${fake.issuer}/auth`,
        token_endpoint: `${fake.issuer}/token`,
        jwks_uri: `${fake.issuer}/jwks`,
        ...(fake.userinfo ? { userinfo_endpoint: `${fake.issuer}/me` } : {}),
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: fake.algs,
      });
    }
    if (path === '/jwks') return send(200, jwks);
    if (path === '/me') return send(200, fake.userinfo);
    if (path === '/token') {
      fake.idToken().then((idToken) =>
        send(200, {
          access_token: 'fake-access-token',
          token_type: 'Bearer',
          expires_in: 300,
          id_token: idToken,
        }),
      );
      return;
    }
    send(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake = {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    algs: ['RS256'],
    discoveryStatus: 200,
    discoveryHits: 0,
    userinfo: undefined as Record<string, unknown> | undefined,
    idToken: (): Promise<string> => Promise.reject(new Error('no ID token crafted')),
    claims(overrides: Record<string, unknown>) {
      const iat = Math.floor(Date.now() / 1000);
      return { iss: fake.issuer, aud: 'sesame', sub: 'bob', iat, exp: iat + 300, ...overrides };
    },
    sign(overrides: Record<string, unknown>, key: CryptoKey = privateKey) {
      return new SignJWT(fake.claims(overrides)).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return fake;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
