import QRCode from 'qrcode';
import type { ApiClient } from '../api.ts';
import { forgetProposals, saveCredentials, withCredentialsLock } from '../credentials.ts';
import { CliError, ExitCodes } from '../errors.ts';
import { isoTime } from '../output.ts';
import { readCode } from '../prompt.ts';

export type SignedIn = {
  status: 'signed-in';
  user: { username: string };
  token: string;
  expiresAt: number;
  refreshToken?: string;
  sessionExpiresAt?: number;
};
export type MfaRequired = {
  status: 'mfa-required';
  flow: string;
  methods: string[];
  expiresAt: number;
  emailSentTo?: string;
};
export type EnrolRequired = { status: 'enrol-required'; flow: string; methods: string[]; expiresAt: number };
/** What every sign-in step answers (API.md, "The sign-in result"). */
export type SignInResult = SignedIn | MfaRequired | EnrolRequired;

export type SecondFactorOptions = {
  /** A code given up front (`--mfa-code`), used for the first MFA prompt. */
  mfaCode?: string | undefined;
  /** Ask for a code by email rather than the authenticator app (`--email-code`). */
  emailCode?: boolean | undefined;
  /** How to suggest the browser sign-in when a security key is needed. */
  browserHint: string;
  /** This home's device id, sent with every step (for "ask only when the context changes"). */
  device?: string | undefined;
};

export const AUTHENTICATOR = 'Code from your authenticator app:';
const ATTEMPTS_ON_A_TERMINAL = 3;

const say = (text: string) => process.stderr.write(`${text}\n`);

/** Follows MFA and enrolment steps until signed in; a step the terminal cannot do says what to do instead. */
export async function completeSignIn(
  api: ApiClient,
  first: SignInResult,
  options: SecondFactorOptions,
): Promise<SignedIn> {
  let result = first;
  let mfaCode = options.mfaCode;
  for (let step = 0; step < 4; step++) {
    if (result.status === 'signed-in') return result;
    if (result.status === 'mfa-required') {
      result = await answerMfa(api, result, { ...options, mfaCode });
      mfaCode = undefined;
    } else if (result.status === 'enrol-required') result = await enrolTotp(api, result, options);
    else throw new CliError(`unexpected answer from the server: ${JSON.stringify(result)}`);
  }
  throw new CliError('the server kept asking for more sign-in steps; run `sesame login` again');
}

/**
 * A wrong code that the server will still take another try for. Any other refusal (the sign-in ended, the
 * step expired, no attempts left) needs starting again, not another code.
 */
export function worthAnotherCode(error: unknown): error is CliError {
  if (!(error instanceof CliError)) return false;
  const left = (error.details as { attemptsLeft?: unknown } | undefined)?.attemptsLeft;
  return typeof left === 'number' && left > 0;
}

/** Asks for a code until the server takes it (three tries on a terminal, one otherwise). */
export async function retryCode<T>(
  question: string,
  given: string | undefined,
  send: (code: string) => Promise<T>,
): Promise<T> {
  const tries = given === undefined && process.stdin.isTTY ? ATTEMPTS_ON_A_TERMINAL : 1;
  for (let attempt = 1; ; attempt++) {
    const code = attempt === 1 && given !== undefined ? given.trim() : await readCode(question);
    if (!code)
      throw new CliError('no code given: nothing was done; run the command again', ExitCodes.INVALID);
    try {
      return await send(code);
    } catch (error) {
      if (!worthAnotherCode(error) || attempt >= tries) throw error;
      say(`${error.message} — try again.`);
    }
  }
}

async function answerMfa(api: ApiClient, r: MfaRequired, o: SecondFactorOptions): Promise<SignInResult> {
  const totp = r.methods.includes('totp');
  const email = r.methods.includes('email');
  if (!totp && !email)
    throw new CliError(
      `your account's second factor is a security key, which needs the browser: ${o.browserHint}`,
      ExitCodes.UNAUTHENTICATED,
    );
  if (o.emailCode && !email)
    throw new CliError(
      'a code by email is not offered for this account: use your authenticator app (leave out --email-code)',
      ExitCodes.INVALID,
    );
  if (o.emailCode || !totp) {
    const sentTo =
      r.emailSentTo ??
      (await api.call<{ emailSentTo: string }>('POST', '/api/v1/auth/mfa/email', { flow: r.flow }))
        .emailSentTo;
    say(`A sign-in code was sent to ${sentTo}.`);
    return retryCode('Code from the email:', o.mfaCode, (code) =>
      api.call<SignInResult>('POST', '/api/v1/auth/mfa', {
        flow: r.flow,
        method: 'email',
        code,
        client: 'cli',
        device: o.device,
      }),
    );
  }
  if (email && o.mfaCode === undefined)
    say('(No authenticator app at hand? Run again with --email-code to get a code by email.)');
  return retryCode(AUTHENTICATOR, o.mfaCode, (code) =>
    api.call<SignInResult>('POST', '/api/v1/auth/mfa', {
      flow: r.flow,
      method: 'totp',
      code,
      client: 'cli',
      device: o.device,
    }),
  );
}

async function enrolTotp(api: ApiClient, r: EnrolRequired, o: SecondFactorOptions): Promise<SignInResult> {
  if (!r.methods.includes('totp'))
    throw new CliError(
      `your account must register a security key before it can sign in, which needs the browser: ${o.browserHint}`,
      ExitCodes.UNAUTHENTICATED,
    );
  say('Your account needs a second factor before it can sign in: add Sesame to your authenticator app.');
  const { secret, uri } = await api.call<{ secret: string; uri: string }>('POST', '/api/v1/auth/enrol/totp', {
    flow: r.flow,
  });
  await showTotpEnrolment(secret, uri);
  return retryCode(AUTHENTICATOR, undefined, (code) =>
    api.call<SignInResult>('POST', '/api/v1/auth/enrol/totp/confirm', {
      flow: r.flow,
      code,
      client: 'cli',
      device: o.device,
    }),
  );
}

/** The QR code (when stderr or stdout is a terminal), the key to type in, and the otpauth URI. */
export async function showTotpEnrolment(secret: string, uri: string): Promise<void> {
  const screen = process.stderr.isTTY ? process.stderr : process.stdout.isTTY ? process.stdout : undefined;
  if (screen) {
    screen.write('Scan this QR code with the app:\n');
    screen.write(await QRCode.toString(uri, { type: 'terminal', small: true }));
  }
  say(`Or enter this key by hand: ${secret}`);
  say(`(otpauth URI: ${uri})`);
}

/** Stores the signed-in result as this home's credentials and says so. */
export async function saveSignIn(api: ApiClient, result: SignedIn): Promise<void> {
  // Under the lock, so that a sesame refreshing the previous sign-in meanwhile does not write it back over this one.
  const credentials = {
    url: api.url,
    username: result.user.username,
    token: result.token,
    expiresAt: result.expiresAt,
    refreshToken: result.refreshToken,
    sessionExpiresAt: result.sessionExpiresAt,
    tls: api.tls,
  };
  await withCredentialsLock(async () => {
    await saveCredentials(credentials);
    await forgetProposals(); // the previous sign-in's
  });
  say(
    `signed in to ${api.url} as ${result.user.username} until ${isoTime(result.sessionExpiresAt ?? result.expiresAt)}`,
  );
}
