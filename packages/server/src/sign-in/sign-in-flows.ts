import { hashToken, randomToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { AuthFlow, SignInClient, Store } from '../store/index.ts';

/** What a half-done sign-in carries from one step to the next (kept server-side, found by the flow token). */
/** A setup link's step waiting for its second factor: the new password's hash, the link's, and when it came. */
export type PendingSetup = { passwordHash: string; tokenHash: string; presentedAt: number };

export type SignInFlowData = {
  client: SignInClient;
  /** Hash of the browser's or CLI's device id, for "prompt only when the context changes". */
  deviceHash: string | null;
  sourceAddress: string | null;
  method: 'password' | 'sso';
  providerId: string | null;
  maxDurationMs?: number | undefined;
  redirect?: string | undefined;
  /** The address the identity provider sent, stored once the sign-in is complete (MFA included). */
  idpEmail?: string | null | undefined;
  methods: string[];
  /** A setup link's new password, set (and the link used up) only once the second factor passed. */
  setup?: PendingSetup | undefined;
  /** The password the sign-in was checked against (a fingerprint of its hash). */
  passwordSeen?: string | undefined;
  emailCodeHash?: string;
  emailExpiresAt?: number;
  emailSends?: number;
  challenge?: string;
  totpSecret?: string;
};

const FLOW_TTL_MS = 10 * 60_000;
export const MAX_FLOW_ATTEMPTS = 5;

/**
 * A wrong code on a flow that has used `attempts`: says how many are left (also as `details.attemptsLeft`, so a
 * client asks again only while that is worth it), or what to do once none are.
 */
export function wrongAnswer(attempts: number, message: string, startAgain: string): SesameError {
  const left = Math.max(0, MAX_FLOW_ATTEMPTS - attempts);
  return new SesameError(
    'UNAUTHENTICATED',
    left > 0 ? `${message} (${left} attempt${left === 1 ? '' : 's'} left)` : `${message}; ${startAgain}`,
    { details: { attemptsLeft: left } },
  );
}
const FLOW_TOKEN = /^flw_[A-Za-z0-9_-]{20,100}$/;

type Deps = {
  store: Pick<
    Store,
    'createFlow' | 'getFlow' | 'updateFlow' | 'replaceFlowData' | 'takeFlow' | 'reserveFlowAttempt'
  >;
  now: () => number;
};

/** One-use tokens for the steps of a sign-in; only their hashes are stored. */
export function createFlows({ store, now }: Deps) {
  return {
    /** `token` may be given when another protocol fixes it (OIDC state, a device code). `record` is what was stored. */
    async create(
      kind: string,
      userId: string | null,
      data: object,
      ttlMs = FLOW_TTL_MS,
      token = randomToken('flw_'),
    ) {
      const createdAt = now();
      const expiresAt = createdAt + ttlMs;
      const record: AuthFlow = {
        idHash: hashToken(token),
        kind,
        userId,
        data: data as Record<string, unknown>,
        attempts: 0,
        createdAt,
        expiresAt,
      };
      await store.createFlow(record);
      return { token, expiresAt, record };
    },

    /** The live flow of one of `kinds` for this token, or UNAUTHENTICATED saying to start again. */
    async load(token: unknown, kinds: string[], field = 'flow', pattern = FLOW_TOKEN): Promise<AuthFlow> {
      if (typeof token !== 'string' || !pattern.test(token))
        throw new SesameError('INVALID', `${field} must be the flw_… token from the previous step`);
      const flow = await store.getFlow(hashToken(token));
      if (
        !flow ||
        !kinds.includes(flow.kind) ||
        flow.expiresAt <= now() ||
        flow.attempts >= MAX_FLOW_ATTEMPTS
      )
        throw new SesameError(
          'UNAUTHENTICATED',
          'this sign-in step has expired or was already used: start signing in again',
        );
      return flow;
    },

    async update(token: string, patch: { data?: object; attempts?: number }) {
      await store.updateFlow(
        hashToken(token),
        patch as { data?: Record<string, unknown>; attempts?: number },
      );
    },

    /** Replaces the data of the flow as it was read (`flow`); false when another request changed it first. */
    async replace(token: string, flow: AuthFlow, data: object): Promise<boolean> {
      return store.replaceFlowData(hashToken(token), flow.data, data as Record<string, unknown>);
    },

    async updateByHash(idHash: string, data: object) {
      await store.updateFlow(idHash, { data: data as Record<string, unknown> });
    },

    async getByHash(idHash: string): Promise<AuthFlow | undefined> {
      const flow = await store.getFlow(idHash);
      return flow && flow.expiresAt > now() ? flow : undefined;
    },

    /** Counts an attempt before the code is checked, so parallel guesses cannot outrun the limit. */
    async reserve(token: string): Promise<number> {
      const attempts = await store.reserveFlowAttempt(hashToken(token), MAX_FLOW_ATTEMPTS, now());
      if (attempts === undefined)
        throw new SesameError(
          'UNAUTHENTICATED',
          'too many wrong codes for this sign-in: start signing in again',
        );
      return attempts;
    },

    /** Consumes the flow; of two concurrent finishers only one gets it. */
    async take(token: string): Promise<AuthFlow> {
      const flow = await store.takeFlow(hashToken(token));
      if (!flow || flow.expiresAt <= now())
        throw new SesameError(
          'UNAUTHENTICATED',
          'this sign-in step was already used: start signing in again',
        );
      return flow;
    },
  };
}

export type Flows = ReturnType<typeof createFlows>;
