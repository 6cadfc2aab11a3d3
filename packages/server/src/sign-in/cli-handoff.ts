import { createHash, randomInt } from 'node:crypto';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { constantTimeEqual, hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import { toPublicUser } from '../services/identity.ts';
import type { SignInSession, Store } from '../store/index.ts';
import type { Flows } from './sign-in-flows.ts';
import type { SignInResult } from './sign-in-service.ts';
import type { SignInSessions } from './sign-in-sessions.ts';

type Deps = {
  store: Pick<Store, 'getUserById' | 'getSignInSession'>;
  flows: Flows;
  sessions: SignInSessions;
  audit: Audit;
  publicUrl: () => string;
  arn: ArnSettings;
  now?: () => number;
};

const CODE_TTL_MS = 2 * 60_000;
const DEVICE_TTL_MS = 10 * 60_000;
const POLL_INTERVAL_S = 3;
// No vowels (no words), no look-alikes: what people type from one screen into another.
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/;

const normalizeUserCode = (code: unknown) =>
  typeof code === 'string' ? code.toUpperCase().replace(/[\s-]/g, '') : '';

/**
 * Hands a browser sign-in over to the CLI, so the CLI gets SSO, security keys and every MFA method the web has:
 * the loopback redirect (RFC 8252, with PKCE) when the browser runs on the same machine, the device
 * authorization grant (RFC 8628) when it does not. The CLI's sign-in inherits the web sign-in's MFA and
 * ends no later than it.
 */
const noDeviceSignIn = () =>
  new SesameError(
    'NOT_FOUND',
    'no sign-in is waiting for this code (mistyped, or expired): check the code your terminal shows',
  );

/** The mfaMethod of a sign-in the browser handed to the CLI starts so ("browser:totp"). */
export const HANDED_OFF = 'browser:';

export function createCliHandoff({ store, flows, sessions, audit, publicUrl, arn, now = Date.now }: Deps) {
  /**
   * Only a browser's sign-in hands one to the CLI: an API token (a CLI's, valid for minutes) must not mint a
   * sign-in of its own, with its own refresh token, that its owner's refresh chain never sees.
   */
  const browserOnly = (session: SignInSession) => {
    if (session.client !== 'web')
      throw new SesameError(
        'FORBIDDEN',
        'only a sign-in in the browser can sign in the CLI: open this page in the browser you are signed in with',
      );
  };
  const delegated = (principal: Principal, session: SignInSession) => ({
    userId: principal.userId,
    method: session.method,
    providerId: session.providerId,
    mfaAt: session.mfaAt,
    // Proved in the browser, not here: such a sign-in may not change MFA devices (see freshMfa).
    mfaMethod: session.mfaMethod === null ? null : `${HANDED_OFF}${session.mfaMethod}`,
    parentId: session.id,
  });

  async function issue(data: Record<string, unknown>, sourceAddress: string | null): Promise<SignInResult> {
    const user = await store.getUserById(String(data.userId));
    if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
    // The browser sign-in that approved this must still hold: signing out there, or a revocation, in the
    // minutes between approving and the CLI collecting its sign-in, ends this one too.
    const parent = await store.getSignInSession(String(data.parentId));
    if (!parent || parent.revokedAt !== null || parent.expiresAt <= now())
      throw new SesameError(
        'UNAUTHENTICATED',
        'the browser sign-in that approved this has ended (signed out or revoked): run `sesame login` again',
      );
    const tokens = await sessions.start({
      user,
      method: data.method === 'sso' ? 'sso' : 'password',
      providerId: (data.providerId as string | null) ?? null,
      mfaAt: (data.mfaAt as number | null) ?? null,
      mfaMethod: (data.mfaMethod as string | null) ?? null,
      sourceAddress,
      client: 'cli',
      endsBy: parent.expiresAt,
      parentId: parent.id,
    });
    await audit({
      actor: user.username,
      action: 'sesame:SignIn',
      resource: serverArn(arn, 'user', user.username),
      outcome: 'succeeded',
      sourceAddress,
      detail: { method: 'cli-handoff', client: 'cli', signInSession: tokens.session.id },
    });
    return { status: 'signed-in', user: toPublicUser(user), tokens };
  }

  return {
    /** The web page's "allow": a one-use code for the CLI listening on this machine's loopback port. */
    async authorizeLoopback(principal: Principal, session: SignInSession, input: Record<string, unknown>) {
      browserOnly(session);
      const port = Number(input.port);
      const state = typeof input.state === 'string' ? input.state : '';
      const challenge = typeof input.codeChallenge === 'string' ? input.codeChallenge : '';
      if (!Number.isInteger(port) || port < 1024 || port > 65535)
        throw new SesameError('INVALID', 'port must be 1024-65535');
      if (!/^[A-Za-z0-9_-]{16,128}$/.test(state))
        throw new SesameError('INVALID', 'state must be 16-128 URL-safe characters');
      if (!/^[A-Za-z0-9_-]{43}$/.test(challenge))
        throw new SesameError('INVALID', 'codeChallenge must be a S256 PKCE challenge');
      const code = await flows.create(
        'cli-code',
        principal.userId,
        { ...delegated(principal, session), challenge },
        CODE_TTL_MS,
      );
      const redirect = new URL(`http://127.0.0.1:${port}/callback`);
      redirect.searchParams.set('code', code.token);
      redirect.searchParams.set('state', state);
      return { redirect: redirect.toString() };
    },

    async exchangeLoopback(
      input: Record<string, unknown>,
      sourceAddress: string | null,
    ): Promise<SignInResult> {
      const verifier = typeof input.codeVerifier === 'string' ? input.codeVerifier : '';
      await flows.load(input.code, ['cli-code'], 'code');
      const flow = await flows.take(input.code as string);
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (
        !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
        !constantTimeEqual(computed, String(flow.data.challenge))
      )
        throw new SesameError(
          'UNAUTHENTICATED',
          'codeVerifier does not match this sign-in: start `sesame login` again',
        );
      return issue(flow.data, sourceAddress);
    },

    /** `sourceAddress` (where the CLI asks from) is shown to whoever is asked to approve. */
    async startDevice(sourceAddress: string | null) {
      const device = await flows.create('device', null, { approved: null }, DEVICE_TTL_MS);
      let userCode = '';
      for (let i = 0; i < 8; i++) userCode += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
      await flows.create(
        'device-user',
        null,
        { deviceHash: hashToken(device.token), requestedFrom: sourceAddress, requestedAt: now() },
        DEVICE_TTL_MS,
        `udc_${userCode}`,
      );
      const shown = `${userCode.slice(0, 4)}-${userCode.slice(4)}`;
      return {
        deviceCode: device.token,
        userCode: shown,
        verificationUri: `${publicUrl()}/device`,
        verificationUriComplete: `${publicUrl()}/device?code=${shown}`,
        interval: POLL_INTERVAL_S,
        expiresIn: Math.round(DEVICE_TTL_MS / 1000),
      };
    },

    /**
     * Where and when the sign-in waiting for this code was started, for the approval page to show before anyone
     * approves it: a device code sent by someone else (phishing) asks from an address and a time the person
     * does not recognise. Only for someone signed in.
     */
    async checkDevice(_principal: Principal, input: Record<string, unknown>) {
      const code = normalizeUserCode(input.userCode);
      if (!USER_CODE.test(code)) throw noDeviceSignIn();
      const flow = await flows.getByHash(hashToken(`udc_${code}`));
      if (flow?.kind !== 'device-user') throw noDeviceSignIn();
      const from = flow.data.requestedFrom;
      return {
        requestedFrom: typeof from === 'string' ? from : null,
        requestedAt: Number(flow.data.requestedAt),
      };
    },

    /** Someone signed in on the web confirms the code their terminal shows. */
    async approveDevice(principal: Principal, session: SignInSession, input: Record<string, unknown>) {
      browserOnly(session); // before the code is taken: a refused approval must not use it up
      const code = normalizeUserCode(input.userCode);
      const notFound = noDeviceSignIn();
      if (!USER_CODE.test(code)) throw notFound;
      const flow = await flows.take(`udc_${code}`).catch(() => undefined);
      const device = flow && (await flows.getByHash(String(flow.data.deviceHash)));
      if (flow?.kind !== 'device-user' || !device) throw notFound;
      await flows.updateByHash(String(flow.data.deviceHash), { approved: delegated(principal, session) });
      await audit({
        actor: principal,
        action: 'sesame:ApproveDeviceSignIn',
        resource: serverArn(arn, 'user', principal.username),
        outcome: 'succeeded',
      });
      return { approved: true };
    },

    async pollDevice(
      input: Record<string, unknown>,
      sourceAddress: string | null,
    ): Promise<SignInResult | { status: 'pending' }> {
      const flow = await flows.load(input.deviceCode, ['device'], 'deviceCode');
      if (!flow.data.approved) return { status: 'pending' };
      const taken = await flows.take(input.deviceCode as string);
      return issue(taken.data.approved as Record<string, unknown>, sourceAddress);
    },
  };
}

export type CliHandoff = ReturnType<typeof createCliHandoff>;
