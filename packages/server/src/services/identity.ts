import { randomUUID } from 'node:crypto';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { hashPassword, hashToken, randomToken, verifyPassword } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Logger } from '../log.ts';
import type { Store, User } from '../store/index.ts';

type Deps = {
  store: Pick<
    Store,
    | 'createUser'
    | 'getUserById'
    | 'getUserByUsername'
    | 'listUsers'
    | 'setPasswordHash'
    | 'createApiToken'
    | 'getApiToken'
    | 'deleteApiToken'
    | 'createSetupToken'
    | 'consumeSetupToken'
    | 'deleteSetupTokensForUser'
    | 'deleteUserApiTokens'
  >;
  guard: Guard;
  audit: Audit;
  log: Logger;
  arn: ArnSettings;
  tokenTtlMs: number;
  setupTokenTtlMs: number;
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
  createdAt: number;
};

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;

export function toPublicUser(user: User): PublicUser {
  const { id, username, isAdmin, disabled, createdAt } = user;
  return { id, username, isAdmin, disabled, hasPassword: user.passwordHash !== null, createdAt };
}

function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw new SesameError('INVALID', `password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters long`);
  }
  return password;
}

export function createIdentityService({
  store,
  guard,
  audit,
  log,
  arn,
  tokenTtlMs,
  setupTokenTtlMs,
  makeAdministrator,
  now = Date.now,
}: Deps) {
  const userArn = (username: string) => serverArn(arn, 'user', username);

  async function issueSetupToken(user: User): Promise<{ token: string; expiresAt: number }> {
    const token = randomToken('sst_');
    const expiresAt = now() + setupTokenTtlMs;
    await store.deleteSetupTokensForUser(user.id);
    await store.createSetupToken({ tokenHash: hashToken(token), userId: user.id, expiresAt });
    return { token, expiresAt };
  }

  async function issueApiToken(user: User): Promise<{ token: string; expiresAt: number }> {
    const token = randomToken('ses_');
    const createdAt = now();
    const expiresAt = createdAt + tokenTtlMs;
    await store.createApiToken({ tokenHash: hashToken(token), userId: user.id, createdAt, expiresAt });
    return { token, expiresAt };
  }

  return {
    /** First start: creates `admin` without a password and returns a one-time setup token; later starts do nothing. */
    async bootstrap(): Promise<{ username: string; setupToken: string | undefined }> {
      const users = await store.listUsers();
      const admin = users.find((u) => u.isAdmin && !u.disabled);
      if (admin && admin.passwordHash !== null) return { username: admin.username, setupToken: undefined };
      const user =
        admin ??
        (await store.createUser({
          id: randomUUID(),
          username: 'admin',
          passwordHash: null,
          isAdmin: true,
          createdAt: now(),
        }));
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
      if (!USERNAME.test(username)) {
        throw new SesameError(
          'INVALID',
          'username must be 1-64 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
        );
      }
      if (input.isAdmin !== undefined && typeof input.isAdmin !== 'boolean')
        throw new SesameError('INVALID', 'isAdmin must be true or false');
      const user = await store.createUser({
        id: randomUUID(),
        username,
        passwordHash: null,
        isAdmin: input.isAdmin === true,
        createdAt: now(),
      });
      if (user.isAdmin) await makeAdministrator(user.id);
      const setup = await issueSetupToken(user);
      await audit({
        actor: principal,
        action: 'sesame:CreateUser',
        resource: userArn(username),
        outcome: 'succeeded',
        detail: { isAdmin: user.isAdmin },
      });
      return { user: toPublicUser(user), setupToken: setup.token, setupExpiresAt: setup.expiresAt };
    },

    async listUsers(principal: Principal): Promise<PublicUser[]> {
      guard(principal, 'sesame:ListUsers', userArn('*'));
      return (await store.listUsers()).map(toPublicUser);
    },

    /** Sets the password with a one-time setup token and signs the user in. */
    async completeSetup(input: Record<string, unknown>, sourceAddress: string | null) {
      const password = checkPassword(input.password);
      const token = typeof input.token === 'string' ? input.token : '';
      const userId = token ? await store.consumeSetupToken(hashToken(token), now()) : undefined;
      const user = userId ? await store.getUserById(userId) : undefined;
      if (!user || user.disabled) {
        await audit({
          actor: 'anonymous',
          action: 'sesame:CompleteSetup',
          resource: userArn('*'),
          outcome: 'failed',
          sourceAddress,
        });
        throw new SesameError(
          'UNAUTHENTICATED',
          'this setup link is not valid: it was used already, has expired, or was mistyped. Ask an administrator for a new one.',
        );
      }
      await store.setPasswordHash(user.id, await hashPassword(password));
      await audit({
        actor: user.username,
        action: 'sesame:CompleteSetup',
        resource: userArn(user.username),
        outcome: 'succeeded',
        sourceAddress,
      });
      return { user: toPublicUser(user), ...(await issueApiToken(user)) };
    },

    async login(input: Record<string, unknown>, sourceAddress: string | null) {
      const username = typeof input.username === 'string' ? input.username.slice(0, 64) : '';
      const password = typeof input.password === 'string' ? input.password.slice(0, MAX_PASSWORD) : '';
      const user = username ? await store.getUserByUsername(username) : undefined;
      const ok = await verifyPassword(password, user?.passwordHash);
      if (!user || !ok || user.disabled) {
        await audit({
          actor: username || 'anonymous',
          action: 'sesame:SignIn',
          resource: userArn(username || '*'),
          outcome: 'failed',
          sourceAddress,
        });
        throw new SesameError('UNAUTHENTICATED', 'wrong user name or password');
      }
      await audit({
        actor: user.username,
        action: 'sesame:SignIn',
        resource: userArn(user.username),
        outcome: 'succeeded',
        sourceAddress,
      });
      return { user: toPublicUser(user), ...(await issueApiToken(user)) };
    },

    async logout(token: string): Promise<void> {
      await store.deleteApiToken(hashToken(token));
    },

    /** Resolves a bearer token to a principal, or throws UNAUTHENTICATED. */
    async authenticate(token: string | undefined, sourceAddress: string | null): Promise<Principal> {
      if (!token) throw new SesameError('UNAUTHENTICATED', 'sign in first: run `sesame login`');
      const record = await store.getApiToken(hashToken(token));
      if (!record || record.expiresAt <= now()) {
        throw new SesameError(
          'UNAUTHENTICATED',
          'your sign-in has expired or was revoked: run `sesame login` again',
        );
      }
      const user = await store.getUserById(record.userId);
      if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
      return { userId: user.id, username: user.username, sourceAddress };
    },

    async resetSetup(principal: Principal, username: string) {
      guard(principal, 'sesame:ResetUserPassword', userArn(username));
      const user = await store.getUserByUsername(username);
      if (!user) throw new SesameError('NOT_FOUND', `no user named "${username}"`);
      await store.deleteUserApiTokens(user.id);
      const setup = await issueSetupToken(user);
      await audit({
        actor: principal,
        action: 'sesame:ResetUserPassword',
        resource: userArn(username),
        outcome: 'succeeded',
      });
      return { setupToken: setup.token, setupExpiresAt: setup.expiresAt };
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
