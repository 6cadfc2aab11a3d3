// The web console's sign-in with an authenticator app, in Chromium: invitation link, password, forced
// enrolment from the QR page, the console, a security key added on /account; sign-out and a second sign-in with password + code; and a wrong
// password that says nothing about whether the account exists.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wrongTotpCode } from '../../packages/server/src/test-server.ts';
import {
  addSecurityKey,
  alertText,
  enterPassword,
  invite,
  messageMatching,
  openPage,
  PASSWORD,
  setPassword,
  signedInAs,
  signOut,
  totpApp,
  useWebServerAndBrowser,
} from './browser.ts';

describe('web sign-in with an authenticator app', () => {
  const bed = useWebServerAndBrowser();

  test('invitation → password → authenticator app from the QR page → console; sign out; password + code', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await setPassword(page, base, await invite(bed.server, 'alice'));
    // The token left the address bar as soon as the page read it.
    assert.equal(new URL(page.url()).hash, '');

    await page.getByRole('button', { name: 'Authenticator app (scan a QR code)' }).click();
    const qr = page.getByRole('img', { name: 'QR code to scan with your authenticator app' });
    await qr.waitFor();
    assert.ok((await qr.locator('path').count()) > 0, 'the QR code has its drawing');
    const secret = (await page.locator('#totp-secret').textContent()) ?? '';
    assert.match(secret, /^[A-Z2-7]{16,}$/);
    assert.match((await page.locator('#totp-uri').textContent()) ?? '', /^otpauth:\/\/totp\/.*secret=/);
    const app = totpApp(secret);

    await page.getByLabel('6-digit code the app shows').fill(wrongTotpCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await alertText(page), /\w/, 'a wrong code is an error');

    await page.getByLabel('6-digit code the app shows').fill(await app());
    await page.getByLabel('Name for this app (optional)').fill('Phone');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await signedInAs(page, base, 'alice');

    await page.goto(`${base}/account`);
    await page.getByRole('cell', { name: 'Phone', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'Authenticator app', exact: true }).waitFor();
    // A security key added from the account page (Chromium's virtual authenticator).
    await addSecurityKey(page);
    await page.getByRole('button', { name: 'Add security key or passkey' }).click();
    await page.getByLabel('Name for this key (optional)').fill('Backup key');
    await page.getByRole('button', { name: 'Register security key' }).click();
    await messageMatching(page, /Added Backup key/);
    await page.getByRole('cell', { name: 'Backup key', exact: true }).waitFor();
    assert.equal(await page.locator('#devices tbody tr').count(), 2);
    await signOut(page, base);

    // Signed out: the account page sends the visitor to sign in, and back to it afterwards.
    await page.goto(`${base}/account`);
    await page.waitForURL(`${base}/login?next=%2Faccount`);
    await enterPassword(page, 'alice');
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    await page.getByLabel('Code from your authenticator app').fill(await app());
    await page.getByRole('button', { name: 'Verify' }).click();
    await signedInAs(page, base, 'alice', '/account');
    await page.getByText('alice', { exact: true }).first().waitFor();

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a wrong password is an error that does not tell whether the user exists', async () => {
    const { base } = bed.server;
    await invite(bed.server, 'bob').then((token) =>
      bed.server.api('POST', '/api/v1/auth/setup', { json: { token, password: PASSWORD } }),
    );
    const { context, page, problems } = await openPage(bed.browser);
    const attempt = async (username: string, password: string) => {
      await page.goto(`${base}/login`);
      await enterPassword(page, username, password);
      const text = await alertText(page);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(await page.getByLabel('Password').inputValue(), '', 'the wrong password is cleared');
      return text;
    };
    const wrongPassword = await attempt('bob', 'not the right password at all');
    const noSuchUser = await attempt('nobody-by-this-name', 'not the right password at all');
    assert.equal(wrongPassword, noSuchUser);
    assert.doesNotMatch(wrongPassword, /no such|unknown user|not found|does not exist|bob/i);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
