// Test support for the browser tests (not a test itself): Debian's Chromium driven by playwright-core
// against an in-process Sesame server, reached as http://localhost:<port> (a secure context, so WebAuthn
// works, and a valid relying party id), plus TOTP codes and Chromium's virtual authenticator.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import {
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from '../../packages/server/src/test-server.ts';

export const CHROMIUM = process.env.SESAME_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const PASSWORD = 'a long enough test password';

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM} (Debian: apt-get install chromium; bash .ci/run installs it; or set SESAME_CHROMIUM)`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export type WebServer = TestServer & { base: string };

/** The server, with `base` = the address the browser uses. */
export async function startWebServer(options: TestServerOptions = {}): Promise<WebServer> {
  const server = await startTestServer(options);
  return Object.assign(server, { base: `http://localhost:${new URL(server.url).port}` });
}

/** Creates a user as the administrator and answers the one-time token of the invitation link. */
export async function invite(server: TestServer, username: string): Promise<string> {
  const created = await server.api('POST', '/api/v1/users', {
    token: server.adminToken,
    json: { username },
  });
  assert.equal(created.status, 200, created.text);
  return String(created.body.setupToken);
}

/**
 * The codes of one authenticator app. A code is accepted once per 30-second step (replays are refused),
 * so each call waits, when needed, for a step later than the last code it gave out.
 */
export function totpApp(secret: string) {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  let lastStep = -1;
  return async (): Promise<string> => {
    while (Math.floor(Date.now() / 30_000) <= lastStep) await new Promise((r) => setTimeout(r, 250));
    // Not in the last half second of a step, so the server sees the same step.
    if (Date.now() % 30_000 > 29_500) await new Promise((r) => setTimeout(r, 600));
    lastStep = Math.floor(Date.now() / 30_000);
    return totp.generate();
  };
}

/** A page in a fresh context that records CSP violations and script errors for `assertClean`. */
export async function openPage(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/** A CTAP2 authenticator inside the browser that needs no touch: the stand-in for a security key. */
export async function addSecurityKey(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
}

/** The live region's text once it says something matching `pattern` (role alert or status). */
export async function messageMatching(page: Page, pattern: RegExp): Promise<string> {
  const region = page.locator('#message');
  await region.filter({ hasText: pattern }).waitFor();
  return (await region.textContent()) ?? '';
}

/** /setup#token=… → a new password, up to the enrolment choice. */
export async function setPassword(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/setup#token=${token}`);
  await page.getByLabel('New password (at least 12 characters)').fill(PASSWORD);
  await page.getByLabel('Repeat it').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
}

/** The text of the error the live region shows (role alert), once there is one. */
export async function alertText(page: Page): Promise<string> {
  const region = page.locator('#message[role="alert"]').filter({ hasText: /\w/ });
  await region.waitFor();
  return (await region.textContent()) ?? '';
}

/** Types the user name and password on the page already open at /login (with or without `next`). */
export async function enterPassword(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs out from /account and waits for the sign-in page. */
export async function signOut(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/account`);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(`${base}/login`);
}

export async function signedInAs(page: Page, base: string, username: string, path = '/console/') {
  await page.waitForURL(`${base}${path}`);
  if (path.startsWith('/console/')) await page.getByText(`Signed in as ${username}`).waitFor();
}

/** Invitation → password → enrolment of a (new, virtual) security key in this page → the console. */
export async function enrolSecurityKey(page: Page, server: WebServer, username: string): Promise<void> {
  await addSecurityKey(page);
  await setPassword(page, server.base, await invite(server, username));
  await page.getByRole('button', { name: 'Security key or passkey' }).click();
  await page.getByLabel('Name for this key (optional)').fill('Virtual key');
  await page.getByRole('button', { name: 'Register security key' }).click();
  await signedInAs(page, server.base, username);
}

/** On the MFA step after the password: the security key. */
export async function signInWithKey(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  await page.getByRole('button', { name: 'Use security key or passkey' }).click();
}

/** A Sesame server and Chromium for the tests of one suite: started before them, stopped after them. */
export function useWebServerAndBrowser(): { readonly server: WebServer; readonly browser: Browser } {
  const bed = {} as { server: WebServer; browser: Browser };
  before(async () => {
    bed.server = await startWebServer();
    bed.browser = await launchBrowser();
  });
  after(async () => {
    await bed.browser?.close();
    await bed.server?.close();
  });
  return bed;
}
