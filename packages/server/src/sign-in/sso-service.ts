import { randomBytes, randomUUID } from 'node:crypto';
import { ADMINISTRATORS } from '../access/administrators.ts';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import { constantTimeEqual, hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { SesameStoreError, type Store, type User } from '../store/index.ts';
import { type MappedIdentity, mapIdentity } from './attribute-mapping.ts';
import type { IdentityProviders, LiveProvider } from './identity-providers.ts';
import type { Flows } from './sign-in-flows.ts';
import {
  BROWSER_DEVICE_ID,
  onDevice,
  type SignInContext,
  type SignInResult,
  type SignInService,
} from './sign-in-service.ts';

type Deps = {
  store: Pick<
    Store,
    | 'getUserByExternalId'
    | 'getUserByUsername'
    | 'createUser'
    | 'setUserEmail'
    | 'setUserTags'
    | 'getUserTags'
    | 'listGroups'
    | 'listUserGroups'
    | 'addGroupMember'
    | 'removeGroupMember'
  >;
  providers: IdentityProviders;
  flows: Flows;
  signIn: SignInService;
  /** Reloads the access model after a provisioning change (tags and groups decide policy). */
  reloadAccess: () => Promise<void>;
  audit: Audit;
  log: Logger;
  arn: ArnSettings;
  now?: () => number;
};

/** Where the browser goes after SSO: a path on this server, never another origin. */
export function safeRedirect(value: unknown): string | undefined {
  // Printable ASCII only (no control characters, no backslash): `/\t/evil.example` must not become `//evil`.
  if (typeof value !== 'string' || !/^\/(?![/\\])[\x21-\x5b\x5d-\x7e]{0,1000}$/.test(value)) return undefined;
  // Dot segments: `/.//evil.example` (or `/%2e//…`, `/a/..//…`) is `//evil.example` once a browser resolves it.
  const url = new URL(value, 'http://sesame.invalid');
  const path = `${url.pathname}${url.search}${url.hash}`;
  return url.host === 'sesame.invalid' && !path.startsWith('//') ? path : undefined;
}

const STATE = /^[A-Za-z0-9_-]{20,100}$/;
const SSO_FLOW_MS = 10 * 60_000;

/**
 * The cookie that ties the SP-initiated SAML sign-in whose RelayState is `relayState` to its browser: one per
 * sign-in, so a second sign-in (another tab) does not overwrite the first one's.
 */
export function samlBindingCookie(relayState: string): string {
  return `__Host-sesame_saml_${hashToken(`saml-cookie:${relayState}`).slice(0, 16)}`;
}

/**
 * The browser's device id a SAML binding value (`<random>.<device id>`, made by `begin`) carries, or null when it
 * carries none that a device cookie could hold (say, a binding made by an older server).
 */
export function bindingDevice(binding: string | null): string | null {
  const device = binding?.slice(binding.indexOf('.') + 1);
  return binding?.includes('.') && device && BROWSER_DEVICE_ID.test(device) ? device : null;
}

/**
 * Single sign-on: sends the browser to the identity provider, checks what comes back (the OIDC and SAML modules
 * do the protocol checks), provisions the user just in time (name, email, groups, principal tags), then hands
 * over to the sign-in service for MFA on top (unless the provider is trusted for it) and the session.
 */
export function createSsoService({
  store,
  providers,
  flows,
  signIn,
  reloadAccess,
  audit,
  log,
  arn,
  now = Date.now,
}: Deps) {
  const userArn = (username: string) => serverArn(arn, 'user', username);
  const sameTags = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

  async function provision(
    provider: LiveProvider,
    externalId: string,
    mapped: MappedIdentity,
    ctx: SignInContext,
  ): Promise<User> {
    /** An account that cannot be provisioned: audited, and the error to throw. */
    const refused = async (reason: string, message: string) => {
      await audit({
        actor: mapped.username,
        action: 'sesame:SignIn',
        resource: userArn(mapped.username),
        outcome: 'failed',
        sourceAddress: ctx.sourceAddress,
        detail: { provider: provider.id, reason },
      });
      return new SesameError('FORBIDDEN', message);
    };
    let user = await store.getUserByExternalId(provider.id, externalId);
    const created = !user;
    if (!user) {
      const taken = await store.getUserByUsername(mapped.username);
      if (taken) {
        // Never join an SSO identity to an existing account by name: that would hand the account over.
        throw await refused(
          'user name taken',
          `the user name "${mapped.username}" already belongs to another Sesame account: ask an administrator to rename or remove it`,
        );
      }
      try {
        user = await store.createUser({
          id: randomUUID(),
          username: mapped.username,
          passwordHash: null,
          isAdmin: false,
          createdAt: now(),
          email: mapped.email ?? null,
          source: provider.id,
          externalId,
          // The identity provider decides who a name is (see README: use ${aws:userid} if it gives names again).
          reuseName: true,
        });
      } catch (error) {
        if (!(error instanceof SesameStoreError) || error.code !== 'CONFLICT') throw error;
        // Taken meanwhile, or clashing with another name in session ids (see the store's createUser).
        throw await refused(
          'user name refused',
          `Sesame cannot create an account for "${mapped.username}": ${error.message.replace(/; choose .*$/, '')}; ask an administrator to map this identity provider's user names differently`,
        );
      }
      log.info({ user: user.username, provider: provider.id }, 'user provisioned from the identity provider');
    }
    if (user.disabled) {
      await audit({
        actor: user.username,
        action: 'sesame:SignIn',
        resource: userArn(user.username),
        outcome: 'failed',
        sourceAddress: ctx.sourceAddress,
        detail: { provider: provider.id, reason: 'disabled' },
      });
      throw new SesameError('FORBIDDEN', 'this account is disabled in Sesame: ask an administrator');
    }
    // The address is the IdP's to change, but only once the sign-in is complete (FirstFactor.idpEmail): an
    // emailed sign-in code goes to the one Sesame holds (`user.email`), never to one just sent by the IdP.
    // Tags and groups decide policy: the access model is reloaded (for every user) only when they changed. A user
    // created just now has none yet.
    let changed = created;
    if (!sameTags(created ? {} : await store.getUserTags(user.id), mapped.tags)) {
      await store.setUserTags(user.id, mapped.tags);
      changed = true;
    }
    const wanted = new Set(mapped.groups.map((g) => g.toLowerCase()));
    const all = await store.listGroups();
    const current = new Set(created ? [] : (await store.listUserGroups(user.id)).map((g) => g.id));
    for (const group of all) {
      // The built-in Administrators group is Sesame's to manage, never the IdP's: a group anyone may create or
      // name at some IdPs must not make its members administrators here (nor sync a Sesame-made one away). An
      // IdP group can still hold that power through a Sesame group given AdministratorAccess on purpose.
      if (group.name === ADMINISTRATORS.group) continue;
      const member = current.has(group.id);
      const should = wanted.has(group.name.toLowerCase());
      if (should && !member) await store.addGroupMember(group.id, user.id);
      if (!should && member) await store.removeGroupMember(group.id, user.id);
      if (should !== member) changed = true;
    }
    if (!changed) return user;
    await reloadAccess();
    await audit({
      actor: user.username,
      action: 'sesame:ProvisionUser',
      resource: userArn(user.username),
      outcome: 'succeeded',
      sourceAddress: ctx.sourceAddress,
      detail: {
        provider: provider.id,
        groups: all.filter((g) => wanted.has(g.name.toLowerCase())).map((g) => g.name),
        tags: mapped.tags,
      },
    });
    return user;
  }

  const failed = async (provider: string, ctx: SignInContext, error: unknown) => {
    await audit({
      actor: 'anonymous',
      action: 'sesame:SignIn',
      resource: userArn('*'),
      outcome: 'failed',
      sourceAddress: ctx.sourceAddress,
      detail: { provider, reason: (error as Error).message },
    });
    return error;
  };

  /** The IdP's answer as a Sesame identity; a mapping it cannot satisfy is a failed sign-in, audited. */
  const mapOrFail = async (provider: string, ctx: SignInContext, map: () => MappedIdentity) => {
    try {
      return map();
    } catch (error) {
      throw await failed(provider, ctx, error);
    }
  };

  return {
    /** Starts SSO: where to send the browser. `next` is where it lands afterwards (a path on this server). */
    async begin(
      providerId: string,
      input: { next?: unknown; browser: string | null; bindSaml?: boolean },
    ): Promise<{ url: string; samlBinding?: { name: string; value: string } }> {
      const provider = await providers.get(providerId);
      const next = safeRedirect(input.next);
      // The OIDC answer comes back by a top-level GET, which carries the browser's (SameSite=Lax) device cookie:
      // it must be the browser that started, or a mailed callback link could sign a victim in as someone else.
      const browser = input.browser ? hashToken(`browser:${input.browser}`) : null;
      if (provider.kind === 'oidc') {
        const { url, state, nonce, codeVerifier } = await provider.client.begin();
        await flows.create(
          'sso',
          null,
          { provider: provider.id, nonce, codeVerifier, next, browser },
          SSO_FLOW_MS,
          state,
        );
        return { url };
      }
      // SAML answers by a cross-site POST, which the (SameSite=Lax) device cookie does not come with: over https
      // a SameSite=None cookie of its own stands in for it. It carries the device id too, so the answer signs in
      // that device (remembered MFA, its own lockout scope) and the browser keeps its device cookie.
      const value = input.bindSaml ? `${randomBytes(24).toString('base64url')}.${input.browser ?? ''}` : null;
      const binding = value ? hashToken(`saml-binding:${value}`) : null;
      const flow = await flows.create('sso', null, { provider: provider.id, next, binding }, SSO_FLOW_MS);
      const { url, requestId } = await provider.sp.loginUrl({ relayState: flow.token });
      await flows.update(flow.token, { data: { ...flow.record.data, requestId } });
      return value ? { url, samlBinding: { name: samlBindingCookie(flow.token), value } } : { url };
    },

    async oidcCallback(providerId: string, callbackUrl: URL, ctx: SignInContext): Promise<SignInResult> {
      const provider = await providers.get(providerId);
      if (provider.kind !== 'oidc')
        throw new SesameError('NOT_FOUND', `"${providerId}" is not an OpenID Connect provider`);
      const state = callbackUrl.searchParams.get('state') ?? '';
      let flow: Awaited<ReturnType<Flows['take']>>;
      try {
        const pending = await flows.load(state, ['sso'], 'state', STATE);
        const browser = ctx.browserDeviceId ? hashToken(`browser:${ctx.browserDeviceId}`) : null;
        if (
          pending.data.provider !== provider.id ||
          (pending.data.browser && pending.data.browser !== browser)
        )
          throw new SesameError('UNAUTHENTICATED', 'started for another provider or in another browser');
        flow = await flows.take(state);
      } catch {
        throw await failed(
          provider.id,
          ctx,
          new SesameError(
            'UNAUTHENTICATED',
            'this single sign-on response does not belong to a sign-in started here, or it expired: start again',
          ),
        );
      }
      let claims: Record<string, unknown>;
      try {
        ({ claims } = await provider.client.complete({
          callbackUrl,
          state,
          nonce: String(flow.data.nonce),
          codeVerifier: String(flow.data.codeVerifier),
        }));
      } catch (error) {
        throw await failed(provider.id, ctx, error);
      }
      const mapped = await mapOrFail(provider.id, ctx, () =>
        mapIdentity(claims, provider.config.mapping, String(claims.sub)),
      );
      const user = await provision(provider, String(claims.sub), mapped, ctx);
      const amr = Array.isArray(claims.amr) ? claims.amr.map(String) : [];
      const trusted =
        provider.config.mfa === 'trust-idp' && amr.some((m) => provider.config.trustedMfaValues.includes(m));
      const authTime = typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : now();
      return signIn.afterFirstFactor(user, ctx, {
        method: 'sso',
        providerId: provider.id,
        idpMfaAt: trusted ? Math.min(authTime, now()) : null,
        maxDurationMs: mapped.maxDurationMs,
        redirect: safeRedirect(flow.data.next),
        idpEmail: mapped.email,
      });
    },

    async samlAcs(
      providerId: string,
      form: Record<string, unknown>,
      ctx: SignInContext,
      samlBinding: string | null = null,
    ): Promise<SignInResult> {
      const provider = await providers.get(providerId);
      if (provider.kind !== 'saml')
        throw new SesameError('NOT_FOUND', `"${providerId}" is not a SAML provider`);
      const relayState = typeof form.RelayState === 'string' ? form.RelayState : undefined;
      let expectedRequestId: string | undefined;
      let redirect: string | undefined;
      // Look before taking: a RelayState of another kind of flow, or another provider's, must not use it up.
      const pending = relayState?.startsWith('flw_')
        ? await flows.getByHash(hashToken(relayState))
        : undefined;
      if (pending && (pending.kind !== 'sso' || pending.data.provider !== provider.id))
        throw await failed(
          provider.id,
          ctx,
          new SesameError('UNAUTHENTICATED', 'this SAML response belongs to another sign-in'),
        );
      // A sign-in started over https carries its browser's binding: an answer posted from another browser (an
      // attacker's own response, to sign the victim in as the attacker) does not have it.
      const bound = pending?.data.binding;
      if (
        typeof bound === 'string' &&
        !(samlBinding && constantTimeEqual(hashToken(`saml-binding:${samlBinding}`), bound))
      )
        throw await failed(
          provider.id,
          ctx,
          new SesameError(
            'UNAUTHENTICATED',
            'this SAML response answers a sign-in started in another browser: start signing in again here',
          ),
        );
      // Proved to be the browser that started: its device, which the cross-site post did not bring along.
      const device = typeof bound === 'string' ? bindingDevice(samlBinding) : null;
      if (device) ctx = onDevice(ctx, device);
      const started = pending && relayState ? await flows.take(relayState).catch(() => undefined) : undefined;
      if (started) {
        expectedRequestId = String(started.data.requestId);
        redirect = safeRedirect(started.data.next);
      } else if (provider.config.allowIdpInitiated) {
        // The portal's deep link (State Street): RelayState names the instance to land on.
        if (relayState && /^[A-Za-z0-9._-]{1,64}$/.test(relayState))
          redirect = `/console/connect?target=${encodeURIComponent(relayState)}`;
      } else {
        throw await failed(
          provider.id,
          ctx,
          new SesameError(
            'UNAUTHENTICATED',
            'this SAML response was not asked for by Sesame (IdP-initiated sign-in is off for this provider), or the sign-in expired: start again',
          ),
        );
      }
      let assertion: Awaited<ReturnType<typeof provider.sp.validate>>;
      try {
        assertion = await provider.sp.validate({
          samlResponse: typeof form.SAMLResponse === 'string' ? form.SAMLResponse : '',
          ...(relayState === undefined ? {} : { relayState }),
          ...(expectedRequestId === undefined ? {} : { expectedRequestId }),
        });
      } catch (error) {
        throw await failed(provider.id, ctx, error);
      }
      const mapped = await mapOrFail(provider.id, ctx, () =>
        mapIdentity(assertion.attributes, provider.config.mapping, assertion.nameId),
      );
      const user = await provision(provider, assertion.nameId, mapped, ctx);
      const trusted =
        provider.config.mfa === 'trust-idp' &&
        !!assertion.authnContextClassRef &&
        provider.config.trustedMfaValues.includes(assertion.authnContextClassRef);
      return signIn.afterFirstFactor(user, ctx, {
        method: 'sso',
        providerId: provider.id,
        // When the IdP authenticated the person (an IdP session may be days old), as OIDC's auth_time: the MFA
        // age conditions and the freshness asked of device changes count from it.
        idpMfaAt: trusted ? Math.min(assertion.authnInstant ?? now(), now()) : null,
        maxDurationMs: mapped.maxDurationMs,
        redirect,
        idpEmail: mapped.email,
      });
    },

    async metadata(providerId: string): Promise<string> {
      const provider = await providers.get(providerId);
      if (provider.kind !== 'saml')
        throw new SesameError('NOT_FOUND', `"${providerId}" is not a SAML provider`);
      return provider.sp.metadata();
    },
  };
}

export type SsoService = ReturnType<typeof createSsoService>;
