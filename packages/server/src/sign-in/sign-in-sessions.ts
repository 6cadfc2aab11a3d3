import { randomUUID } from 'node:crypto';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { constantTimeEqual, hashToken, randomToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { SignInClient, SignInSession, Store, User } from '../store/index.ts';

type Deps = {
  store: Pick<
    Store,
    | 'createSignInSession'
    | 'createApiToken'
    | 'findTokenSession'
    | 'findRefresh'
    | 'rotateRefresh'
    | 'forgetSignInDevice'
    | 'revokeSignInSession'
    | 'getUserById'
    | 'getSignInSession'
  >;
  accessTokenTtlMs: number;
  /** The longest sign-in this user may have: from their permission sets (or the server default). */
  maxSessionMsFor: (userId: string) => number;
  /** Sign-outs and sign-ins ended for a refresh token used twice (a copy of it elsewhere) go on the record. */
  audit: Audit;
  arn: ArnSettings;
  now?: () => number;
};

export type StartSignIn = {
  user: User;
  method: SignInSession['method'];
  providerId: string | null;
  mfaAt: number | null;
  mfaMethod: string | null;
  sourceAddress: string | null;
  client: SignInClient;
  /** A shorter limit from the identity provider (SAML SessionDuration). */
  maxDurationMs?: number | undefined;
  /** A time it must end by, whatever the limits above say (the browser sign-in a CLI sign-in was handed off from). */
  endsBy?: number;
  /** The web sign-in this CLI sign-in was handed off from: it ends with it. */
  parentId?: string;
  /** The device (hashed) it was made on: revoking the sign-in forgets that device's remembered MFA. */
  deviceHash?: string | null;
};

export type IssuedTokens = {
  session: SignInSession;
  token: string;
  expiresAt: number;
  refreshToken: string | undefined;
};

const EXPIRED = 'your sign-in has expired or was revoked: run `sesame login` again';

/** A refresh token a client proposes: as random as the server's own (32 bytes, base64url), or more. */
const PROPOSED_REFRESH = /^rft_[A-Za-z0-9_-]{43,100}$/;

/**
 * Sign-in sessions and their tokens. A web sign-in gets one token for the whole session (in an HttpOnly cookie);
 * a CLI sign-in gets short access tokens and a refresh token that rotates on every use; presenting a refresh
 * token a second time means it was copied, and revokes the whole sign-in.
 */
export function createSignInSessions({
  store,
  accessTokenTtlMs,
  maxSessionMsFor,
  audit,
  arn,
  now = Date.now,
}: Deps) {
  const record = async (
    session: SignInSession,
    action: string,
    outcome: 'succeeded' | 'failed',
    sourceAddress: string | null,
    detail: Record<string, unknown> = {},
  ) => {
    const username = (await store.getUserById(session.userId))?.username ?? session.userId;
    await audit({
      actor: username,
      action,
      resource: serverArn(arn, 'user', username),
      outcome,
      sourceAddress,
      detail: { signInSession: session.id, ...detail },
    });
  };

  async function issueAccessToken(session: SignInSession): Promise<{ token: string; expiresAt: number }> {
    const token = randomToken('ses_');
    const createdAt = now();
    const expiresAt =
      session.client === 'web'
        ? session.expiresAt
        : Math.min(createdAt + accessTokenTtlMs, session.expiresAt);
    await store.createApiToken({
      tokenHash: hashToken(token),
      userId: session.userId,
      createdAt,
      expiresAt,
      sessionId: session.id,
    });
    return { token, expiresAt };
  }

  /** A new access token (and the refresh token that now stands) for a sign-in whose account still may sign in. */
  async function issue(session: SignInSession, refreshToken: string): Promise<IssuedTokens> {
    const user = await store.getUserById(session.userId);
    if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
    return { session, ...(await issueAccessToken(session)), refreshToken };
  }

  return {
    async start(input: StartSignIn): Promise<IssuedTokens> {
      const createdAt = now();
      const limit = Math.min(maxSessionMsFor(input.user.id), input.maxDurationMs ?? Number.POSITIVE_INFINITY);
      const refreshToken = input.client === 'cli' ? randomToken('rft_') : undefined;
      const session: SignInSession = {
        id: `sis-${randomUUID()}`,
        userId: input.user.id,
        method: input.method,
        providerId: input.providerId,
        mfaAt: input.mfaAt,
        mfaMethod: input.mfaMethod,
        sourceAddress: input.sourceAddress,
        client: input.client,
        createdAt,
        expiresAt: Math.min(createdAt + limit, input.endsBy ?? Number.POSITIVE_INFINITY),
        revokedAt: null,
      };
      await store.createSignInSession({
        ...session,
        refreshHash: refreshToken ? hashToken(refreshToken) : null,
        parentId: input.parentId ?? null,
        deviceHash: input.deviceHash ?? null,
      });
      return { session, ...(await issueAccessToken(session)), refreshToken };
    },

    /** Resolves a bearer or cookie token to the principal, or throws UNAUTHENTICATED. */
    async authenticate(
      token: string | undefined,
      sourceAddress: string | null,
    ): Promise<{ principal: Principal; session: SignInSession }> {
      if (!token) throw new SesameError('UNAUTHENTICATED', 'sign in first: run `sesame login`');
      const found = await store.findTokenSession(hashToken(token));
      const t = now();
      const session = found?.session;
      if (
        !found ||
        !session ||
        found.token.expiresAt <= t ||
        session.expiresAt <= t ||
        session.revokedAt !== null
      )
        throw new SesameError('UNAUTHENTICATED', EXPIRED);
      const user = await store.getUserById(session.userId);
      if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
      return {
        principal: {
          userId: user.id,
          username: user.username,
          sourceAddress,
          mfaAt: session.mfaAt,
          signInSessionId: session.id,
        },
        session,
      };
    },

    /**
     * Spends `refreshToken` for a new access token and a new refresh token: `proposed` (`nextRefreshToken`) when
     * the client chose it, as the CLI does, writing it down before it asks. A client whose answer was lost then
     * asks again with the same pair, and gets a new access token for the same sign-in instead of being taken for
     * a thief: the spent token is the last one spent, and what it was rotated to is what this request proposes.
     */
    async refresh(
      refreshToken: unknown,
      proposed?: unknown,
      sourceAddress: string | null = null,
    ): Promise<IssuedTokens> {
      if (typeof refreshToken !== 'string' || !/^rft_[A-Za-z0-9_-]{20,100}$/.test(refreshToken))
        throw new SesameError('INVALID', 'refreshToken must be the refresh token from `sesame login`');
      if (
        proposed !== undefined &&
        (typeof proposed !== 'string' || !PROPOSED_REFRESH.test(proposed) || proposed === refreshToken)
      )
        throw new SesameError(
          'INVALID',
          'nextRefreshToken must be a new refresh token: "rft_" and 43 to 100 random base64url characters',
        );
      const oldHash = hashToken(refreshToken);
      const proposedHash = typeof proposed === 'string' ? hashToken(proposed) : undefined;
      // Each sign-in ended here is on the record once (a replay on one already ended adds nothing).
      const end = async (session: SignInSession, why: string) => {
        const live = session.revokedAt === null && session.expiresAt > now();
        await store.revokeSignInSession(session.id, now());
        await store.forgetSignInDevice(session.id);
        if (live)
          await record(session, 'sesame:RefreshSignIn', 'failed', sourceAddress, {
            reason: `${why}: the sign-in was revoked (a copy of its refresh token may be in other hands)`,
          });
      };
      const revoke = async (session: SignInSession, message: string): Promise<never> => {
        await end(session, message.split(',')[0] as string);
        throw new SesameError('UNAUTHENTICATED', message);
      };
      let found = await store.findRefresh(oldHash);
      if (!found) throw new SesameError('UNAUTHENTICATED', EXPIRED);
      if (!found.reused) {
        if (found.session.expiresAt <= now() || found.session.revokedAt !== null)
          throw new SesameError('UNAUTHENTICATED', EXPIRED);
        const next = typeof proposed === 'string' ? proposed : randomToken('rft_');
        const taken = proposedHash && (await store.findRefresh(proposedHash));
        if (!taken && (await store.rotateRefresh(found.session.id, oldHash, hashToken(next))))
          return issue(found.session, next);
        // Spent meanwhile by another request: with the same pair that is a repeat (below), anything else a
        // second use. A proposal already issued otherwise is no random choice: someone is probing with a token
        // they hold, so that sign-in and this one end.
        found = await store.findRefresh(oldHash);
        if (!found) throw new SesameError('UNAUTHENTICATED', EXPIRED);
        if (taken && !found.reused) {
          if (taken.session.id !== found.session.id)
            await end(taken.session, 'its refresh token was proposed as the next one of another sign-in');
          return revoke(
            found.session,
            'nextRefreshToken is a refresh token already issued, so this sign-in was revoked to be safe: run `sesame login` again',
          );
        }
        if (!found.reused) throw new SesameError('UNAUTHENTICATED', EXPIRED);
      }
      const repeated =
        proposedHash !== undefined &&
        found.rotatedTo !== undefined &&
        constantTimeEqual(found.rotatedTo, proposedHash);
      // Someone else holds a copy of this sign-in's refresh token: end it for both.
      if (!repeated)
        return revoke(
          found.session,
          'this refresh token was already used, so the sign-in was revoked to be safe: run `sesame login` again',
        );
      if (found.session.expiresAt <= now() || found.session.revokedAt !== null)
        throw new SesameError('UNAUTHENTICATED', EXPIRED);
      return issue(found.session, proposed as string);
    },

    /**
     * Whether the sign-in behind `principal` still holds: not signed out, revoked or expired, and the account not
     * disabled. A WebSocket connection outlives the access token it was opened with, so what it does later
     * (opening a shell) asks again.
     */
    async stillSignedIn(principal: Principal): Promise<boolean> {
      if (!principal.signInSessionId) return false;
      const session = await store.getSignInSession(principal.signInSessionId);
      if (!session || session.revokedAt !== null || session.expiresAt <= now()) return false;
      const user = await store.getUserById(session.userId);
      return user !== undefined && !user.disabled;
    },

    /** Ends a sign-in at its owner's request (logout), on the record. */
    async signOut(session: SignInSession, sourceAddress: string | null): Promise<void> {
      await store.revokeSignInSession(session.id, now());
      await record(session, 'sesame:SignOut', 'succeeded', sourceAddress, { client: session.client });
    },
  };
}

export type SignInSessions = ReturnType<typeof createSignInSessions>;
