// Handing a browser sign-in to the CLI, in Chromium: /cli-login (loopback redirect with PKCE, RFC 8252)
// through the sign-in guard, Allow and Deny; /device (device authorization grant, RFC 8628) approval.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import {
  alertText,
  enrolSecurityKey,
  enterPassword,
  messageMatching,
  openPage,
  signInWithKey,
  signOut,
  useWebServerAndBrowser,
} from './browser.ts';

/** The CLI's loopback listener: answers one /callback and hands over its query. */
async function loopback(): Promise<{ port: number; callback: Promise<URLSearchParams>; server: Server }> {
  let received: (query: URLSearchParams) => void = () => {};
  const callback = new Promise<URLSearchParams>((resolve) => {
    received = resolve;
  });
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    // No keep-alive, and the server does not hold the process open: a failed test must not hang the run.
    response.setHeader('connection', 'close');
    response.end('back to the terminal');
    if (url.pathname === '/callback') received(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return { port: (server.address() as AddressInfo).port, callback, server };
}

describe('signing in the CLI through the browser', () => {
  const bed = useWebServerAndBrowser();

  test('/cli-login: signed out → sign in → Allow hands a code to the loopback; Deny tells it no', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await enrolSecurityKey(page, bed.server, 'erin');
    await signOut(page, base);

    const cli = await loopback();
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(16).toString('base64url');
    const path = `/cli-login?port=${cli.port}&state=${state}&code_challenge=${challenge}`;
    await page.goto(`${base}${path}`);
    await page.waitForURL(`${base}/login?next=${encodeURIComponent(path)}`);
    await enterPassword(page, 'erin');
    await signInWithKey(page);
    await page.waitForURL(`${base}${path}`);
    await page
      .getByText(`Sign in the Sesame CLI on this computer as erin? It is waiting on port ${cli.port}.`)
      .waitFor();
    // Nothing is pressed by a key held down: Allow is not focused.
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#authorize button:focus').count(), 0, 'nothing in the form is focused');
    await page.getByRole('button', { name: 'Allow' }).click();

    const query = await cli.callback;
    assert.equal(query.get('state'), state);
    // Let the browser finish arriving at the loopback page before it is sent elsewhere.
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    await page.waitForLoadState('load');
    const token = await bed.server.api('POST', '/api/v1/auth/cli/token', {
      json: { code: query.get('code'), codeVerifier: verifier },
    });
    assert.equal(token.body.status, 'signed-in', token.text);
    const me = await bed.server.api('GET', '/api/v1/me', { token: String(token.body.token) });
    assert.equal((me.body.user as { username: string }).username, 'erin');
    cli.server.close();

    const denied = await loopback();
    await page.goto(`${base}/cli-login?port=${denied.port}&state=${state}&code_challenge=${challenge}`);
    await page.getByRole('button', { name: 'Deny' }).click();
    const refusal = await denied.callback;
    assert.equal(refusal.get('error'), 'access_denied');
    assert.equal(refusal.get('state'), state);
    assert.equal(refusal.get('code'), null);
    denied.server.close();
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('/device?code=…: the signed-in person approves the code the CLI shows', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await enrolSecurityKey(page, bed.server, 'frank');
    const started = await bed.server.api('POST', '/api/v1/auth/device', { json: {} });
    assert.equal(started.status, 200, started.text);
    const { deviceCode, userCode } = started.body as { deviceCode: string; userCode: string };

    await page.goto(`${base}/device`);
    await page.getByLabel('Code shown by the CLI').fill('BBBB-BBBB');
    await page.getByRole('button', { name: 'Continue' }).click();
    assert.match(await alertText(page), /code/i);
    let poll = await bed.server.api('POST', '/api/v1/auth/device/token', { json: { deviceCode } });
    assert.equal(poll.body.status, 'pending', poll.text);

    // A link with the code (as a phisher would send it): Enter only shows where the sign-in came from.
    await page.goto(`${base}/device?code=${encodeURIComponent(userCode)}`);
    assert.equal(await page.getByLabel('Code shown by the CLI').inputValue(), userCode);
    await page.getByLabel('Code shown by the CLI').press('Enter');
    await page.getByText(/was started from 127\.0\.0\.1, less than a minute ago/).waitFor();
    await page.keyboard.press('Enter');
    const approveButton = page.getByRole('button', { name: 'Approve' });
    assert.equal(await approveButton.isDisabled(), true, 'approving takes the box ticked by hand');
    poll = await bed.server.api('POST', '/api/v1/auth/device/token', { json: { deviceCode } });
    assert.equal(poll.body.status, 'pending', poll.text);
    await page.getByLabel('I started this sign-in myself').check();
    await approveButton.click();
    await messageMatching(page, /Approved\. The CLI is now signed in as frank/);
    poll = await bed.server.api('POST', '/api/v1/auth/device/token', { json: { deviceCode } });
    assert.equal(poll.body.status, 'signed-in', poll.text);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
