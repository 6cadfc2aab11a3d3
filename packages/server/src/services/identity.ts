import { randomUUID } from 'node:crypto';
import { createUserTarget } from '../access/user-target.ts';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { hashToken, randomToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Logger } from '../log.ts';
import type { Mailer } from '../sign-in/mailer.ts';
import type { MfaDevice, Store, User } from '../store/index.ts';
import { EMAIL, onlyFields, USERNAME } from './validate.ts';

type Deps = {
  store: Pick<
    Store,
    | 'createUser'
    | 'getUserById'
    | 'getUserByUsername'
    | 'getUserTags'
    | 'listUsers'
    | 'getUserByEmail'
    | 'setUserDisabled'
    | 'setUserEmail'
    | 'deleteUser'
    | 'createSetupToken'
    | 'deleteSetupTokensForUser'
    | 'setPasswordHash'
    | 'forgetSignInContexts'
    | 'revokeUserSignInSessions'
    | 'listMfaDevices'
    | 'deleteUserMfaDevices'
    | 'forgetSignInContexts'
    | 'getThrottle'
    | 'putThrottle'
    | 'getSetting'
    | 'putSetting'
  >;
  guard: Guard;
  audit: Audit;
  log: Logger;
  arn: ArnSettings;
  setupTokenTtlMs: number;
  /** The server's URL as people reach it, for links in emails. */
  publicUrl: () => string;
  mailer: Mailer | undefined;
  /** Clears a lockout (the sign-in throttle). */
  unlock: (username: string) => Promise<void>;
  /** Puts a user in the Administrators group (whose permission set allows everything). */
  makeAdministrator: (userId: string) => Promise<void>;
  now?: () => number;
};

export type PublicUser = {
  id: string;
  username: string;
  isAdmin: boolean;
  disabled: boolean;
  hasPassword: boolean;
  email: string | null;
  /** `local`, or the identity provider that provisions the user. */
  source: string;
  createdAt: number;
};

const MAX_QUEUED_RESETS = 100;

export function toPublicUser(user: User): PublicUser {
  const { id, username, isAdmin, disabled, createdAt, email, source } = user;
  return {
    id,
    username,
    isAdmin,
    disabled,
    hasPassword: user.passwordHash !== null,
    email,
    source,
    createdAt,
  };
}

export function checkEmail(email: unknown): string | null {
  if (email === null || email === undefined || email === '') return null;
  if (typeof email !== 'string' || !EMAIL.test(email))
    throw new SesameError('INVALID', 'email must be an email address like alice@example.com');
  return email;
}

/** The settings entry naming the administrator the first start created (see bootstrap). */
const BOOTSTRAP_SETTING = 'bootstrap';

/** How long a reset link mailed on request (forgot password) works. */
const SELF_SERVICE_LINK_MS = 3600_000;

export function createIdentityService({
  store,
  guard,
  audit,
  log,
  arn,
  setupTokenTtlMs,
  publicUrl,
  mailer,
  unlock,
  makeAdministrator,
  now = Date.now,
}: Deps) {
  const userArn = (username: string) => serverArn(arn, 'user', username);
  // Password resets run one after another, after their answer: bounded, and nothing runs in parallel.
  let pending: Promise<void> = Promise.resolve();
  let queued = 0;

  /** `replace`: earlier links stop working (an administrator's reset); a self-service reset leaves them be. */
  async function issueSetupToken(
    user: User,
    replace = true,
    ttlMs = setupTokenTtlMs,
  ): Promise<{ token: string; expiresAt: number }> {
    const token = randomToken('sst_');
    const expiresAt = now() + ttlMs;
    if (replace) await store.deleteSetupTokensForUser(user.id);
    await store.createSetupToken({ tokenHash: hashToken(token), userId: user.id, expiresAt });
    return { token, expiresAt };
  }

  /** Mails a setup link; false when there is no mail server or address (the administrator passes it on). */
  async function mailLink(
    user: User,
    kind: 'invitation' | 'reset',
    token: string,
    ttlMs = setupTokenTtlMs,
  ): Promise<boolean> {
    if (!mailer || !user.email) return false;
    const lasts =
      ttlMs < 2 * 3600_000
        ? `${Math.round(ttlMs / 60_000)} minutes`
        : `${Math.round(ttlMs / 3600_000)} hours`;
    const link = `${publicUrl()}/${kind === 'invitation' ? 'setup' : 'reset'}#token=${token}`;
    await mailer.send({
      to: user.email,
      subject: kind === 'invitation' ? 'You are invited to Sesame' : 'Reset your Sesame password',
      text:
        kind === 'invitation'
          ? `Hello ${user.username},\n\nan administrator created a Sesame account for you. Set your password here (the link works once, for ${lasts}):\n\n${link}\n\nYou will then register an authenticator app or a security key.\n`
          : `Hello ${user.username},\n\nset a new Sesame password here (the link works once, for ${lasts}):\n\n${link}\n\nIf you did not ask for this, tell your administrator.\n`,
    });
    return true;
  }

  const target = createUserTarget({ store, guard, userArn });
  /** The account, once `principal` may do `action` on it (judged with its tags). */
  async function existing(principal: Principal, action: string, username: string): Promise<User> {
    const user = await target(principal, action, username);
    if (!user) throw new SesameError('NOT_FOUND', `no user named "${username}"`);
    return user;
  }

  const done = (principal: Principal, action: string, username: string, detail?: Record<string, unknown>) =>
    audit({
      actor: principal,
      action,
      resource: userArn(username),
      outcome: 'succeeded',
      ...(detail ? { detail } : {}),
    });

  return {
    /**
     * First start: creates `admin` without a password and returns a one-time setup token. A restart before that
     * password is set issues a fresh link; any other start does nothing. Only an empty directory, or that one
     * administrator alone and still without a password, counts as first: an administrator deleted or disabled
     * later, or one just invited, must not bring back an `admin` (nor a new link printed to the log).
     */
    async bootstrap(): Promise<{ username: string; setupToken: string | undefined }> {
      const users = await store.listUsers();
      const [only] = users;
      const first = (await store.getSetting(BOOTSTRAP_SETTING)) as { userId?: unknown } | undefined;
      // A directory bootstrapped before this setting was kept: its `admin`.
      const firstId = first ? first.userId : only?.username === 'admin' && only.isAdmin ? only.id : undefined;
      const pending =
        only !== undefined &&
        users.length === 1 &&
        only.id === firstId &&
        !only.disabled &&
        only.passwordHash === null;
      if (only && !pending) return { username: only.username, setupToken: undefined };
      let user = only;
      if (!user) {
        user = await store.createUser({
          id: randomUUID(),
          username: 'admin',
          passwordHash: null,
          isAdmin: true,
          createdAt: now(),
        });
        await store.putSetting(BOOTSTRAP_SETTING, { userId: user.id }, now());
      }
      await makeAdministrator(user.id);
      const { token } = await issueSetupToken(user);
      log.info(
        { user: user.username },
        'first administrator has no password yet; a one-time setup link was issued',
      );
      return { username: user.username, setupToken: token };
    },

    async createUser(principal: Principal, input: Record<string, unknown>) {
      const username = typeof input.username === 'string' ? input.username : '';
      guard(principal, 'sesame:CreateUser', userArn(username || '*'));
      onlyFields(input, ['username', 'isAdmin', 'email', 'sendInvitation', 'reuseName']);
      if (input.reuseName !== undefined && typeof input.reuseName !== 'boolean')
        throw new SesameError('INVALID', 'reuseName must be true or false');
      if (!USERNAME.test(username)) {
        throw new SesameError(
          'INVALID',
          'username must be 1-64 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
        );
      }
      if (input.isAdmin !== undefined && typeof input.isAdmin !== 'boolean')
        throw new SesameError('INVALID', 'isAdmin must be true or false');
      // An administrator is a member of Administrators: creating one takes that right as well.
      if (input.isAdmin === true)
        guard(principal, 'sesame:AddUserToGroup', serverArn(arn, 'group', 'Administrators'));
      if (input.sendInvitation !== undefined && typeof input.sendInvitation !== 'boolean')
        throw new SesameError('INVALID', 'sendInvitation must be true or false');
      const email = checkEmail(input.email);
      if (input.sendInvitation === true && (!email || !mailer))
        throw new SesameError(
          'INVALID',
          email
            ? 'this server has no mail server configured (smtp): send the setup link yourself'
            : 'sendInvitation needs an email address',
        );
      const user = await store.createUser({
        id: randomUUID(),
        username,
        passwordHash: null,
        isAdmin: input.isAdmin === true,
        createdAt: now(),
        email,
        reuseName: input.reuseName === true,
      });
      if (user.isAdmin) await makeAdministrator(user.id);
      const setup = await issueSetupToken(user);
      // The account exists either way: a mail server that fails must not lose the link (it is in the answer).
      const invitationSent =
        input.sendInvitation === true &&
        (await mailLink(user, 'invitation', setup.token).catch((error: unknown) => {
          log.warn({ err: (error as Error).message, user: username }, 'invitation email failed');
          return false;
        }));
      await done(principal, 'sesame:CreateUser', username, {
        isAdmin: user.isAdmin,
        invitationSent,
        ...(input.reuseName === true ? { reuseName: true } : {}),
      });
      return {
        user: toPublicUser(user),
        setupToken: setup.token,
        setupUrl: `${publicUrl()}/setup#token=${setup.token}`,
        setupExpiresAt: setup.expiresAt,
        invitationSent,
      };
    },

    /** One's own record (no policy needed). */
    async self(principal: Principal): Promise<PublicUser> {
      const user = await store.getUserById(principal.userId);
      if (!user) throw new SesameError('UNAUTHENTICATED', 'this account no longer exists');
      return toPublicUser(user);
    },

    async listUsers(principal: Principal): Promise<PublicUser[]> {
      guard(principal, 'sesame:ListUsers', userArn('*'));
      return (await store.listUsers()).map(toPublicUser);
    },

    async getUser(principal: Principal, username: string): Promise<PublicUser> {
      return toPublicUser(await existing(principal, 'sesame:GetUser', username));
    },

    async resetSetup(principal: Principal, username: string, input: Record<string, unknown> = {}) {
      const user = await existing(principal, 'sesame:ResetUserPassword', username);
      onlyFields(input, ['sendEmail']);
      if (input.sendEmail !== undefined && typeof input.sendEmail !== 'boolean')
        throw new SesameError('INVALID', 'sendEmail must be true or false');
      // A Sesame password would let them in past the identity provider (its MFA, and its offboarding).
      if (user.source !== 'local')
        throw new SesameError(
          'INVALID',
          `${username} signs in through an identity provider (${user.source}), which keeps their password: reset it there`,
        );
      // A password is reset because someone else may know it: it stops working now, not once the link is used, and
      // no device is remembered for skipping the second factor.
      await store.setPasswordHash(user.id, null);
      await store.forgetSignInContexts(user.id);
      await store.revokeUserSignInSessions(user.id, now());
      const setup = await issueSetupToken(user);
      // The reset has happened (sign-ins revoked, the old link gone): a mail server that fails must not lose the
      // new link, which is in the answer.
      const emailSent =
        input.sendEmail === true &&
        (await mailLink(user, 'reset', setup.token).catch((error: unknown) => {
          log.warn({ err: (error as Error).message, user: username }, 'password reset email failed');
          return false;
        }));
      await done(principal, 'sesame:ResetUserPassword', username, { emailSent });
      return {
        setupToken: setup.token,
        setupUrl: `${publicUrl()}/reset#token=${setup.token}`,
        setupExpiresAt: setup.expiresAt,
        emailSent,
      };
    },

    /**
     * Self-service: always the same answer, given at once; the lookup and the mail happen afterwards, so
     * neither the answer nor its timing tells whether the user exists.
     */
    async forgotPassword(input: Record<string, unknown>, sourceAddress: string | null) {
      const given =
        typeof input.username === 'string'
          ? input.username
          : typeof input.email === 'string'
            ? input.email
            : '';
      const name = given.slice(0, 254);
      // A server that sends no mail says so (it is the same for every name, so it tells nothing of accounts),
      // rather than have people wait for a mail that never comes. The request is still audited.
      if (!mailer) {
        await audit({
          actor: 'anonymous',
          action: 'sesame:ForgotPassword',
          resource: userArn('*'),
          outcome: 'failed',
          sourceAddress,
          detail: { reason: 'this server sends no email' },
        });
        return {
          message:
            'This Sesame server does not send email, so it cannot mail a reset link: ask an administrator for one (sesame admin users reset <name>).',
        };
      }
      const work = async () => {
        const user = name.includes('@')
          ? await store.getUserByEmail(name)
          : await store.getUserByUsername(name);
        let sent = false;
        // At most one reset mail a minute per user: the form must not become a way to flood someone's inbox.
        const key = user ? `forgot:${user.id}` : '';
        const recent = user ? await store.getThrottle(key) : undefined;
        if (user && recent && recent.windowStart + 60_000 > now()) {
          log.info(
            { user: user.username },
            'password reset email not sent: one was sent less than a minute ago',
          );
        } else if (user && !user.disabled && user.source === 'local' && user.email && mailer) {
          await store.putThrottle({ key, failures: 1, windowStart: now(), lockedUntil: null });
          // An invitation or an administrator's link still works: anyone may ask for a reset of any name.
          // Short-lived: whoever asked may not be the owner, and the mailbox may be read by others.
          const setup = await issueSetupToken(user, false, SELF_SERVICE_LINK_MS);
          sent = await mailLink(user, 'reset', setup.token, SELF_SERVICE_LINK_MS).catch((error: unknown) => {
            log.warn({ err: (error as Error).message, user: user.username }, 'password reset email failed');
            return false;
          });
        }
        await audit({
          // A name that is no account's is not kept: it may be a password typed in the wrong field.
          actor: user?.username ?? 'anonymous',
          action: 'sesame:ForgotPassword',
          resource: userArn(user?.username ?? '*'),
          outcome: sent ? 'succeeded' : 'failed',
          sourceAddress,
        });
      };
      if (queued >= MAX_QUEUED_RESETS) {
        log.warn(
          { queued },
          'password reset requests arrive faster than they are handled: this one is dropped',
        );
      } else {
        queued++;
        pending = pending
          .then(work)
          .catch((error: unknown) => log.error({ err: error }, 'password reset failed'))
          .finally(() => {
            queued--;
          });
      }
      return { message: 'If that account exists and has an email address, a reset link is on its way.' };
    },

    /** Resolves when every password reset asked for so far has been handled (tests, shutdown). */
    settled(): Promise<void> {
      return pending;
    },

    async setDisabled(principal: Principal, username: string, disabled: boolean): Promise<PublicUser> {
      const user = await existing(principal, disabled ? 'sesame:DisableUser' : 'sesame:EnableUser', username);
      if (disabled && user.id === principal.userId)
        throw new SesameError('INVALID', 'you cannot disable your own account');
      await store.setUserDisabled(user.id, disabled);
      if (disabled) {
        await store.revokeUserSignInSessions(user.id, now());
        // Enabled again later, the account is asked for MFA on every device, as after a reset.
        await store.forgetSignInContexts(user.id);
      }
      await done(principal, disabled ? 'sesame:DisableUser' : 'sesame:EnableUser', username);
      return toPublicUser({ ...user, disabled });
    },

    async setEmail(
      principal: Principal,
      username: string,
      input: Record<string, unknown>,
    ): Promise<PublicUser> {
      const user = await existing(principal, 'sesame:UpdateUser', username);
      onlyFields(input, ['email']);
      // Leaving it out must not clear it: null does that.
      if (!('email' in input))
        throw new SesameError('INVALID', 'email is required (null removes the address)');
      const email = checkEmail(input.email);
      await store.setUserEmail(user.id, email);
      await done(principal, 'sesame:UpdateUser', username, { email });
      return toPublicUser({ ...user, email });
    },

    async unlock(principal: Principal, username: string): Promise<void> {
      await target(principal, 'sesame:UnlockUser', username);
      await unlock(username);
      await done(principal, 'sesame:UnlockUser', username);
    },

    async deleteUser(principal: Principal, username: string): Promise<void> {
      const user = await existing(principal, 'sesame:DeleteUser', username);
      if (user.id === principal.userId)
        throw new SesameError('INVALID', 'you cannot delete your own account');
      await store.revokeUserSignInSessions(user.id, now());
      await store.deleteUser(user.id);
      await done(principal, 'sesame:DeleteUser', username);
    },

    async listMfaDevices(principal: Principal, username: string) {
      const user = await existing(principal, 'sesame:ListMfaDevices', username);
      return (await store.listMfaDevices(user.id)).map(publicDevice);
    },

    /** Removes every MFA device (lost phone): the user registers a new one at the next sign-in. */
    async resetMfa(principal: Principal, username: string): Promise<number> {
      const user = await existing(principal, 'sesame:ResetMfaDevices', username);
      const removed = await store.deleteUserMfaDevices(user.id);
      await store.forgetSignInContexts(user.id);
      await store.revokeUserSignInSessions(user.id, now());
      await done(principal, 'sesame:ResetMfaDevices', username, { removed });
      return removed;
    },
  };
}

export type PublicMfaDevice = {
  id: string;
  kind: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** Present (true) when the device cannot be used: its stored secret is damaged (the server's log says why). */
  unusable?: true;
};

export function publicDevice(d: MfaDevice): PublicMfaDevice {
  const { id, kind, name, createdAt, lastUsedAt } = d;
  return { id, kind, name, createdAt, lastUsedAt, ...(d.secretProblem ? { unusable: true as const } : {}) };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
