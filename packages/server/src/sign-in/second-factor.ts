import { constantTimeEqual, hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AuthFlow, MfaDevice, Store, User } from '../store/index.ts';
import { newEmailCode } from './email-code.ts';
import type { Mailer } from './mailer.ts';
import { type Flows, wrongAnswer } from './sign-in-flows.ts';
import type { SignInContext } from './sign-in-service.ts';
import { verifyTotp } from './totp.ts';
import { type AuthenticationResponseJSON, createWebAuthn } from './webauthn.ts';

type Deps = {
  store: Pick<Store, 'listMfaDevices' | 'claimTotpStep' | 'setWebAuthnCounter'>;
  flows: Flows;
  mailer: Mailer | undefined;
  log: Pick<Logger, 'info' | 'error'>;
  issuer: string;
  now: () => number;
  /** A wrong second factor for `flow`'s sign-in, before it is refused: counted and audited by the caller. */
  failed: (user: User, ctx: SignInContext, message: string, flow: AuthFlow) => Promise<void>;
};

const EMAIL_CODE_TTL_MS = 10 * 60_000;
const MAX_EMAIL_SENDS = 3;

function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}•••@${domain}`;
}

/** Checking a second factor (an authenticator code, an emailed code, a security key) for a sign-in flow. */
export function createSecondFactor({ store, flows, mailer, log, issuer, now, failed }: Deps) {
  async function sendEmailCode(token: string, flow: AuthFlow, user: User): Promise<string> {
    if (!mailer || !user.email)
      throw new SesameError('UNAVAILABLE', 'a sign-in code cannot be emailed: ask an administrator for help');
    const sends = Number(flow.data.emailSends ?? 0);
    if (sends >= MAX_EMAIL_SENDS)
      throw new SesameError(
        'RATE_LIMITED',
        'too many codes were sent for this sign-in: start signing in again',
      );
    const code = newEmailCode();
    // Counted with a compare-and-set, so requests sent together cannot each read the same count and all mail.
    const counted = await flows.replace(token, flow, {
      ...flow.data,
      emailCodeHash: hashToken(code),
      emailExpiresAt: now() + EMAIL_CODE_TTL_MS,
      emailSends: sends + 1,
    });
    if (!counted)
      throw new SesameError(
        'RATE_LIMITED',
        'a code is being sent for this sign-in right now: wait for it, or ask for another in a moment',
      );
    await mailer.send({
      to: user.email,
      subject: 'Your Sesame sign-in code',
      text: `Your Sesame sign-in code is ${code}\n\nIt works once, for 10 minutes. If you did not try to sign in, tell your administrator.\n`,
    });
    log.info({ user: user.username }, 'sign-in code sent by email');
    return maskEmail(user.email);
  }

  /** A wrong second factor: counted on the flow and against the account, audited, and said plainly. */
  async function wrong(
    attempts: number,
    flow: AuthFlow,
    user: User,
    ctx: SignInContext,
    message: string,
  ): Promise<never> {
    await failed(user, ctx, message, flow);
    throw wrongAnswer(attempts, message, 'start signing in again');
  }

  async function check(
    attempts: number,
    flow: AuthFlow,
    user: User,
    ctx: SignInContext,
    input: Record<string, unknown>,
  ): Promise<string> {
    const method = String(input.method ?? '');
    if (method === 'email') {
      const code = String(input.code ?? '');
      const hash = flow.data.emailCodeHash;
      const expiresAt = Number(flow.data.emailExpiresAt ?? 0);
      if (typeof hash !== 'string') throw new SesameError('INVALID', 'ask for an email code first');
      if (expiresAt <= now())
        return wrong(attempts, flow, user, ctx, 'that code has expired: ask for a new one');
      if (!/^\d{6}$/.test(code) || !constantTimeEqual(hashToken(code), hash))
        return wrong(attempts, flow, user, ctx, 'that code is not right');
      return 'email';
    }
    // The devices only for a code from an app or a security key.
    const devices = await store.listMfaDevices(user.id);
    if (method === 'totp') {
      for (const device of devices.filter((d) => d.secretProblem))
        log.error(
          { userId: user.id, deviceId: device.id, problem: device.secretProblem },
          'an authenticator app of this account cannot be used: its stored secret does not open',
        );
      const code = String(input.code ?? '');
      let reason = 'that code is not right';
      for (const device of devices.filter(
        (d): d is MfaDevice & { secret: string } => d.kind === 'totp' && !!d.secret,
      )) {
        const result = verifyTotp({
          secret: device.secret,
          code,
          now: new Date(now()),
          lastUsedStep: device.lastUsedStep,
        });
        if (result.ok) {
          if (await store.claimTotpStep(device.id, result.step, now())) return 'totp';
          reason = 'that code was used already: wait for the next one';
        } else if (result.reason === 'reused') reason = 'that code was used already: wait for the next one';
      }
      return wrong(attempts, flow, user, ctx, reason);
    }
    const response = input.response as AuthenticationResponseJSON | undefined;
    const challenge = flow.data.challenge;
    if (typeof challenge !== 'string') throw new SesameError('INVALID', 'ask for security key options first');
    const device = devices.find((d) => d.kind === 'webauthn' && d.credentialId === response?.id);
    if (!device?.credentialId || !device.publicKey)
      return wrong(attempts, flow, user, ctx, 'this security key is not registered to your account');
    let newCounter: number;
    try {
      const webauthn = createWebAuthn({ ...ctx.rp, rpName: issuer });
      ({ newCounter } = await webauthn.verifyAuthentication({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: challenge,
        credential: {
          credentialId: device.credentialId,
          publicKey: device.publicKey,
          counter: device.counter,
          transports: device.transports,
        },
      }));
    } catch (error) {
      return wrong(attempts, flow, user, ctx, (error as Error).message);
    }
    // Outside the try: a database failure here is a server error, not a wrong key held against the user.
    await store.setWebAuthnCounter(device.id, newCounter, now());
    return 'webauthn';
  }

  return { sendEmailCode, check };
}
