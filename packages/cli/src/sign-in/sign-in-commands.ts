import { isLoopback, pinServerCertificate } from '@sesame/agent/tls';
import { type Command, Option } from 'commander';
import { ApiClient } from '../api.ts';
import { client, type Out, outputOption } from '../command-kit.ts';
import {
  clearCredentials,
  deviceId,
  forgetProposals,
  lastServer,
  readCredentials,
  withCredentialsLock,
} from '../credentials.ts';
import { CliError, ExitCodes } from '../errors.ts';
import { printObject } from '../output.ts';
import { readLine, readSecret } from '../prompt.ts';
import { browserOpener, openBrowser } from './browser.ts';
import { deviceSignIn } from './device-flow.ts';
import { startLoopback } from './loopback.ts';
import { newPkce, newState } from './pkce.ts';
import { completeSignIn, type SignInResult, saveSignIn } from './sign-in-steps.ts';
import { showWhoami, type Whoami } from './whoami.ts';

const say = (text: string) => process.stderr.write(`${text}\n`);

/** An unauthenticated client for the server: --url, else $SESAME_URL, else the server signed in to last. */
async function connect(
  urlOption: string | undefined,
  fingerprint: string | undefined,
  insecureHttp = false,
): Promise<ApiClient> {
  const stored = await lastServer();
  const url = urlOption ?? process.env.SESAME_URL ?? stored?.url;
  if (!url)
    throw new CliError(
      'which Sesame server? give --url https://sesame.example.com (or set SESAME_URL)',
      ExitCodes.INVALID,
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new CliError(`--url ${url} is not an http(s) URL`, ExitCodes.INVALID);
  }
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname) && !insecureHttp)
    throw new CliError(
      `${parsed.origin} is plain http to another machine: your password and tokens would cross the network readable by anyone on the way. Use https (a self-signed certificate is pinned with --fingerprint), or pass --insecure-http to accept that risk`,
      ExitCodes.INVALID,
    );
  const samePlace = stored && new URL(stored.url).origin === parsed.origin;
  const pin = fingerprint ?? (samePlace ? stored.tls?.fingerprint256 : undefined);
  const tls =
    parsed.protocol === 'https:'
      ? await pinServerCertificate(parsed, pin).catch((e: Error) => {
          throw new CliError(e.message, ExitCodes.UNAVAILABLE);
        })
      : null;
  return new ApiClient(url, undefined, tls);
}

/** Browser sign-in through a loopback redirect; undefined when there is no browser to open here. */
async function browserSignIn(
  api: ApiClient,
  provider: string | undefined,
): Promise<SignInResult | undefined> {
  const open = browserOpener();
  if (!open) return undefined;
  const pkce = newPkce();
  const state = newState();
  const loopback = await startLoopback({ state });
  const url = new URL(`${api.url}/cli-login`);
  url.searchParams.set('port', String(loopback.port));
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', pkce.challenge);
  if (provider) url.searchParams.set('provider', provider);
  const opener = open(url.href);
  say(`Opening your browser to sign in. If it does not open, visit:\n  ${url.href}`);
  if (!(await openBrowser(opener))) say(`(could not start ${opener.command}: open the link yourself)`);
  say('Waiting for the browser (up to 5 minutes; Ctrl-C to give up)…');
  const code = await loopback.code;
  return api.call<SignInResult>('POST', '/api/v1/auth/cli/token', { code, codeVerifier: pkce.verifier });
}

type LoginOptions = {
  url?: string;
  user?: string;
  fingerprint?: string;
  insecureHttp?: boolean;
  passwordStdin?: boolean;
  mfaCode?: string;
  emailCode?: boolean;
  browser: boolean;
  sso?: string;
};

export function signInCommands(program: Command): void {
  program
    .command('login')
    .description(
      'sign in: in the browser (SSO, security keys), with a code on another device (--no-browser), or with a local account (--user); the tokens are kept in ~/.config/sesame (0600)',
    )
    .option('--url <url>', 'the Sesame server URL (default: $SESAME_URL, else the server you used last)')
    .option('--user <name>', 'sign in with this local account and its password, here in the terminal')
    .option('--password-stdin', 'with --user: read the password from the first line of standard input')
    .option('--mfa-code <code>', 'with --user: the code from your authenticator app, instead of a prompt')
    .option('--email-code', 'with --user: get the MFA code by email instead of the authenticator app')
    .option('--no-browser', 'do not open a browser here: show a link and a code to approve on any device')
    .option('--sso <provider>', 'sign in with this identity provider (its id) in the browser')
    .option('--fingerprint <sha256>', 'pin a self-signed server certificate')
    .option(
      '--insecure-http',
      'allow plain http to a server on another machine (credentials readable on the way)',
    )
    .action(async (o: LoginOptions) => {
      if (o.user && o.sso)
        throw new CliError('--sso signs in through the browser: leave out --user', ExitCodes.INVALID);
      if (!o.user && (o.passwordStdin || o.mfaCode || o.emailCode))
        throw new CliError(
          '--password-stdin, --mfa-code and --email-code go with --user <name>',
          ExitCodes.INVALID,
        );
      const api = await connect(o.url, o.fingerprint, o.insecureHttp);
      const device = await deviceId();
      let first: SignInResult | undefined;
      if (o.user) {
        const password = o.passwordStdin ? await readLine() : await readSecret(`Password for ${o.user}: `);
        first = await api.call<SignInResult>('POST', '/api/v1/auth/login', {
          username: o.user,
          password,
          client: 'cli',
          device,
        });
      } else {
        if (o.browser) first = await browserSignIn(api, o.sso);
        if (!first) {
          if (o.browser) say('No browser to open here: sign in with a code instead.');
          if (o.sso) say(`(choose ${o.sso} on the page the link opens)`);
          first = await deviceSignIn(api);
        }
      }
      const done = await completeSignIn(api, first, {
        mfaCode: o.mfaCode,
        emailCode: o.emailCode,
        device,
        browserHint: `run \`sesame login --url ${api.url}\` without --user`,
      });
      await saveSignIn(api, done);
    });

  program
    .command('setup')
    .description(
      'set your password with the one-time setup link an administrator gave you (pasted when asked, or in $SESAME_SETUP_TOKEN), and sign in',
    )
    .option('--url <url>', 'the Sesame server URL (default: the pasted link, or $SESAME_URL)')
    .addOption(new Option('--token <token>').hideHelp())
    .option('--password-stdin', 'read the new password from the first line of standard input')
    .option('--mfa-code <code>', 'the code from your authenticator app, if you already have one registered')
    .option('--fingerprint <sha256>', 'pin a self-signed server certificate')
    .option(
      '--insecure-http',
      'allow plain http to a server on another machine (credentials readable on the way)',
    )
    .action(
      async (o: {
        url?: string;
        token?: string;
        fingerprint?: string;
        insecureHttp?: boolean;
        passwordStdin?: boolean;
        mfaCode?: string;
      }) => {
        if (o.token !== undefined)
          throw new CliError(
            '--token would put the setup token where other users of this computer can read it (ps, /proc): run `sesame setup` and paste the setup link when asked, or set SESAME_SETUP_TOKEN',
            ExitCodes.INVALID,
          );
        const { token, url } = parseSetupAnswer(
          process.env.SESAME_SETUP_TOKEN || (await readSecret('Setup link (or token): ')),
        );
        const api = await connect(
          o.url ?? url ?? process.env.SESAME_URL ?? missingUrl(),
          o.fingerprint,
          o.insecureHttp,
        );
        const password = o.passwordStdin ? await readLine() : await askNewPassword();
        if (!o.passwordStdin && process.stdin.isTTY && (await readSecret('Repeat it: ')) !== password)
          throw new CliError('the passwords differ', ExitCodes.INVALID);
        const device = await deviceId();
        const first = await api.call<SignInResult>('POST', '/api/v1/auth/setup', {
          token,
          password,
          client: 'cli',
          device,
        });
        const done = await completeSignIn(api, first, {
          mfaCode: o.mfaCode,
          device,
          browserHint:
            first.status === 'mfa-required'
              ? 'confirm it in the browser: open the setup link there (your new password is set once the second factor is done)'
              : `run \`sesame login --url ${api.url}\` (your password is set)`,
        });
        await saveSignIn(api, done);
      },
    );

  program
    .command('logout')
    .description('end this sign-in on the server and forget the stored tokens')
    .action(async () => {
      // Under the lock: another sesame refreshing meanwhile would write the tokens back after they were forgotten.
      const { stored, failure } = await withCredentialsLock(async () => {
        const stored = await readCredentials().catch(() => undefined);
        let failure: CliError | undefined;
        if (stored) {
          try {
            await ApiClient.signedIn(stored, Date.now, true).call('POST', '/api/v1/auth/logout');
          } catch (error) {
            // Already ended on the server (expired, revoked) is what logout wants; anything else is not.
            const exitCode = (error as CliError).exitCode ?? ExitCodes.FAILURE;
            if (exitCode !== ExitCodes.UNAUTHENTICATED)
              failure = new CliError((error as Error).message, exitCode);
          }
          await clearCredentials();
        }
        // A proposal left by a lost answer would still get the server to issue tokens for this sign-in.
        await forgetProposals();
        return { stored, failure };
      });
      if (!stored) {
        say('not signed in');
        return;
      }
      // The tokens are forgotten here either way; a script must still learn that the sign-in lives on.
      if (failure)
        throw new CliError(
          `forgot the stored sign-in, but could not end it on the server (${failure.message}): it stays valid until it expires; end it under "Sign-ins" at ${stored.url}/account`,
          failure.exitCode,
        );
      say(`signed out of ${stored.url}`);
    });

  program
    .command('whoami')
    .description('who you are signed in as: groups, tags, permission sets, MFA, and when the sign-in ends')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const api = await client();
      const { user } = await api.call<{ user: Whoami }>('GET', '/api/v1/me');
      if (o.output === 'json') printObject(user, 'json');
      else showWhoami(user, api.url);
    });
}

function missingUrl(): never {
  throw new CliError('which Sesame server? give --url (the setup link starts with it)', ExitCodes.INVALID);
}

/**
 * A pasted setup link (`https://sesame.example.com/setup#token=…`: the token and the server's URL) or a bare
 * token (the URL then comes from --url or $SESAME_URL).
 */
export function parseSetupAnswer(answer: string): { token: string; url?: string } {
  const text = answer.trim();
  if (!/^https?:\/\//i.test(text)) {
    if (text === '') throw new CliError('no setup link or token was given', ExitCodes.INVALID);
    return { token: text };
  }
  let link: URL;
  try {
    link = new URL(text);
  } catch {
    throw new CliError(
      'the setup link is not a valid URL: paste it whole, as you received it',
      ExitCodes.INVALID,
    );
  }
  const token = new URLSearchParams(link.hash.slice(1)).get('token');
  if (!token)
    throw new CliError(
      'the setup link has no token (it ends with #token=…): paste it whole, as you received it',
      ExitCodes.INVALID,
    );
  return { token, url: link.origin };
}

const MIN_PASSWORD = 12; // the server's rule (and its other ones) decide; this only saves a person retyping

/** At a terminal, a password too short for the server is asked again at once, before it is repeated. */
async function askNewPassword(): Promise<string> {
  for (let tries = 1; ; tries++) {
    const password = await readSecret(`New password (at least ${MIN_PASSWORD} characters): `);
    if (password.length >= MIN_PASSWORD || !process.stdin.isTTY) return password;
    if (tries === 3)
      throw new CliError(
        `the password is too short (at least ${MIN_PASSWORD} characters): run \`sesame setup\` again, the setup link still works`,
        ExitCodes.INVALID,
      );
    process.stderr.write(
      `that is ${password.length} characters, at least ${MIN_PASSWORD} are needed — try again.\n`,
    );
  }
}
