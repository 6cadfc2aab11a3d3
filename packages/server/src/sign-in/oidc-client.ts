/**
 * OpenID Connect relying party: authorization code flow with PKCE (S256), state and nonce.
 * openid-client does the protocol checks (state, iss, aud, exp/iat with clock tolerance, nonce, and — with
 * non-repudiation checks on — the ID token signature against the IdP's JWKS); this module turns every failure
 * into a SesameError that names what failed, and never puts a token or the client secret into a message.
 */
import * as oidc from 'openid-client';
import { SesameError } from '../errors.ts';

export type OidcClientOptions = {
  /** Issuer URL exactly as the IdP publishes it (discovery is `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** With a secret: `client_secret_basic`; without: a public client (`none`), protected by PKCE. */
  clientSecret?: string;
  redirectUri: string;
  /** Scopes requested on top of `openid profile email` (e.g. `groups`). */
  scopes?: string[];
  clockToleranceSec?: number;
  /** Allow plain http — honoured only for a loopback issuer (127.0.0.0/8, localhost, [::1]), for tests. */
  allowInsecure?: boolean;
  /** Bound on discovery (and, as openid-client reuses it, on every later request to the IdP). */
  discoveryTimeoutMs?: number;
};

export type OidcBeginResult = { url: string; state: string; nonce: string; codeVerifier: string };
export type OidcCompleteInput = {
  callbackUrl: URL | string;
  state: string;
  nonce: string;
  codeVerifier: string;
};
export type OidcSignInResult = {
  /** Userinfo merged over the ID token, except that the ID token's protocol claims (sub, iss, amr, …) win. */
  claims: Record<string, unknown>;
  idTokenClaims: Record<string, unknown>;
  userinfo?: Record<string, unknown>;
};
export type OidcClient = {
  begin(options?: { extraParams?: Record<string, string> }): Promise<OidcBeginResult>;
  complete(input: OidcCompleteInput): Promise<OidcSignInResult>;
};

const DEFAULT_SCOPES = ['openid', 'profile', 'email'];
/** Claims only the ID token may assert: userinfo cannot change who signed in, where, when or how. */
const ID_TOKEN_WINS = [
  'sub',
  'iss',
  'aud',
  'azp',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'sid',
  'amr',
  'acr',
  'auth_time',
];
/** Parameters begin() owns; extraParams cannot replace them. */
const OWN_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'code_challenge',
];

export function createOidcClient({
  issuer,
  clientId,
  clientSecret,
  redirectUri,
  scopes = [],
  clockToleranceSec = 60,
  allowInsecure = false,
  discoveryTimeoutMs = 10_000,
}: OidcClientOptions): OidcClient {
  const issuerUrl = parseIssuer(issuer, allowInsecure);
  const scope = [...new Set([...DEFAULT_SCOPES, ...scopes])].join(' ');
  let discovered: Promise<oidc.Configuration> | undefined;

  /** Discovery runs on first use and is cached; a failed attempt is forgotten so the next call retries. */
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= discover().catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
    return discovered;
  }

  async function discover(): Promise<oidc.Configuration> {
    const metadata: Partial<oidc.ClientMetadata> = { [oidc.clockTolerance]: clockToleranceSec };
    const auth = clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None();
    // Without non-repudiation checks openid-client trusts TLS and does not verify the ID token signature.
    const execute = [oidc.enableNonRepudiationChecks];
    if (issuerUrl.protocol === 'http:') execute.push(oidc.allowInsecureRequests);
    try {
      const timeout = Math.max(1, Math.ceil(discoveryTimeoutMs / 1000));
      return await oidc.discovery(issuerUrl, clientId, metadata, auth, { execute, timeout });
    } catch (error) {
      const why = reason(error);
      throw new SesameError(
        'UNAVAILABLE',
        `Could not load the OpenID configuration of ${issuerUrl.href} (${why}); check the issuer URL and that the identity provider is up, then try again.`,
        { cause: safeCause(error) },
      );
    }
  }

  return {
    async begin({ extraParams = {} } = {}) {
      const config = await configuration();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const extra = Object.entries(extraParams).filter(([name]) => !OWN_PARAMS.includes(name));
      const url = oidc.buildAuthorizationUrl(config, {
        ...Object.fromEntries(extra),
        redirect_uri: redirectUri,
        scope,
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, state, nonce, codeVerifier };
    },

    async complete({ callbackUrl, state, nonce, codeVerifier }) {
      if (!state || !nonce || !codeVerifier) {
        throw new SesameError(
          'UNAUTHENTICATED',
          'No sign-in attempt is in progress (state, nonce or PKCE verifier missing); start the sign-in again.',
        );
      }
      const config = await configuration();
      try {
        const checks = { expectedState: state, expectedNonce: nonce, pkceCodeVerifier: codeVerifier };
        const tokens = await oidc.authorizationCodeGrant(
          config,
          callbackAt(callbackUrl, redirectUri),
          checks,
        );
        const idTokenClaims: Record<string, unknown> = { ...tokens.claims() };
        if (!config.serverMetadata().userinfo_endpoint) return { claims: idTokenClaims, idTokenClaims };
        const sub = String(idTokenClaims.sub);
        const userinfo: Record<string, unknown> = {
          ...(await oidc.fetchUserInfo(config, tokens.access_token, sub)),
        };
        const claims = { ...idTokenClaims, ...userinfo };
        for (const name of ID_TOKEN_WINS) {
          if (name in idTokenClaims) claims[name] = idTokenClaims[name];
          else delete claims[name];
        }
        return { claims, idTokenClaims, userinfo };
      } catch (error) {
        throw toSesameError(error);
      }
    },
  };
}

function parseIssuer(issuer: string, allowInsecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new SesameError(
      'INVALID',
      `The OIDC issuer "${issuer}" is not a URL; use the https:// URL of your IdP.`,
    );
  }
  if (url.protocol === 'https:') return url;
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);
  if (url.protocol === 'http:' && loopback && allowInsecure) return url;
  const hint = loopback ? ' (plain http on loopback needs allowInsecure)' : '';
  throw new SesameError('INVALID', `The OIDC issuer ${url.href} must use https://${hint}.`);
}

/**
 * The callback's query on the configured redirect URI: openid-client sends the callback URL (without its
 * query) as `redirect_uri`, which must equal the registered one even behind a proxy that rewrote the host.
 */
function callbackAt(callbackUrl: URL | string, redirectUri: string): URL {
  let received: URL;
  try {
    received = new URL(callbackUrl, redirectUri);
  } catch {
    throw new SesameError(
      'UNAUTHENTICATED',
      'The sign-in callback URL is malformed; start the sign-in again.',
    );
  }
  const url = new URL(redirectUri);
  url.search = received.search;
  return url;
}

type Detail = { claim?: unknown; attribute?: unknown; alg?: unknown; header?: { alg?: unknown } };

const TOKEN_ERROR_HINTS: Record<string, string> = {
  invalid_grant: ' (the authorization code was already used, expired, or the PKCE verifier does not match)',
  invalid_client: ' (the client id or secret is wrong)',
  unauthorized_client: ' (this client may not use the authorization code flow)',
};
const CLAIM_MISMATCH: Record<string, string> = {
  nonce: 'nonce mismatch: the ID token was not issued for this sign-in attempt',
  aud: 'wrong audience: the ID token was issued to another client, not to this client id',
  iss: 'wrong issuer: the ID token was not issued by the configured issuer',
  azp: 'wrong authorized party (azp) in the ID token',
};
const TIME_CHECK: Record<string, string> = {
  exp: 'expired ID token (its exp is past, beyond the allowed clock tolerance)',
  nbf: 'the ID token is not valid yet (nbf is in the future); check the clocks',
  iat: 'the ID token was issued too long ago or in the future (iat)',
  auth_time: 'the authentication at the identity provider is too old (auth_time)',
};

/** A SesameError naming what failed. Messages carry claim names and IdP error codes, never token values. */
function toSesameError(error: unknown): SesameError {
  if (error instanceof SesameError) return error;
  const unavailable = (what: string) =>
    new SesameError('UNAVAILABLE', `The identity provider ${what}; try again later.`, {
      cause: safeCause(error),
    });
  const fail = (what: string) =>
    new SesameError('UNAUTHENTICATED', `Sign-in failed: ${what}; start the sign-in again.`, {
      cause: safeCause(error),
    });

  if (isUnreachable(error)) return unavailable(`cannot be reached (${reason(error)})`);
  if (error instanceof oidc.AuthorizationResponseError) {
    return fail(`the identity provider returned error=${error.error}${quoted(error.error_description)}`);
  }
  if (error instanceof oidc.ResponseBodyError || error instanceof oidc.WWWAuthenticateChallengeError) {
    // invalid_client comes as a 401 WWW-Authenticate challenge, the other token errors as a JSON body.
    const body = error instanceof oidc.ResponseBodyError ? error : error.cause[0]?.parameters;
    const idpError = body?.error ?? `HTTP ${error.status}`;
    if (error.status >= 500) return unavailable(`failed (HTTP ${error.status}, error=${idpError})`);
    const hint = TOKEN_ERROR_HINTS[idpError] ?? '';
    return fail(
      `the identity provider refused the code with error=${idpError}${hint}${quoted(body?.error_description)}`,
    );
  }

  const code = error instanceof oidc.ClientError ? error.code : undefined;
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const message = inner?.message ?? (error instanceof Error ? error.message : '');
  const detail = (inner?.cause ?? {}) as Detail;
  const claim = String(detail.claim ?? '');
  switch (code) {
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
      return unavailable(`answered unexpectedly (${reason(error)})`);
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      return fail(CLAIM_MISMATCH[claim] ?? `the ID token's "${claim}" claim does not match`);
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return fail(TIME_CHECK[claim] ?? `the ID token's "${claim}" time is out of range`);
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      if (detail.attribute === 'sub')
        return fail('userinfo subject mismatch: userinfo names another sub than the ID token');
      break;
    case 'OAUTH_KEY_SELECTION_FAILED':
      return fail('bad signature: no key of the identity provider matches the ID token');
  }
  if (/signature/i.test(message)) return fail("bad signature: the ID token's signature does not verify");
  if (/"alg"/.test(message)) {
    return fail(
      `the ID token's signing algorithm is not accepted (alg=${String(detail.header?.alg ?? detail.alg)})`,
    );
  }
  if (/"state"/.test(message))
    return fail('state mismatch: the response does not belong to this sign-in attempt');
  if (/"iss"/.test(message)) return fail('issuer mismatch: the authorization response names another issuer');
  if (/authorization code/i.test(message)) return fail('the callback carries no authorization code');
  if (/ID Token/i.test(message)) return fail(`the identity provider returned no valid ID token (${message})`);
  return fail(`the identity provider's response is invalid (${reason(error)})`);
}

function isUnreachable(error: unknown): boolean {
  const code = error instanceof oidc.ClientError ? error.code : undefined;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT') return true;
  if (error instanceof DOMException) return error.name === 'TimeoutError' || error.name === 'AbortError';
  // undici rejects with TypeError('fetch failed', { cause: ECONNREFUSED / ENOTFOUND / … }).
  return error instanceof TypeError && error.message === 'fetch failed';
}

/** A short reason safe to show: the library's message, an HTTP status or network code — never a body. */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const cause = error.cause;
  let extra = '';
  if (cause instanceof Response) extra = `: HTTP ${cause.status}`;
  else if (typeof (cause as { code?: unknown })?.code === 'string')
    extra = `: ${(cause as { code: string }).code}`;
  else if (cause instanceof Error) extra = `: ${cause.message}`;
  return `${error.message}${extra}`.slice(0, 200);
}

/** The library's error chain as plain messages: the errors themselves can hold response bodies and tokens. */
function safeCause(error: unknown): Error {
  const chain: string[] = [];
  for (let e: unknown = error; e instanceof Error && chain.length < 4; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    chain.push(`${e.name}: ${e.message}${typeof code === 'string' ? ` [${code}]` : ''}`);
  }
  return new Error(chain.join(' <- ') || 'unknown error');
}

/** IdP-supplied text, printable ASCII only and bounded. */
function quoted(text: string | undefined): string {
  return text ? ` (${text.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200)})` : '';
}
