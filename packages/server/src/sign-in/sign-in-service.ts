import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import { hashedAtLowerCost, hashPassword, hashToken, type ScryptCost, verifyPassword } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type PublicUser, toPublicUser } from '../services/identity.ts';
import { USERNAME } from '../services/validate.ts';
import type { AuthFlow, MfaDevice, SignInClient, Store, User } from '../store/index.ts';
import type { Mailer } from './mailer.ts';
import type { MfaEnrolment, RelyingParty } from './mfa-enrolment.ts';
import type { MfaSettings } from './mfa-settings.ts';
import { createFailureLimiter } from './request-limiter.ts';
import { createSecondFactor } from './second-factor.ts';
import type { Flows, PendingSetup, SignInFlowData } from './sign-in-flows.ts';
import type { IssuedTokens, SignInSessions } from './sign-in-sessions.ts';
import { DEVICE_SCOPE, INVALID_NAME_SCOPE, type Throttle } from './throttle.ts';
import { sixDigitCode } from './totp.ts';
import { createWebAuthn } from './webauthn.ts';

type Deps = {
  store: Pick<
    Store,
    | 'getUserByUsername'
    | 'getUserById'
    | 'setPasswordHash'
    | 'consumeSetupToken'
    | 'findSetupToken'
    | 'setUserEmail'
    | 'listMfaDevices'
    | 'claimTotpStep'
    | 'setWebAuthnCounter'
    | 'rememberSignInContext'
    | 'getSignInContext'
    | 'revokeUserSignInSessions'
    | 'forgetSignInContexts'
  >;
  flows: Flows;
  sessions: SignInSessions;
  enrolment: MfaEnrolment;
  throttle: Throttle;
  audit: Audit;
  log: Logger;
  arn: ArnSettings;
  mfaSettings: () => Promise<MfaSettings>;
  mailer: Mailer | undefined;
  issuer: string;
  scryptCost: ScryptCost;
  now?: () => number;
};

/** Where a request came from and who is asking for the answer. */
export type SignInContext = {
  sourceAddress: string | null;
  client: SignInClient;
  deviceId: string | null;
  /** The browser's own device cookie, whatever the body says: binds a browser's sign-in steps to it. */
  browserDeviceId: string | null;
  rp: RelyingParty;
};

/** What a browser's device cookie may hold (the routes make 32 hex digits). */
export const BROWSER_DEVICE_ID = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * `ctx` on `device` (a browser's device proved some other way than its cookie). Not a spread: that would work
 * out `rp` now, which refuses hosts it cannot trust, on a sign-in that may never need it.
 */
export function onDevice(ctx: SignInContext, device: string): SignInContext {
  return Object.create(ctx, { deviceId: { value: device }, browserDeviceId: { value: device } });
}

export type SignInResult =
  | { status: 'signed-in'; user: PublicUser; tokens: IssuedTokens; redirect?: string | undefined }
  | { status: 'mfa-required'; flow: string; methods: string[]; expiresAt: number; emailSentTo?: string }
  | { status: 'enrol-required'; flow: string; methods: string[]; expiresAt: number };

/** What the first factor (a password, an identity provider) established. */
export type FirstFactor = {
  method: 'password' | 'sso';
  providerId: string | null;
  /** Set when a trusted identity provider did MFA itself. */
  idpMfaAt?: number | null;
  maxDurationMs?: number | undefined;
  redirect?: string | undefined;
  /** The address an identity provider sent (undefined: keep the stored one); stored only once signed in. */
  idpEmail?: string | null | undefined;
  /** A setup link's new password: set once the second factor passed (see completeSetup). */
  setup?: PendingSetup | undefined;
  /** The password it was checked against (passwordFingerprint): a sign-in whose password changed meanwhile ends. */
  passwordSeen?: string | undefined;
};

const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;
const REMEMBER_CONTEXT_MS = 30 * 24 * 3600_000;
const WRONG_PASSWORD = 'wrong user name or password';

function checkNewPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > MAX_PASSWORD)
    throw new SesameError('INVALID', `password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters long`);
  // Counted without spaces: twelve spaces, or a word padded with them, is not a password.
  if (password.replace(/\s/g, '').length < MIN_PASSWORD / 2)
    throw new SesameError(
      'INVALID',
      `password must have at least ${MIN_PASSWORD / 2} characters that are not spaces`,
    );
  return password;
}

/**
 * Signing in: the first factor, then a second one (or enrolment of one) as the MFA settings say, then a
 * sign-in session. Every attempt is audited; no answer tells whether a user name exists.
 */
export function createSignInService(deps: Deps) {
  const { store, flows, sessions, enrolment, throttle, audit, log, mailer, now = Date.now } = deps;
  const userArn = (username: string) => serverArn(deps.arn, 'user', username);
  const deviceHash = (id: string | null) => (id ? hashToken(`device:${id}`) : null);
  const refusedAudits = createFailureLimiter({ limit: 20, windowMs: 60_000, now });
  const flowDevice = (flow: AuthFlow) =>
    typeof flow.data.deviceHash === 'string' ? flow.data.deviceHash : null;

  /**
   * Whose failures a sign-in attempt counts toward, and whose lock stops it: the account name, or, from a
   * device (browser or CLI) that completed a sign-in with MFA as this user in the last 30 days, that user on
   * that device. So a stranger's wrong passwords lock the name for strangers only, and its owner still signs in
   * from their own computer; someone who stole the device cookie still meets a lock of the same size.
   */
  async function lockScope(username: string, user: User | undefined, hash: string | null): Promise<string> {
    // A typed name no account can have shares one scope (it could otherwise spell out a device's scope).
    if (!USERNAME.test(username.toLowerCase())) return INVALID_NAME_SCOPE;
    if (!hash) return username;
    // Asked whether or not the user exists, so that the lookup costs the same either way.
    const known = await store.getSignInContext(user?.id ?? '-', hash);
    return user && known && known.expiresAt > now() ? `${username}${DEVICE_SCOPE}${hash}` : username;
  }

  const secondFactor = createSecondFactor({
    store,
    flows,
    mailer,
    log,
    issuer: deps.issuer,
    now,
    // Counted already: verifyMfa reserves a failure before the code is checked.
    failed: async (user, ctx, message) => {
      await record(user, 'failed', ctx, { reason: `MFA: ${message}` });
    },
  });

  const record = (
    user: User | string,
    outcome: 'succeeded' | 'failed',
    ctx: { sourceAddress: string | null },
    detail = {},
  ) =>
    audit({
      actor: typeof user === 'string' ? user || 'anonymous' : user.username,
      action: 'sesame:SignIn',
      resource: userArn(typeof user === 'string' ? user || '*' : user.username),
      outcome,
      sourceAddress: ctx.sourceAddress,
      detail,
    });

  async function setupLinkInvalid(sourceAddress: string | null): Promise<SesameError> {
    await audit({
      actor: 'anonymous',
      action: 'sesame:CompleteSetup',
      resource: userArn('*'),
      outcome: 'failed',
      sourceAddress,
    });
    return new SesameError(
      'UNAUTHENTICATED',
      'this setup link is not valid: it was used already, has expired, or was mistyped. Ask an administrator for a new one.',
    );
  }

  /**
   * Uses the link up, with every other link of the user (an earlier reset mail, the invitation): once only. It is
   * judged valid as at `presentedAt` (it may have run out while the second factor was typed), unused since.
   */
  async function useSetupLink(
    user: User,
    tokenHash: string,
    presentedAt: number,
    sourceAddress: string | null,
  ): Promise<void> {
    if ((await store.consumeSetupToken(tokenHash, presentedAt)) === user.id) return;
    await audit({
      actor: user.username,
      action: 'sesame:CompleteSetup',
      resource: userArn(user.username),
      outcome: 'failed',
      sourceAddress,
      detail: { reason: 'the link was used meanwhile' },
    });
    throw new SesameError(
      'UNAUTHENTICATED',
      'the setup link was used or replaced meanwhile (in another window, by someone else, or by a newer link), so your password was not changed: sign in with your password, or ask for a new link',
    );
  }

  /** A setup link's password: the old one and every sign-in made with it end (a thief's cookie too). */
  async function setPassword(user: User, hash: string, sourceAddress: string | null) {
    await store.setPasswordHash(user.id, hash);
    await store.revokeUserSignInSessions(user.id, now());
    await store.forgetSignInContexts(user.id);
    await throttle.unlock(user.username);
    await audit({
      actor: user.username,
      action: 'sesame:CompleteSetup',
      resource: userArn(user.username),
      outcome: 'succeeded',
      sourceAddress,
    });
  }

  async function finish(user: User, data: SignInFlowData, mfaAt: number | null, mfaMethod: string | null) {
    // A password changed (or reset) while this sign-in waited for its second factor ends it: it began with the old.
    if (data.passwordSeen !== undefined && data.passwordSeen !== passwordFingerprint(user.passwordHash))
      throw new SesameError(
        'UNAUTHENTICATED',
        'your password was changed or reset while you were signing in: sign in again',
      );
    if (data.setup) {
      await useSetupLink(user, data.setup.tokenHash, data.setup.presentedAt, data.sourceAddress);
      await setPassword(user, data.setup.passwordHash, data.sourceAddress);
    }
    // Only a complete sign-in clears the account's failures: a password alone must not reset the count of
    // wrong codes, or someone holding the password could guess codes without end.
    // The scope the sign-in was counted on: a known device clears its own count, never the name's, or the owner
    // signing in from their laptop would hand a stranger locking the name a fresh set of guesses.
    await throttle.success(await lockScope(user.username, user, data.deviceHash));
    // Only now: someone with just the IdP password, who may edit the address there, must not get codes sent to
    // an address of theirs by failing MFA once.
    if (data.idpEmail !== undefined && data.idpEmail !== user.email)
      await store.setUserEmail(user.id, data.idpEmail);
    const tokens = await sessions.start({
      user,
      method: data.method,
      providerId: data.providerId,
      mfaAt,
      mfaMethod,
      sourceAddress: data.sourceAddress,
      client: data.client,
      maxDurationMs: data.maxDurationMs,
      deviceHash: data.deviceHash,
    });
    // A remembered context is not renewed by using it: 30 days after the last real MFA, it is asked again.
    if (mfaAt && mfaMethod !== 'remembered' && data.deviceHash && data.sourceAddress) {
      await store.rememberSignInContext({
        userId: user.id,
        deviceHash: data.deviceHash,
        sourceAddress: data.sourceAddress,
        mfaAt,
        expiresAt: now() + REMEMBER_CONTEXT_MS,
      });
    }
    await record(user, 'succeeded', data, {
      method: data.method,
      ...(data.providerId ? { provider: data.providerId } : {}),
      mfa: mfaMethod ?? 'none',
      client: data.client,
      signInSession: tokens.session.id,
    });
    return { status: 'signed-in' as const, user: toPublicUser(user), tokens, redirect: data.redirect };
  }

  /** After the first factor: decide whether and how to ask for a second. */
  async function afterFirstFactor(user: User, ctx: SignInContext, first: FirstFactor): Promise<SignInResult> {
    const settings = await deps.mfaSettings();
    const data: SignInFlowData = {
      client: ctx.client,
      deviceHash: deviceHash(ctx.deviceId),
      sourceAddress: ctx.sourceAddress,
      method: first.method,
      providerId: first.providerId,
      maxDurationMs: first.maxDurationMs,
      redirect: first.redirect,
      idpEmail: first.idpEmail,
      setup: first.setup,
      passwordSeen: first.passwordSeen,
      methods: [],
    };
    if (first.idpMfaAt) return finish(user, data, first.idpMfaAt, 'idp');
    // A new password from a link is not a sign-in from a known context: the second factor is asked.
    if (settings.prompt === 'context-change' && data.deviceHash && ctx.sourceAddress && !first.setup) {
      const known = await store.getSignInContext(user.id, data.deviceHash);
      if (known && known.expiresAt > now() && known.sourceAddress === ctx.sourceAddress)
        return finish(user, data, known.mfaAt, 'remembered');
    }
    const all = await store.listMfaDevices(user.id);
    // A device whose stored secret does not open (changed in the database) is no way in, and is not offered.
    const devices = all.filter((d) => settings.methods.includes(d.kind) && !d.secretProblem);
    if (all.length > 0 && devices.length === 0) {
      // Someone with only the password must never be offered to register a device on an account that has one.
      const damaged = all.some((d) => d.secretProblem && settings.methods.includes(d.kind));
      await record(user, 'failed', ctx, {
        reason: damaged ? 'MFA devices that cannot be used' : 'MFA devices of a kind no longer accepted',
      });
      throw new SesameError(
        'FORBIDDEN',
        damaged
          ? 'your authenticator app cannot be used (its stored secret is damaged): ask an administrator to reset your MFA devices'
          : 'your MFA devices are of a kind this server no longer accepts: ask an administrator to reset your MFA devices',
      );
    }
    if (devices.length > 0) {
      const methods = [...new Set(devices.map((d) => d.kind))];
      const flow = await flows.create('mfa', user.id, { ...data, methods });
      return { status: 'mfa-required', flow: flow.token, methods, expiresAt: flow.expiresAt };
    }
    if (settings.withoutDevice === 'register') {
      const flow = await flows.create('enrol', user.id, { ...data, methods: settings.methods });
      return {
        status: 'enrol-required',
        flow: flow.token,
        methods: settings.methods,
        expiresAt: flow.expiresAt,
      };
    }
    if (settings.withoutDevice === 'email-code' && user.email && mailer) {
      const flow = await flows.create('mfa', user.id, { ...data, methods: ['email'] });
      const emailSentTo = await secondFactor.sendEmailCode(flow.token, flow.record, user);
      return {
        status: 'mfa-required',
        flow: flow.token,
        methods: ['email'],
        expiresAt: flow.expiresAt,
        emailSentTo,
      };
    }
    await record(user, 'failed', ctx, { reason: 'no MFA device' });
    throw new SesameError(
      'FORBIDDEN',
      'your account has no MFA device, and this server requires one: ask an administrator to help you register one',
    );
  }

  /** A browser's sign-in continues only in that browser (its device cookie): no login CSRF with a stolen flow. */
  function sameBrowser(flow: AuthFlow, ctx: SignInContext): void {
    if (flow.data.client !== 'web') return;
    if (!ctx.browserDeviceId || deviceHash(ctx.browserDeviceId) !== flow.data.deviceHash)
      throw new SesameError(
        'UNAUTHENTICATED',
        'this sign-in was started in another browser: start signing in again here',
      );
  }

  async function flowUser(flow: AuthFlow): Promise<User> {
    const user = flow.userId ? await store.getUserById(flow.userId) : undefined;
    if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
    return user;
  }

  /** The last step of enrolment at sign-in: the new device (audited) is the second factor of this sign-in. */
  async function enrolled(
    input: Record<string, unknown>,
    ctx: SignInContext,
    confirm: (token: string, flow: AuthFlow, user: User) => Promise<MfaDevice>,
  ): Promise<SignInResult> {
    const token = input.flow as string;
    const flow = await flows.load(token, ['enrol']);
    sameBrowser(flow, ctx);
    const user = await flowUser(flow);
    const device = await confirm(token, flow, user);
    await audit({
      actor: user.username,
      action: 'sesame:CreateMfaDevice',
      resource: userArn(user.username),
      outcome: 'succeeded',
      sourceAddress: ctx.sourceAddress,
      detail: { kind: device.kind, device: device.id },
    });
    return finish(user, flow.data as SignInFlowData, now(), device.kind);
  }

  return {
    afterFirstFactor,

    async password(
      input: Record<string, unknown>,
      ctx: SignInContext,
      redirect?: string,
    ): Promise<SignInResult> {
      const username = typeof input.username === 'string' ? input.username.slice(0, 64) : '';
      const password = typeof input.password === 'string' ? input.password.slice(0, MAX_PASSWORD) : '';
      const user = username ? await store.getUserByUsername(username) : undefined;
      const scope = await lockScope(username, user, deviceHash(ctx.deviceId));
      let attempt: { locked: boolean };
      try {
        await throttle.check(scope, ctx.sourceAddress);
        // Counted before the password is checked: sign-ins sent at once must not all get past the check above
        // while their passwords are hashed, and the (costly) hash runs for at most the limit of them.
        attempt = await throttle.reserve(scope, ctx.sourceAddress);
      } catch (error) {
        // Refusals cost the sender nothing (no password check): past 20 a minute from one address they are
        // logged, not each written to the audit trail, which a flood would otherwise fill.
        if (!refusedAudits.reached(ctx.sourceAddress)) {
          refusedAudits.failed(ctx.sourceAddress);
          // The account, or anonymous: a name that is no account's may be a password typed in the wrong field,
          // and is not kept (CloudTrail hides such names too).
          await record(user ?? '', 'failed', ctx, { reason: 'rate limited' });
        } else {
          log.warn(
            { sourceAddress: ctx.sourceAddress },
            'sign-in refused (rate limited); not audited: too many this minute',
          );
        }
        throw error;
      }
      const ok = await verifyPassword(password, user?.passwordHash, deps.scryptCost);
      if (!user || !ok || user.disabled) {
        await record(user ?? '', 'failed', ctx, {
          reason: 'wrong user name or password',
          ...(attempt.locked ? { locked: true } : {}),
        });
        throw new SesameError('UNAUTHENTICATED', WRONG_PASSWORD);
      }
      // A right password is no failure; the count of wrong codes is cleared only by a complete sign-in (finish).
      await throttle.release(scope, ctx.sourceAddress);
      // After the cost was raised, an old hash is both weaker and quicker to check than the unknown names' dummy
      // (timing would tell who has an account): made again at the cost in force.
      // (Only over the hash just checked: a reset or a new password meanwhile is not written over.)
      let checked = user.passwordHash;
      if (checked && hashedAtLowerCost(checked, deps.scryptCost)) {
        const again = await hashPassword(password, deps.scryptCost);
        if (await store.setPasswordHash(user.id, again, checked)) checked = again;
        else {
          // Another write got there first: another sign-in's re-hash of this same password, or a reset.
          const stored = (await store.getUserById(user.id))?.passwordHash ?? null;
          if (!(await verifyPassword(password, stored, deps.scryptCost)))
            throw new SesameError(
              'UNAUTHENTICATED',
              'your password was changed or reset while you were signing in: sign in again',
            );
          checked = stored;
        }
      }
      // The sign-in goes on with the hash now stored, which its second factor's finish compares with.
      return afterFirstFactor({ ...user, passwordHash: checked }, ctx, {
        method: 'password',
        providerId: null,
        redirect,
        passwordSeen: passwordFingerprint(checked),
      });
    },

    /**
     * Sets the password with a one-time invitation or reset token, then continues to MFA like a sign-in. An account
     * with an MFA device gets the new password only once that second factor passed: a link alone (a read mailbox)
     * must neither lock the owner out nor end their sign-ins.
     */
    async completeSetup(input: Record<string, unknown>, ctx: SignInContext): Promise<SignInResult> {
      const password = checkNewPassword(input.password);
      const token = typeof input.token === 'string' ? input.token.slice(0, 200) : '';
      const tokenHash = token ? hashToken(token) : '';
      const userId = tokenHash ? await store.findSetupToken(tokenHash, now()) : undefined;
      const user = userId ? await store.getUserById(userId) : undefined;
      // (An identity provider's account is never given a link; one from before that rule is refused too.)
      if (!user || user.disabled || user.source !== 'local') throw await setupLinkInvalid(ctx.sourceAddress);
      const hash = await hashPassword(password, deps.scryptCost);
      // Without a device there is no second factor to wait for (an invitation, after an MFA reset): the link is
      // used and the password kept at once, even if enrolment is left half done. With one, both wait for it.
      if ((await store.listMfaDevices(user.id)).length === 0) {
        await useSetupLink(user, tokenHash, now(), ctx.sourceAddress);
        await setPassword(user, hash, ctx.sourceAddress);
        return afterFirstFactor(user, ctx, { method: 'password', providerId: null });
      }
      return afterFirstFactor(user, ctx, {
        method: 'password',
        providerId: null,
        setup: { passwordHash: hash, tokenHash, presentedAt: now() },
      });
    },

    async verifyMfa(input: Record<string, unknown>, ctx: SignInContext): Promise<SignInResult> {
      // Refused before any work (see sixDigitCode).
      if (input.method === 'totp') sixDigitCode(input.code, 'your authenticator app shows');
      if (input.method === 'email') sixDigitCode(input.code, 'in the email');
      const token = input.flow as string;
      const flow = await flows.load(token, ['mfa']);
      sameBrowser(flow, ctx);
      const user = await flowUser(flow);
      // The device the sign-in began on (recorded in the flow), not one a later request names.
      const scope = await lockScope(user.username, user, flowDevice(flow));
      await throttle.check(scope, ctx.sourceAddress);
      // A request that names no offered method is a mistake, not a guess: it costs no attempt.
      const methods = (flow.data.methods as string[]) ?? [];
      if (!methods.includes(String(input.method ?? '')))
        throw new SesameError('INVALID', `method must be one of ${methods.map((m) => `"${m}"`).join(', ')}`);
      const attempts = await flows.reserve(token);
      // Counted against the account before the code is checked, as a password is: guesses sent at once over
      // many sign-ins (each with the right password) must not all get past the check above.
      await throttle.reserve(scope, ctx.sourceAddress);
      let method: Awaited<ReturnType<typeof secondFactor.check>>;
      try {
        method = await secondFactor.check(attempts, flow, user, ctx, input);
      } catch (error) {
        // A wrong code stays counted; a malformed request (INVALID) was no guess.
        if (!(error instanceof SesameError && error.code === 'UNAUTHENTICATED'))
          await throttle.release(scope, ctx.sourceAddress);
        throw error;
      }
      await throttle.release(scope, ctx.sourceAddress);
      const taken = await flows.take(token);
      return finish(user, taken.data as SignInFlowData, now(), method);
    },

    async emailCode(input: Record<string, unknown>, ctx: SignInContext): Promise<{ emailSentTo: string }> {
      const token = input.flow as string;
      const flow = await flows.load(token, ['mfa']);
      sameBrowser(flow, ctx);
      if (!((flow.data.methods as string[]) ?? []).includes('email'))
        throw new SesameError('INVALID', 'this sign-in does not offer an email code');
      return { emailSentTo: await secondFactor.sendEmailCode(token, flow, await flowUser(flow)) };
    },

    async webauthnOptions(input: Record<string, unknown>, ctx: SignInContext) {
      const token = input.flow as string;
      const flow = await flows.load(token, ['mfa']);
      sameBrowser(flow, ctx);
      const user = await flowUser(flow);
      const keys = (await store.listMfaDevices(user.id)).filter(
        (d) => d.kind === 'webauthn' && d.credentialId,
      );
      if (keys.length === 0) throw new SesameError('INVALID', 'you have no security key registered');
      const { options, challenge } = await createWebAuthn({
        ...ctx.rp,
        rpName: deps.issuer,
      }).authenticationOptions({
        allow: keys.map((d) => ({ credentialId: d.credentialId as string, transports: d.transports })),
      });
      await flows.update(token, { data: { ...flow.data, challenge } });
      return { options };
    },

    async enrolTotp(input: Record<string, unknown>, ctx: SignInContext) {
      const token = input.flow as string;
      const flow = await flows.load(token, ['enrol']);
      sameBrowser(flow, ctx);
      if (!((flow.data.methods as string[]) ?? []).includes('totp'))
        throw new SesameError('INVALID', 'this server does not accept authenticator apps');
      return enrolment.totpSecret(token, flow, await flowUser(flow));
    },

    async confirmTotp(input: Record<string, unknown>, ctx: SignInContext): Promise<SignInResult> {
      return enrolled(input, ctx, (token, flow, user) =>
        enrolment.confirmTotp(token, flow, user, input, { firstOnly: true }),
      );
    },

    async enrolWebauthnOptions(input: Record<string, unknown>, ctx: SignInContext) {
      const token = input.flow as string;
      const flow = await flows.load(token, ['enrol']);
      sameBrowser(flow, ctx);
      if (!((flow.data.methods as string[]) ?? []).includes('webauthn'))
        throw new SesameError('INVALID', 'this server does not accept security keys');
      return { options: await enrolment.webauthnOptions(token, flow, await flowUser(flow), ctx.rp) };
    },

    async enrolWebauthn(input: Record<string, unknown>, ctx: SignInContext): Promise<SignInResult> {
      return enrolled(input, ctx, (token, flow, user) =>
        enrolment.confirmWebauthn(token, flow, user, ctx.rp, input, { firstOnly: true }),
      );
    },
  };
}

export type SignInService = ReturnType<typeof createSignInService>;

/** A stand-in for a stored password hash, to tell whether it changed (not the hash itself, in a flow). */
function passwordFingerprint(hash: string | null): string {
  return hashToken(hash ?? '');
}
