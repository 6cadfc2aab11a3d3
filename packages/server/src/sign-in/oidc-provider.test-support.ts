/**
 * A REAL OpenID provider (panva's `oidc-provider`) for tests, on loopback only, with an in-memory store,
 * one client, PKCE required and a browserless login: the test chooses who signs in, and `followLogin`
 * walks the redirects (carrying cookies) until the IdP sends the browser back to the client's redirect_uri.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export type TestAccountClaims = Record<string, unknown>;
/** Who the next interactive login signs in as. `amr`/`acr` end up in the ID token. */
export type TestLogin = { accountId: string; amr?: string[]; acr?: string };

export type TestOidcProviderOptions = {
  clientId: string;
  /** Without a secret the client is public (`token_endpoint_auth_method: none`). */
  clientSecret?: string;
  redirectUris: string[];
  /** Extra claim names (e.g. `AppGroupName`) released with the `profile` scope. */
  customClaims?: string[];
  acrValues?: string[];
};

export type TestOidcProvider = {
  issuer: string;
  /** The RS256 key the provider signs ID tokens with (private JWK, has `kid`), for tests that forge tokens. */
  signingKeys: { privateJwk: JWK; kid: string };
  /** Default login for `followLogin` when it is called without one; `undefined` makes the IdP deny access. */
  nextLogin: TestLogin | undefined;
  setAccount(accountId: string, claims: TestAccountClaims): void;
  followLogin(authUrl: string | URL, login?: TestLogin): Promise<URL>;
  close(): Promise<void>;
};

/** The parts of `oidc-provider` used here (the package ships no types). */
type Grant = {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
};
type InteractionDetails = {
  grantId?: string;
  params: Record<string, unknown>;
  session?: { accountId?: string };
  prompt: { name: string; details: Record<string, unknown> };
};
type Provider = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: object,
    options?: object,
  ): Promise<void>;
  Grant: {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  };
};
type ProviderConstructor = new (issuer: string, configuration: object) => Provider;

const BASE_CLAIMS = ['name', 'preferred_username'];

export async function startTestOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  // A variable specifier keeps tsc from demanding declarations oidc-provider does not ship.
  const specifier = 'oidc-provider';
  const { default: Provider } = (await import(specifier)) as { default: ProviderConstructor };
  const accounts = new Map<string, TestAccountClaims>();
  const kid = `test-${randomBytes(4).toString('hex')}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (!provider || !handle) return void res.writeHead(503).end();
    if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
      interact(provider, req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      });
      return;
    }
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const support: TestOidcProvider = {
    issuer,
    signingKeys: { privateJwk, kid },
    nextLogin: undefined,
    setAccount: (accountId, claims) => void accounts.set(accountId, claims),
    followLogin: (authUrl, login) => followRedirects(new URL(authUrl), login ?? support.nextLogin),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  /** The login chosen for the interaction in flight (per uid, so parallel logins do not mix). */
  const pending = new Map<string, TestLogin | undefined>();

  async function interact(op: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await op.interactionDetails(req, res);
    const uid = new URL(req.url ?? '/', issuer).pathname.split('/')[2] ?? '';
    const login = pending.get(uid);
    if (details.prompt.name === 'login') {
      if (!login || !accounts.has(login.accountId)) {
        const result = { error: 'access_denied', error_description: 'the test chose no account to sign in' };
        return op.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      }
      const { accountId, amr, acr } = login;
      return op.interactionFinished(
        req,
        res,
        { login: { accountId, amr, acr } },
        { mergeWithLastSubmission: false },
      );
    }
    // consent: grant whatever is missing, as a first-party IdP would.
    const accountId = details.session?.accountId ?? '';
    const grant = details.grantId
      ? await op.Grant.find(details.grantId)
      : new op.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new Error('grant vanished');
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    return op.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  async function followRedirects(start: URL, login: TestLogin | undefined): Promise<URL> {
    const redirectUri = start.searchParams.get('redirect_uri') ?? options.redirectUris[0] ?? '';
    const jar = new CookieJar();
    let url = start;
    for (let hop = 0; hop < 20; hop++) {
      const match = /^\/interaction\/([^/?]+)/.exec(url.pathname);
      if (match?.[1] && url.origin === issuer) pending.set(match[1], login);
      const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
      jar.store(url, response.headers.getSetCookie());
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location || response.status < 300 || response.status > 399) {
        throw new Error(`login stopped at ${url.pathname} with HTTP ${response.status}`);
      }
      url = new URL(location, url);
      if (`${url.origin}${url.pathname}` === redirectUri) return url;
    }
    throw new Error('login did not reach the redirect_uri within 20 redirects');
  }

  const clientSecret = options.clientSecret;
  provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: [
      {
        client_id: options.clientId,
        ...(clientSecret ? { client_secret: clientSecret } : {}),
        token_endpoint_auth_method: clientSecret ? 'client_secret_basic' : 'none',
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    acrValues: options.acrValues ?? ['urn:sesame:loa:1', 'urn:sesame:loa:2'],
    // Protocol claims in the `openid` scope so they reach the ID token even under conformIdTokenClaims.
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      openid: ['sub', 'acr', 'amr', 'auth_time', 'sid'],
      profile: [...BASE_CLAIMS, ...(options.customClaims ?? ['AppGroupName', 'AppId', 'ReleaseId'])],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    findAccount: (_ctx: unknown, accountId: string) => {
      const claims = accounts.get(accountId);
      if (!claims) return undefined;
      return { accountId, claims: async () => ({ ...claims, sub: accountId }) };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
    },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [privateJwk] },
    renderError: (ctx: { type: string; body: unknown }, out: Record<string, string>) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  handle = provider.callback();
  return support;
}

/** Cookies by name and path, sent to matching paths; enough for oidc-provider's path-scoped interaction cookies. */
class CookieJar {
  #cookies = new Map<string, { name: string; value: string; path: string }>();

  header(url: URL): string {
    return [...this.#cookies.values()]
      .filter(
        (c) =>
          url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const path = attr('path') ?? url.pathname.replace(/\/[^/]*$/, '/');
      const expires = attr('expires');
      const gone = attr('max-age') === '0' || (expires !== undefined && Date.parse(expires) <= Date.now());
      const key = `${name};${path}`;
      if (gone || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }
}

/** The storage contract oidc-provider asks of an adapter, in memory, with grant-wide revocation (code replay). */
function createMemoryAdapter() {
  type Entry = { payload: Record<string, unknown>; expiresAt: number };
  const store = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const uidIndex = new Map<string, string>();
  const get = (key: string | undefined) => {
    const entry = key === undefined ? undefined : store.get(key);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  };
  return (model: string) => ({
    async upsert(id: string, payload: Record<string, unknown>, expiresInSec?: number) {
      const key = `${model}:${id}`;
      store.set(key, { payload, expiresAt: expiresInSec ? Date.now() + expiresInSec * 1000 : Infinity });
      if (typeof payload.grantId === 'string') {
        const members = byGrant.get(payload.grantId) ?? new Set<string>();
        byGrant.set(payload.grantId, members.add(key));
      }
      if (model === 'Session' && typeof payload.uid === 'string') uidIndex.set(payload.uid, key);
    },
    find: async (id: string) => get(`${model}:${id}`),
    findByUid: async (uid: string) => get(uidIndex.get(uid)),
    findByUserCode: async () => undefined,
    async consume(id: string) {
      const payload = get(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id: string) => void store.delete(`${model}:${id}`),
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    },
  });
}
