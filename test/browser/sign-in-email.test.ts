// Email in the web console's sign-in, in Chromium with a real SMTP sink: with `withoutDevice: email-code`
// an invited user signs in with a code sent by email ("send another code" included), and /forgot mails a
// /reset link that sets a new password and continues into the same email step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type SmtpSink, startSmtpSink } from '../../packages/server/src/sign-in/smtp-sink.test-support.ts';
import {
  alertText,
  enterPassword,
  launchBrowser,
  messageMatching,
  openPage,
  PASSWORD,
  signedInAs,
  signOut,
  startWebServer,
  type WebServer,
} from './browser.ts';

const NEW_PASSWORD = 'another long test password';

describe('web sign-in with email', () => {
  let sink: SmtpSink;
  let server: WebServer;
  let browser: Browser;
  before(async () => {
    sink = await startSmtpSink();
    server = await startWebServer({
      file: { smtp: { host: '127.0.0.1', port: sink.port, from: 'sesame@example.com' } },
    });
    const settings = await server.api('PUT', '/api/v1/settings/mfa', {
      token: server.adminToken,
      json: { withoutDevice: 'email-code' },
    });
    assert.equal(settings.status, 200, settings.text);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await sink?.close();
  });

  /** The capture of `pattern` in the message to `to` that came after `count` earlier ones. */
  async function mail(to: string, pattern: RegExp, count: number): Promise<string> {
    const mine = () => sink.messages.filter((m) => m.to.includes(to));
    await sink.waitForMessage(() => mine().length > count);
    const match = pattern.exec(mine()[count]?.text ?? '');
    assert.ok(match, `message ${count} to ${to} matches ${pattern}`);
    return match[1] as string;
  }
  const received = (to: string) => sink.messages.filter((m) => m.to.includes(to)).length;

  async function typeEmailCode(page: Page, code: string) {
    await page.getByLabel('Code from the email').fill(code);
    await page.getByRole('button', { name: 'Verify email code' }).click();
  }

  test('invitation email → password → emailed code (and another) → console; /forgot → /reset → console', async () => {
    const to = 'gina@example.com';
    const created = await server.api('POST', '/api/v1/users', {
      token: server.adminToken,
      json: { username: 'gina', email: to, sendInvitation: true },
    });
    assert.equal(created.status, 200, created.text);
    const token = await mail(to, /\/setup#token=(\S+)/, 0);
    const { base } = server;
    const { context, page, problems } = await openPage(browser);

    await page.goto(`${base}/setup#token=${token}`);
    await page.getByLabel('New password (at least 12 characters)').fill(PASSWORD);
    await page.getByLabel('Repeat it').fill(PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('We emailed a code to g•••@example.com.').waitFor();
    const first = await mail(to, /sign-in code is (\d{6})/, 1);
    await page.getByRole('button', { name: 'Send another code' }).click();
    await messageMatching(page, /We emailed a code/);
    const second = await mail(to, /sign-in code is (\d{6})/, 2);
    if (first !== second) {
      await typeEmailCode(page, first);
      await alertText(page);
      assert.equal(new URL(page.url()).pathname, '/setup', 'the replaced code no longer works');
    }
    await typeEmailCode(page, second);
    await signedInAs(page, base, 'gina');
    await signOut(page, base);

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    const beforeForgot = received(to);
    await page.getByLabel('User name').fill('gina');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    const neutral = await messageMatching(page, /If that account exists/);
    const resetToken = await mail(to, /\/reset#token=(\S+)/, beforeForgot);
    // The same answer for a name nobody has.
    await page.getByLabel('User name').fill('nobody-by-this-name');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    assert.equal(await messageMatching(page, /If that account exists/), neutral);

    const before = received(to);
    await page.goto(`${base}/reset#token=${resetToken}`);
    await page.getByRole('heading', { name: 'Reset your Sesame password' }).waitFor();
    await page.getByLabel('New password (at least 12 characters)').fill(NEW_PASSWORD);
    await page.getByLabel('Repeat it').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await typeEmailCode(page, await mail(to, /sign-in code is (\d{6})/, before));
    await signedInAs(page, base, 'gina');

    await signOut(page, base);
    await enterPassword(page, 'gina', NEW_PASSWORD);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });
});
