import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import { isObject } from '../services/validate.ts';
import type { IdentityProviderRecord, Store } from '../store/index.ts';
import { type AttributeMapping, DEFAULT_MAPPING } from './attribute-mapping.ts';
import { createOidcClient, type OidcClient } from './oidc-client.ts';
import { createSamlServiceProvider, type SamlServiceProvider } from './saml-sp.ts';

/** How far an identity provider is trusted, and how its answer maps onto a Sesame user. */
export type ProviderSettings = {
  mapping: AttributeMapping;
  /** `require`: Sesame asks for its own MFA on top; `trust-idp`: the IdP's MFA (amr / AuthnContext) counts. */
  mfa: 'require' | 'trust-idp';
  /** amr values or AuthnContextClassRefs that mean "this person did MFA at the IdP". */
  trustedMfaValues: string[];
};

export type OidcProviderConfig = ProviderSettings & {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: string[];
  allowInsecureHttp: boolean;
};

export type SamlProviderConfig = ProviderSettings & {
  idpSsoUrl: string;
  idpEntityId?: string | undefined;
  idpCertificates: string[];
  /** Accept sign-ins started at the IdP (a portal link with RelayState = instance); login CSRF is the risk. */
  allowIdpInitiated: boolean;
};

export type LiveProvider =
  | { id: string; name: string; kind: 'oidc'; config: OidcProviderConfig; client: OidcClient }
  | { id: string; name: string; kind: 'saml'; config: SamlProviderConfig; sp: SamlServiceProvider };

const ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
const LIVE_CHECK_MS = 10_000;
const DEFAULT_TRUSTED_MFA = {
  // RFC 8176: only "mfa" says several factors were used; "otp", "hwk", "fpt" … alone may be a single one.
  oidc: ['mfa'],
  saml: [
    'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
    'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
    'http://schemas.microsoft.com/claims/multipleauthn',
    'https://refeds.org/profile/mfa',
  ],
};

type Problems = { path: string; message: string }[];

function text(
  v: Record<string, unknown>,
  key: string,
  problems: Problems,
  optional = false,
): string | undefined {
  const value = v[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    problems.push({ path: key, message: 'must be a non-empty string of at most 4096 characters' });
    return undefined;
  }
  return value;
}

function list(v: Record<string, unknown>, key: string, problems: Problems, fallback: string[]): string[] {
  const value = v[key];
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'string' && x.length > 0)) {
    problems.push({ path: key, message: 'must be a list of non-empty strings' });
    return fallback;
  }
  return value as string[];
}

function mapping(input: unknown, kind: 'oidc' | 'saml', problems: Problems): AttributeMapping {
  const base = DEFAULT_MAPPING[kind];
  if (input === undefined) return { ...base, tags: {} };
  if (!isObject(input)) {
    problems.push({ path: 'mapping', message: 'must be an object' });
    return { ...base, tags: {} };
  }
  const v = input;
  const known = ['username', 'email', 'groups', 'tags', 'tagPrefix', 'sessionDuration'];
  for (const key of Object.keys(v))
    if (!known.includes(key))
      problems.push({ path: `mapping.${key}`, message: `unknown (known: ${known.join(', ')})` });
  const name = (key: 'username' | 'email' | 'groups') =>
    v[key] === undefined ? base[key] : (text(v, key, problems) ?? base[key]);
  const nullable = (key: 'tagPrefix' | 'sessionDuration') =>
    v[key] === undefined ? base[key] : v[key] === null ? null : (text(v, key, problems) ?? base[key]);
  const tags: Record<string, string> = {};
  if (v.tags !== undefined) {
    if (!isObject(v.tags))
      problems.push({ path: 'mapping.tags', message: 'must be an object of tag key → claim name' });
    else
      for (const [tag, claim] of Object.entries(v.tags)) {
        if (typeof claim !== 'string' || !claim)
          problems.push({ path: `mapping.tags.${tag}`, message: 'must name a claim' });
        else tags[tag] = claim;
      }
  }
  return {
    username: name('username'),
    email: name('email'),
    groups: name('groups'),
    tags,
    tagPrefix: nullable('tagPrefix'),
    sessionDuration: nullable('sessionDuration'),
  };
}

/** Validates a provider's configuration; every problem is reported with its path. */
export function parseProviderConfig(kind: unknown, input: unknown): OidcProviderConfig | SamlProviderConfig {
  if (kind !== 'oidc' && kind !== 'saml') throw new SesameError('INVALID', 'kind must be "oidc" or "saml"');
  if (!isObject(input)) throw new SesameError('INVALID', 'config must be an object');
  const v = input;
  const problems: Problems = [];
  const common = ['mapping', 'mfa', 'trustedMfaValues'];
  const own =
    kind === 'oidc'
      ? ['issuer', 'clientId', 'clientSecret', 'scopes', 'allowInsecureHttp']
      : ['idpSsoUrl', 'idpEntityId', 'idpCertificates', 'allowIdpInitiated'];
  for (const key of Object.keys(v))
    if (![...common, ...own].includes(key))
      problems.push({ path: key, message: `unknown for ${kind} (known: ${[...own, ...common].join(', ')})` });
  const mfa = v.mfa === undefined ? 'require' : v.mfa;
  if (mfa !== 'require' && mfa !== 'trust-idp')
    problems.push({ path: 'mfa', message: 'must be "require" or "trust-idp"' });
  const flag = (key: string) => {
    if (v[key] === undefined) return false;
    if (typeof v[key] !== 'boolean') problems.push({ path: key, message: 'must be true or false' });
    return v[key] === true;
  };
  const settings: ProviderSettings = {
    mapping: mapping(v.mapping, kind, problems),
    mfa: mfa as ProviderSettings['mfa'],
    trustedMfaValues: list(v, 'trustedMfaValues', problems, DEFAULT_TRUSTED_MFA[kind]),
  };
  let config: OidcProviderConfig | SamlProviderConfig;
  if (kind === 'oidc') {
    config = {
      ...settings,
      issuer: text(v, 'issuer', problems) ?? '',
      clientId: text(v, 'clientId', problems) ?? '',
      clientSecret: text(v, 'clientSecret', problems, true),
      scopes: list(v, 'scopes', problems, ['groups']),
      allowInsecureHttp: flag('allowInsecureHttp'),
    };
  } else {
    const certificates = list(v, 'idpCertificates', problems, []);
    if (certificates.length === 0)
      problems.push({ path: 'idpCertificates', message: 'needs the IdP signing certificate (PEM)' });
    config = {
      ...settings,
      idpSsoUrl: text(v, 'idpSsoUrl', problems) ?? '',
      idpEntityId: text(v, 'idpEntityId', problems, true),
      idpCertificates: certificates,
      allowIdpInitiated: flag('allowIdpInitiated'),
    };
  }
  if (problems.length > 0)
    throw new SesameError(
      'INVALID',
      `identity provider rejected: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      {
        details: problems,
      },
    );
  return config;
}

type Deps = {
  store: Pick<
    Store,
    | 'createIdentityProvider'
    | 'getIdentityProvider'
    | 'listIdentityProviders'
    | 'updateIdentityProvider'
    | 'deleteIdentityProvider'
    | 'consumeOnce'
  >;
  guard: Guard;
  audit: Audit;
  arn: ArnSettings;
  publicUrl: () => string;
  now?: () => number;
};

export function providerUrls(base: string, id: string) {
  return {
    redirectUri: `${base}/sso/${id}/callback`,
    acsUrl: `${base}/sso/${id}/acs`,
    entityId: `${base}/sso/${id}/metadata`,
  };
}

/** Administration of identity providers, and the live OIDC/SAML clients built from them (rebuilt on change). */
export function createIdentityProviders({ store, guard, audit, arn, publicUrl, now = Date.now }: Deps) {
  const arnOf = (id: string) => serverArn(arn, 'identity-provider', id);
  // Built clients are kept while the record is unchanged; the record is re-read now and then, so a change
  // made through another replica (disabled, new certificate) takes effect here within LIVE_CHECK_MS.
  const live = new Map<string, { provider: LiveProvider; updatedAt: number; checkedAt: number }>();

  function build(record: IdentityProviderRecord): LiveProvider {
    const config = parseProviderConfig(record.kind, record.config);
    const urls = providerUrls(publicUrl(), record.id);
    if (record.kind === 'oidc') {
      const c = config as OidcProviderConfig;
      const client = createOidcClient({
        issuer: c.issuer,
        clientId: c.clientId,
        ...(c.clientSecret ? { clientSecret: c.clientSecret } : {}),
        redirectUri: urls.redirectUri,
        scopes: c.scopes,
        allowInsecure: c.allowInsecureHttp,
      });
      return { id: record.id, name: record.name, kind: 'oidc', config: c, client };
    }
    const c = config as SamlProviderConfig;
    const sp = createSamlServiceProvider({
      entityId: urls.entityId,
      acsUrl: urls.acsUrl,
      idpSsoUrl: c.idpSsoUrl,
      idpCertificates: c.idpCertificates,
      ...(c.idpEntityId ? { idpEntityId: c.idpEntityId } : {}),
      store,
    });
    return { id: record.id, name: record.name, kind: 'saml', config: c, sp };
  }

  const publicView = (r: IdentityProviderRecord) => {
    const { clientSecret, ...config } = r.config;
    const urls = providerUrls(publicUrl(), r.id);
    return {
      id: r.id,
      kind: r.kind,
      name: r.name,
      enabled: r.enabled,
      config: {
        ...config,
        ...(clientSecret ? { clientSecret: '(set)' } : {}),
        ...(r.secretProblem ? { clientSecret: '(damaged: give it again)' } : {}),
      },
      ...(r.kind === 'oidc'
        ? { redirectUri: urls.redirectUri }
        : { acsUrl: urls.acsUrl, entityId: urls.entityId, metadataUrl: urls.entityId }),
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  };

  const name = (input: unknown, fallback?: string) => {
    if (input === undefined && fallback) return fallback;
    if (typeof input !== 'string' || input.trim().length === 0 || input.length > 64)
      throw new SesameError('INVALID', 'name must be 1-64 characters (shown on the sign-in button)');
    return input.trim();
  };

  return {
    /** The enabled provider with this id, built once and kept until it changes. */
    async get(id: string): Promise<LiveProvider> {
      const cached = live.get(id);
      if (cached && now() - cached.checkedAt < LIVE_CHECK_MS) return cached.provider;
      const record = ID.test(id) ? await store.getIdentityProvider(id) : undefined;
      if (cached && record?.enabled && record.updatedAt === cached.updatedAt) {
        cached.checkedAt = now();
        return cached.provider;
      }
      live.delete(id);
      if (!record?.enabled)
        throw new SesameError('NOT_FOUND', `no identity provider "${id}" is enabled here`);
      if (record.secretProblem)
        throw new SesameError(
          'UNAVAILABLE',
          `the identity provider "${id}" cannot be used now: its stored client secret is damaged, and an administrator must give it again`,
        );
      const provider = build(record);
      live.set(id, { provider, updatedAt: record.updatedAt, checkedAt: now() });
      return provider;
    },

    /** For the sign-in page: enabled providers, names only. */
    async buttons(): Promise<{ id: string; name: string; kind: string }[]> {
      return (await store.listIdentityProviders())
        .filter((p) => p.enabled && !p.secretProblem) // a button that can only fail is no way in
        .map(({ id, name, kind }) => ({ id, name, kind }));
    },

    async list(principal: Principal) {
      guard(principal, 'sesame:ListIdentityProviders', arnOf('*'));
      return (await store.listIdentityProviders()).map(publicView);
    },

    async create(principal: Principal, input: Record<string, unknown>) {
      const id = typeof input.id === 'string' ? input.id : '';
      guard(principal, 'sesame:CreateIdentityProvider', arnOf(id || '*'));
      if (!ID.test(id))
        throw new SesameError(
          'INVALID',
          'id must be 1-40 lower-case letters, digits or "-" (it is part of the SSO URLs)',
        );
      if (input.enabled !== undefined && typeof input.enabled !== 'boolean')
        throw new SesameError('INVALID', 'enabled must be true or false');
      const config = parseProviderConfig(input.kind, input.config);
      const record: IdentityProviderRecord = {
        id,
        kind: input.kind as 'oidc' | 'saml',
        name: name(input.name),
        config: config as unknown as Record<string, unknown>,
        enabled: input.enabled !== false,
        createdAt: now(),
        updatedAt: now(),
      };
      build(record);
      await store.createIdentityProvider(record);
      await audit({
        actor: principal,
        action: 'sesame:CreateIdentityProvider',
        resource: arnOf(id),
        outcome: 'succeeded',
        detail: { kind: record.kind },
      });
      return publicView(record);
    },

    async update(principal: Principal, id: string, input: Record<string, unknown>) {
      guard(principal, 'sesame:UpdateIdentityProvider', arnOf(id));
      const current = await store.getIdentityProvider(id);
      if (!current) throw new SesameError('NOT_FOUND', `no identity provider "${id}"`);
      if (input.enabled !== undefined && typeof input.enabled !== 'boolean')
        throw new SesameError('INVALID', 'enabled must be true or false');
      // A secret not given again is kept (the API never hands it out), but only for the issuer and client it was
      // given for: whoever may update a provider must not be able to have it sent to an issuer of their choosing.
      const given = input.config;
      if (
        current.secretProblem &&
        given !== undefined &&
        !(isObject(given) && given.clientSecret !== undefined)
      )
        throw new SesameError(
          'INVALID',
          'identity provider rejected: clientSecret: the stored one is damaged and cannot be kept: give it again',
        );
      const keepSecret =
        isObject(given) && given.clientSecret === undefined && current.config.clientSecret !== undefined;
      if (
        keepSecret &&
        (given.issuer !== current.config.issuer || given.clientId !== current.config.clientId)
      )
        throw new SesameError(
          'INVALID',
          'identity provider rejected: clientSecret: must be given again when issuer or clientId changes (the stored one is only ever sent to the issuer it was given for)',
        );
      // Anything but an object is refused by the parser, with a message that says so.
      const merged =
        given === undefined
          ? current.config
          : keepSecret
            ? { ...given, clientSecret: current.config.clientSecret }
            : given;
      const config = parseProviderConfig(current.kind, merged) as unknown as Record<string, unknown>;
      // A new config (with its secret) replaces a damaged one; without one, the damage stays as it is.
      const { secretProblem, ...kept } = current;
      const next: IdentityProviderRecord = {
        ...kept,
        ...(given === undefined && secretProblem ? { secretProblem } : {}),
        name: name(input.name, current.name),
        config,
        enabled: (input.enabled as boolean | undefined) ?? current.enabled,
        updatedAt: now(),
      };
      build(next);
      // Without a new config the stored one is left as it is (a damaged secret too: disabling must still work).
      await store.updateIdentityProvider(id, {
        name: next.name,
        ...(given === undefined ? {} : { config }),
        enabled: next.enabled,
        updatedAt: next.updatedAt,
      });
      live.delete(id);
      await audit({
        actor: principal,
        action: 'sesame:UpdateIdentityProvider',
        resource: arnOf(id),
        outcome: 'succeeded',
      });
      return publicView(next);
    },

    async remove(principal: Principal, id: string) {
      guard(principal, 'sesame:DeleteIdentityProvider', arnOf(id));
      if (!(await store.deleteIdentityProvider(id)))
        throw new SesameError('NOT_FOUND', `no identity provider "${id}"`);
      live.delete(id);
      await audit({
        actor: principal,
        action: 'sesame:DeleteIdentityProvider',
        resource: arnOf(id),
        outcome: 'succeeded',
      });
    },
  };
}

export type IdentityProviders = ReturnType<typeof createIdentityProviders>;
