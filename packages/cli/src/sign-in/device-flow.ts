import type { ApiClient } from '../api.ts';
import { CliError, ExitCodes } from '../errors.ts';
import type { SignInResult } from './sign-in-steps.ts';

type DeviceAuthorization = {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  interval: number;
  expiresIn: number;
};

const ENDED =
  'the sign-in code was denied or has expired: run `sesame login` again (and approve it in the browser within the time shown)';

/**
 * Device authorization (RFC 8628 style): shows a link and a code to approve in any browser, signed in there,
 * and polls until the server says signed in, or the code was denied or expired.
 */
export async function deviceSignIn(
  api: ApiClient,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<SignInResult> {
  const d = await api.call<DeviceAuthorization>('POST', '/api/v1/auth/device');
  process.stderr.write(
    `To sign in, open this link in a browser (on any device):\n  ${d.verificationUriComplete}\n` +
      `and check that it shows the code ${d.userCode} (or go to ${d.verificationUri} and enter it).\n` +
      `Waiting for approval (the code is valid for ${Math.round(d.expiresIn / 60)} minutes)…\n`,
  );
  const deadline = Date.now() + d.expiresIn * 1000;
  let intervalMs = Math.max(1, d.interval) * 1000;
  for (;;) {
    await sleep(intervalMs);
    if (Date.now() > deadline) throw new CliError(ENDED, ExitCodes.UNAUTHENTICATED);
    let answer: SignInResult | { status: 'pending' };
    try {
      answer = await api.call<SignInResult | { status: 'pending' }>('POST', '/api/v1/auth/device/token', {
        deviceCode: d.deviceCode,
      });
    } catch (error) {
      if (error instanceof CliError && error.code === 'RATE_LIMITED') {
        intervalMs += 5000;
        continue;
      }
      if (error instanceof CliError && error.code === 'UNAUTHENTICATED')
        throw new CliError(`${error.message} (${ENDED})`, ExitCodes.UNAUTHENTICATED, error.code);
      throw error;
    }
    if (answer.status !== 'pending') return answer;
  }
}
