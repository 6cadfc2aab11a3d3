import { createHash } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { constantTimeEqual, hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { IdentityService } from '../services/identity.ts';
import type { CliHandoff } from '../sign-in/cli-handoff.ts';
import type { IdentityProviders } from '../sign-in/identity-providers.ts';
import type { MfaDevices } from '../sign-in/mfa-devices.ts';
import type { MfaSettingsService } from '../sign-in/mfa-settings-service.ts';
import { createRequestLimiter } from '../sign-in/request-limiter.ts';
import {
  BROWSER_DEVICE_ID,
  onDevice,
  type SignInContext,
  type SignInResult,
  type SignInService,
} from '../sign-in/sign-in-service.ts';
import type { SignInSessions } from '../sign-in/sign-in-sessions.ts';
import { bindingDevice, type SsoService, safeRedirect, samlBindingCookie } from '../sign-in/sso-service.ts';
import type { SignInSession } from '../store/index.ts';
import { body, me, param } from './request.ts';

export type SignInServices = {
  signIn: SignInService;
  sessions: SignInSessions;
  sso: SsoService;
  providers: IdentityProviders;
  handoff: CliHandoff;
  devices: MfaDevices;
  mfaSettings: MfaSettingsService;
  identity: IdentityService;
  /** The configured public URL, if any: the WebAuthn relying party. */
  publicUrl: string | undefined;
  /** The URL this server answers on (the public URL, or its listen address). */
  serverUrl: () => string;
  secureCookies: boolean;
};

declare module 'fastify' {
  interface FastifyRequest {
    signInSession?: SignInSession;
    sessionCookie?: string;
  }
}

/** How the cookie that ties an SP-initiated SAML sign-in to its browser is set (https only; samlBindingCookie). */
const SAML_BINDING = { path: '/', httpOnly: true, sameSite: 'none', secure: true } as const;

/**
 * The browser's cookies. Over https their names carry the `__Host-` prefix: a browser then takes them only
 * from this host, Secure and for the whole path, so a page on a sibling subdomain cannot plant its own
 * sign-in (login CSRF) or device cookie here. Plain http (a local `npm start`) keeps the bare names.
 */
export function cookieNames(secure: boolean) {
  const prefix = secure ? '__Host-' : '';
  return {
    session: `${prefix}sesame_session`,
    device: `${prefix}sesame_device`,
    /** Why single sign-on failed, for the sign-in page's script to show once (so not HttpOnly). */
    ssoError: secure
      ? { name: '__Host-sesame_sso_error', path: '/' }
      : { name: 'sesame_sso_error', path: '/login' },
  };
}
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Bound to the cookie's token, which scripts on other sites cannot read: no server-side state needed. */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`csrf:${sessionToken}`).digest('base64url');
}

export function signedInSession(request: FastifyRequest): SignInSession {
  if (!request.signInSession) throw new SesameError('UNAUTHENTICATED', 'sign in first');
  return request.signInSession;
}

/** The sign-in routes of API.md: password, MFA, enrolment, SSO, CLI hand-off, devices, settings. */
export function registerSignInRoutes(app: FastifyInstance, s: SignInServices, authed: RouteShorthandOptions) {
  const {
    session: SESSION_COOKIE,
    device: DEVICE_COOKIE,
    ssoError: ssoErrorCookie,
  } = cookieNames(s.secureCookies);
  // How the session and device cookies are set; a __Host- cookie is replaced (or expired) only by one set so.
  const browserCookie = { path: '/', httpOnly: true, sameSite: 'lax', secure: s.secureCookies } as const;
  const client = (input: Record<string, unknown>) => {
    if (input.client !== undefined && input.client !== 'web' && input.client !== 'cli')
      throw new SesameError('INVALID', 'client must be "web" or "cli"');
    return input.client === 'web' ? 'web' : 'cli';
  };

  const newDeviceId = () => crypto.randomUUID().replaceAll('-', '');
  const setDeviceCookie = (reply: FastifyReply, id: string) =>
    reply.setCookie(DEVICE_COOKIE, id, { ...browserCookie, maxAge: 365 * 24 * 3600 });
  /** `newDevice: false`: a browser without a device cookie gets none here (the caller decides). */
  const context = (
    request: FastifyRequest,
    reply: FastifyReply,
    which: 'web' | 'cli',
    { newDevice = true } = {},
  ): SignInContext => {
    const input = (request.body ?? {}) as Record<string, unknown>;
    let browserDeviceId = request.cookies[DEVICE_COOKIE] ?? null;
    if (browserDeviceId !== null && !BROWSER_DEVICE_ID.test(browserDeviceId)) browserDeviceId = null;
    if (which === 'web' && !browserDeviceId && newDevice) {
      browserDeviceId = newDeviceId();
      setDeviceCookie(reply, browserDeviceId);
    }
    const bodyDevice =
      typeof input.device === 'string' && /^[A-Za-z0-9_-]{16,100}$/.test(input.device) ? input.device : null;
    return {
      sourceAddress: request.ip,
      client: which,
      deviceId: which === 'web' ? browserDeviceId : bodyDevice,
      browserDeviceId,
      // Worked out only when a WebAuthn ceremony needs it: it refuses hosts it cannot trust.
      get rp() {
        return relyingParty(request);
      },
    };
  };

  /**
   * The WebAuthn relying party. With a configured public URL, only that; without one (a local or test server)
   * the Host header is trusted only when it names this server's own listen address or a loopback name, so a
   * proxy forwarding a foreign Host cannot have keys registered for its own domain.
   */
  const relyingParty = (request: FastifyRequest) => {
    if (s.publicUrl) return { rpId: new URL(s.publicUrl).hostname, origin: new URL(s.publicUrl).origin };
    const origin = `${request.protocol}://${request.headers.host ?? ''}`;
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    const own = URL.canParse(s.serverUrl()) ? new URL(s.serverUrl()).host : '';
    if (!url || (url.host !== own && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)))
      throw new SesameError(
        'INVALID',
        "security keys need the server's public URL: set publicUrl (SESAME_PUBLIC_URL) to the address people use",
      );
    return { rpId: url.hostname, origin: url.origin };
  };

  /** A sign-in result as the client takes it: tokens in the body for the CLI, a cookie for the browser. */
  const answer = (reply: FastifyReply, result: SignInResult) => {
    if (result.status !== 'signed-in') return result;
    const { tokens, user, redirect } = result;
    // The sign-in's own client (recorded when it began) decides, not what a later step's body says.
    const which = tokens.session.client;
    const common = {
      status: 'signed-in',
      user,
      expiresAt: tokens.expiresAt,
      sessionExpiresAt: tokens.session.expiresAt,
    };
    if (which === 'cli') return { ...common, token: tokens.token, refreshToken: tokens.refreshToken };
    reply.setCookie(SESSION_COOKIE, tokens.token, {
      ...browserCookie,
      expires: new Date(tokens.session.expiresAt),
    });
    return { ...common, csrfToken: csrfTokenFor(tokens.token), ...(redirect ? { redirect } : {}) };
  };

  const step =
    (run: (input: Record<string, unknown>, ctx: SignInContext) => Promise<SignInResult>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const input = body(request);
      const which = client(input);
      return answer(reply, await run(input, context(request, reply, which)));
    };

  // Unauthenticated requests that leave state behind (a flow, a mail) are limited per address.
  const limited = createRequestLimiter({ limit: 60, windowMs: 60_000 });

  app.get('/api/v1/auth/options', async () => ({
    providers: await s.providers.buttons(),
    passwordSignIn: true,
  }));
  app.post(
    '/api/v1/auth/login',
    step((input, ctx) => s.signIn.password(input, ctx, safeRedirect(input.next))),
  );
  // A link is kept until its second factor passes (see completeSetup), so each try costs a password hash and a
  // flow: bounded per address, and per link (whoever holds it, from however many addresses).
  const perLink = createRequestLimiter({ limit: 10, windowMs: 10 * 60_000 });
  const setupsLimited = createRequestLimiter({ limit: 120, windowMs: 60_000 });
  app.post(
    '/api/v1/auth/setup',
    step((input, ctx) => {
      setupsLimited(ctx.sourceAddress, 'password setups');
      if (typeof input.token === 'string')
        perLink(hashToken(input.token.slice(0, 200)), 'uses of this setup link');
      return s.signIn.completeSetup(input, ctx);
    }),
  );
  app.post(
    '/api/v1/auth/mfa',
    step((input, ctx) => s.signIn.verifyMfa(input, ctx)),
  );
  app.post('/api/v1/auth/mfa/email', async (request, reply) =>
    s.signIn.emailCode(body(request), context(request, reply, 'cli')),
  );
  app.post('/api/v1/auth/mfa/webauthn-options', async (request, reply) =>
    s.signIn.webauthnOptions(body(request), context(request, reply, 'cli')),
  );
  app.post('/api/v1/auth/enrol/totp', async (request, reply) =>
    s.signIn.enrolTotp(body(request), context(request, reply, 'cli')),
  );
  app.post(
    '/api/v1/auth/enrol/totp/confirm',
    step((input, ctx) => s.signIn.confirmTotp(input, ctx)),
  );
  app.post('/api/v1/auth/enrol/webauthn-options', async (request, reply) =>
    s.signIn.enrolWebauthnOptions(body(request), context(request, reply, 'cli')),
  );
  app.post(
    '/api/v1/auth/enrol/webauthn',
    step((input, ctx) => s.signIn.enrolWebauthn(input, ctx)),
  );
  app.post('/api/v1/auth/forgot', async (request, reply) => {
    limited(request.ip, 'password reset requests');
    return reply.status(202).send(await s.identity.forgotPassword(body(request), request.ip));
  });
  app.post('/api/v1/auth/refresh', async (request) => {
    const input = body(request);
    const tokens = await s.sessions.refresh(input.refreshToken, input.nextRefreshToken, request.ip);
    return {
      token: tokens.token,
      expiresAt: tokens.expiresAt,
      refreshToken: tokens.refreshToken,
      sessionExpiresAt: tokens.session.expiresAt,
    };
  });
  app.post('/api/v1/auth/logout', authed, async (request, reply) => {
    await s.sessions.signOut(signedInSession(request), request.principal?.sourceAddress ?? null);
    return reply.clearCookie(SESSION_COOKIE, browserCookie).status(204).send();
  });
  app.get('/api/v1/auth/csrf', authed, async (request) => {
    if (!request.sessionCookie)
      throw new SesameError('INVALID', 'only a browser sign-in (cookie) has a CSRF token');
    return { csrfToken: csrfTokenFor(request.sessionCookie) };
  });

  // Single sign-on (browser redirects)
  const ssoFailure = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (!(error instanceof SesameError)) app.log.error({ err: error }, 'single sign-on failed');
    else
      app.log.info({ code: error.code, reason: error.message, reqId: request.id }, 'single sign-on failed');
    // The sign-in page shows a fixed text per error code, never the message: most failures happen before the
    // answer is verified, and their messages quote what the request said (a provider id in the path, a SAML
    // Destination), which anyone can make a victim's browser send. FORBIDDEN is Sesame refusing an identity
    // the IdP vouched for (disabled, name taken, unusable attribute): its message is said as it is. Either
    // way it rides in a short-lived cookie only this server sets, not in the address.
    const code = error instanceof SesameError ? error.code : 'INTERNAL';
    const value = code === 'FORBIDDEN' ? `${code}:${(error as SesameError).message.slice(0, 500)}` : code;
    reply.setCookie(ssoErrorCookie.name, value, {
      path: ssoErrorCookie.path,
      sameSite: 'lax',
      secure: s.secureCookies,
      maxAge: 120,
    });
    return reply.redirect('/login#sso-error', 303);
  };
  const ssoLanding = (reply: FastifyReply, result: SignInResult) => {
    if (result.status === 'signed-in') {
      answer(reply, result);
      return reply.redirect(result.redirect ?? '/console/', 303);
    }
    const hash = new URLSearchParams({
      flow: result.flow,
      status: result.status,
      methods: result.methods.join(','),
    });
    return reply.redirect(`/login#${hash}`, 303);
  };
  app.get('/sso/:provider/start', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    try {
      limited(request.ip, 'single sign-on starts');
      // The IdP's SAML answer is a cross-site POST, which a SameSite=Lax cookie does not come with: over https
      // a SameSite=None cookie of its own ties it to this browser (a SameSite=None cookie must be Secure).
      const started = await s.sso.begin(param(request, 'provider'), {
        next: query.next,
        browser: context(request, reply, 'web').browserDeviceId,
        bindSaml: s.secureCookies,
      });
      if (started.samlBinding)
        reply.setCookie(started.samlBinding.name, started.samlBinding.value, {
          ...SAML_BINDING,
          maxAge: 600,
        });
      return reply.redirect(started.url, 303);
    } catch (error) {
      return ssoFailure(request, reply, error);
    }
  });
  app.get('/sso/:provider/callback', async (request, reply) => {
    const url = new URL(request.url, 'http://placeholder');
    try {
      return ssoLanding(
        reply,
        await s.sso.oidcCallback(param(request, 'provider'), url, context(request, reply, 'web')),
      );
    } catch (error) {
      return ssoFailure(request, reply, error);
    }
  });
  // The one route that takes an HTML form post (the SAML HTTP-POST binding). Everywhere else only JSON is
  // parsed, so no other site's form can post to the sign-in steps (login CSRF).
  app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 256 * 1024 });
    scope.post('/sso/:provider/acs', async (request, reply) => {
      try {
        const form = body(request);
        const cookie = typeof form.RelayState === 'string' ? samlBindingCookie(form.RelayState) : undefined;
        const binding = (cookie && request.cookies[cookie]) || null;
        // The post is cross-site, so the browser's (Lax) device cookie does not come with it. With a binding, the
        // device is the one it carries. Without one, a new device is made, and its cookie set only once the answer
        // was accepted: a junk post from any site must not replace the browser's device (its remembered MFA, its
        // own lockout scope).
        let ctx = context(request, reply, 'web', { newDevice: false });
        const minted = !bindingDevice(binding) && !ctx.browserDeviceId ? newDeviceId() : undefined;
        if (minted) ctx = onDevice(ctx, minted);
        const result = await s.sso.samlAcs(param(request, 'provider'), form, ctx, binding);
        if (minted) setDeviceCookie(reply, minted);
        // Spent only once its sign-in went through: a junk post from another site cannot end it.
        if (cookie && binding) reply.clearCookie(cookie, SAML_BINDING);
        return ssoLanding(reply, result);
      } catch (error) {
        return ssoFailure(request, reply, error);
      }
    });
  });
  app.get('/sso/:provider/metadata', async (request, reply) =>
    reply.type('application/samlmetadata+xml').send(await s.sso.metadata(param(request, 'provider'))),
  );

  // The CLI signing in through a browser
  app.post('/api/v1/auth/cli/authorize', authed, async (request) =>
    s.handoff.authorizeLoopback(me(request), signedInSession(request), body(request)),
  );
  app.post('/api/v1/auth/cli/token', async (request, reply) =>
    answer(reply, await s.handoff.exchangeLoopback(body(request), request.ip)),
  );
  app.post('/api/v1/auth/device', async (request) => {
    limited(request.ip, 'device sign-ins');
    return s.handoff.startDevice(request.ip);
  });
  app.post('/api/v1/auth/device/check', authed, async (request) =>
    s.handoff.checkDevice(me(request), body(request)),
  );
  app.post('/api/v1/auth/device/token', async (request, reply) => {
    const result = await s.handoff.pollDevice(body(request), request.ip);
    return result.status === 'pending' ? result : answer(reply, result);
  });
  app.post('/api/v1/auth/device/approve', authed, async (request) =>
    s.handoff.approveDevice(me(request), signedInSession(request), body(request)),
  );

  // One's own MFA devices and sign-ins
  app.get('/api/v1/me/mfa-devices', authed, async (request) => ({
    devices: await s.devices.list(me(request)),
  }));
  app.post('/api/v1/me/mfa-devices/totp', authed, async (request) =>
    s.devices.startTotp(me(request), signedInSession(request)),
  );
  app.post('/api/v1/me/mfa-devices/totp/confirm', authed, async (request) => ({
    device: await s.devices.confirmTotp(me(request), body(request)),
  }));
  app.post('/api/v1/me/mfa-devices/webauthn-options', authed, async (request, reply) =>
    s.devices.startWebauthn(me(request), signedInSession(request), context(request, reply, 'cli').rp),
  );
  app.post('/api/v1/me/mfa-devices/webauthn', authed, async (request, reply) => ({
    device: await s.devices.confirmWebauthn(me(request), context(request, reply, 'cli').rp, body(request)),
  }));
  app.patch('/api/v1/me/mfa-devices/:id', authed, async (request) => ({
    device: await s.devices.rename(me(request), param(request, 'id'), body(request)),
  }));
  app.delete('/api/v1/me/mfa-devices/:id', authed, async (request, reply) => {
    await s.devices.remove(me(request), signedInSession(request), param(request, 'id'));
    return reply.status(204).send();
  });
  app.get('/api/v1/me/sign-ins', authed, async (request) => ({
    sessions: await s.devices.signIns(me(request), signedInSession(request).id),
  }));
  app.delete('/api/v1/me/sign-ins/:id', authed, async (request, reply) => {
    await s.devices.revokeSignIn(me(request), param(request, 'id'));
    return reply.status(204).send();
  });

  // Administration
  app.get('/api/v1/settings/mfa', authed, async (request) => ({
    settings: await s.mfaSettings.get(me(request)),
  }));
  app.put('/api/v1/settings/mfa', authed, async (request) => ({
    settings: await s.mfaSettings.update(me(request), request.body),
  }));
  app.get('/api/v1/identity-providers', authed, async (request) => ({
    providers: await s.providers.list(me(request)),
  }));
  app.post('/api/v1/identity-providers', authed, async (request) => ({
    provider: await s.providers.create(me(request), body(request)),
  }));
  app.put('/api/v1/identity-providers/:id', authed, async (request) => ({
    provider: await s.providers.update(me(request), param(request, 'id'), body(request)),
  }));
  app.delete('/api/v1/identity-providers/:id', authed, async (request, reply) => {
    await s.providers.remove(me(request), param(request, 'id'));
    return reply.status(204).send();
  });
}

/**
 * Resolves the request's credentials: a bearer token (CLI), or the session cookie (browser), which must come
 * with the CSRF token for anything but a read, and from this origin for a WebSocket.
 */
export function createAuthenticate(
  sessions: SignInSessions,
  bearer: (request: FastifyRequest) => string | undefined,
  secureCookies: boolean,
) {
  const SESSION_COOKIE = cookieNames(secureCookies).session;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(request);
    if (token) {
      const { principal, session } = await sessions.authenticate(token, request.ip).catch((error) => {
        // RFC 6750: the token itself was refused, so the client may refresh it and try again. Other 401s (a
        // wrong code) and a database that cannot answer carry no such header and are not worth a second try.
        if (error instanceof SesameError && error.code === 'UNAUTHENTICATED')
          reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw error;
      });
      request.principal = principal;
      request.signInSession = session;
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    const { principal, session } = await sessions.authenticate(cookie, request.ip);
    if (!SAFE_METHODS.has(request.method)) {
      const header = request.headers['x-csrf-token'];
      if (typeof header !== 'string' || !constantTimeEqual(header, csrfTokenFor(cookie as string)))
        throw new SesameError(
          'FORBIDDEN',
          'missing or wrong X-CSRF-Token header (cross-site request refused)',
        );
    }
    if (request.headers.upgrade?.toLowerCase() === 'websocket') {
      const origin = URL.canParse(request.headers.origin ?? '')
        ? new URL(request.headers.origin as string)
        : undefined;
      if (!origin || origin.host !== request.headers.host)
        throw new SesameError('FORBIDDEN', "a browser WebSocket must come from this server's own pages");
    }
    request.principal = principal;
    request.signInSession = session;
    request.sessionCookie = cookie;
  };
}
