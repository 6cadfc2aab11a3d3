// The web console's defences that need no signed-in user: the CSP and its companions on every page and
// asset, pages that load without a single CSP violation, the sign-in guard that sends a visitor to
// /login?next=…, the open-redirect check for `next`, and the QR code inserted without anything runnable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { invite, openPage, PASSWORD, useWebServerAndBrowser } from './browser.ts';

const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const OPEN_PAGES = ['/', '/login', '/setup', '/reset', '/forgot'];
const GUARDED_PAGES = [
  '/account',
  '/console/',
  '/console/connect?target=i-0123456789abcdef0',
  '/device?code=ABCD-EFGH',
  '/cli-login?port=49152&state=s1&code_challenge=c1',
];

describe('web console security', () => {
  const bed = useWebServerAndBrowser();

  test('every page and every asset it loads carries the strict CSP', async () => {
    const assets = new Set<string>();
    for (const path of [...OPEN_PAGES, ...GUARDED_PAGES]) {
      const response = await fetch(`${bed.server.base}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(response.headers.get('content-security-policy'), CSP, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
      const html = await response.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=/i, `${path}: nothing inline`);
      for (const [, asset] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) assets.add(asset as string);
    }
    for (const asset of [...assets, '/assets/webauthn.js', '/assets/webauthn/index.js']) {
      const response = await fetch(`${bed.server.base}${asset}`);
      assert.equal(response.status, 200, asset);
      assert.match(response.headers.get('content-type') ?? '', /^text\/(javascript|css)/, asset);
      assert.equal(response.headers.get('content-security-policy'), CSP, asset);
    }
    // Asked for by every browser on every page: answered, not a 404 in the console.
    assert.equal((await fetch(`${bed.server.base}/favicon.ico`)).status, 204);
  });

  test('pages load without CSP violations; signed-out visitors of guarded pages go to /login?next=', async () => {
    const { context, page, problems } = await openPage(bed.browser);
    for (const path of OPEN_PAGES) {
      await page.goto(`${bed.server.base}${path}`);
      await page.locator('h1').waitFor();
    }
    for (const path of GUARDED_PAGES) {
      await page.goto(`${bed.server.base}${path}`);
      await page.waitForURL(`${bed.server.base}/login?next=${encodeURIComponent(path)}`);
    }
    // The WebAuthn helpers load as ES modules from this origin.
    const exported = await page.evaluate(async () =>
      Object.keys(await import(`${'/assets/'}webauthn.js`)).sort(),
    );
    assert.deepEqual(exported, ['browserSupportsWebAuthn', 'startAuthentication', 'startRegistration']);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('`next` and `redirect` accept same-origin paths only', async () => {
    const { context, page } = await openPage(bed.browser);
    await page.goto(`${bed.server.base}/login`);
    const cases: [string, string | null][] = [
      ['/console/', '/console/'],
      ['/console/connect?target=i-1#x', '/console/connect?target=i-1#x'],
      ['//evil.example', null],
      ['/\\evil.example', null],
      ['/\t/evil.example', null],
      ['/\n/evil.example', null],
      ['/.//evil.example', null],
      ['/%2e//evil.example', null],
      ['/a/..//evil.example', null],
      ['https://evil.example/', null],
      ['javascript:alert(1)', null],
      ['evil.example', null],
      ['', null],
    ];
    const answers = await page.evaluate(
      async (values) => {
        const { safePath } = await import(`${'/assets/'}api.js`);
        return values.map((value: string) => safePath(value));
      },
      cases.map(([value]) => value),
    );
    assert.deepEqual(
      answers,
      cases.map(([, expected]) => expected),
    );
    await context.close();
  });

  test("the sign-in page shows only the server's own single sign-on failure, once; never text from the address", async () => {
    const { context, page, problems } = await openPage(bed.browser);
    const message = page.locator('#message');
    // A link someone else wrote: neither the old `#error=` form nor `#sso-error` makes the page say anything.
    for (const hash of ['#error=Call%20the%20help%20desk%20at%20555-0100', '#sso-error']) {
      await page.goto(`${bed.server.base}/login${hash}`);
      await page.locator('h1').waitFor();
      await page.locator('#login').waitFor();
      assert.equal(await message.textContent(), '', hash);
    }
    // A real failure (an SSO provider that does not exist, its id written to fool): the page says it once, in
    // its own words; what the path said is not repeated.
    await page.goto(`${bed.server.base}/sso/${encodeURIComponent('Call the help desk at 555-0100')}/start`);
    await page.waitForURL(`${bed.server.base}/login`);
    await message.filter({ hasText: 'Single sign-on did not sign you in' }).waitFor();
    assert.equal(
      await message.textContent(),
      'Single sign-on did not sign you in: that sign-in provider is not enabled here',
    );
    const left = (await context.cookies()).map((cookie) => cookie.name);
    assert.ok(!left.includes('sesame_sso_error'), `the message is consumed: ${left}`);
    await page.reload();
    await page.locator('#login').waitFor();
    assert.equal(await message.textContent(), '');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('behind a TLS proxy without publicUrl (the plain cookie on an https page): the code is shown, never its words', async () => {
    const { context, page, problems } = await openPage(bed.browser);
    // The page at an https address (as behind a proxy), its requests answered by this server.
    const PROXY = 'https://sesame.test';
    await context.route(`${PROXY}/**`, async (route) => {
      const url = new URL(route.request().url());
      await route.fulfill({
        response: await route.fetch({ url: `${bed.server.base}${url.pathname}${url.search}` }),
      });
    });
    const message = page.locator('#message');
    const shown = async () => {
      await page.goto(`${PROXY}/login#sso-error`);
      await message.filter({ hasText: 'Single sign-on did not sign you in' }).waitFor();
      return message.textContent();
    };
    // The server behind the proxy thinks it is on http: it sets the plain name. A sibling subdomain could plant
    // that one too, so its code counts and its words do not.
    const plain = { domain: 'sesame.test', path: '/login' };
    await context.addCookies([{ name: 'sesame_sso_error', value: 'UNAVAILABLE', ...plain }]);
    assert.equal(
      await shown(),
      'Single sign-on did not sign you in: the identity provider could not be reached. Try again later',
    );
    await context.addCookies([
      {
        name: 'sesame_sso_error',
        value: encodeURIComponent('FORBIDDEN:Call the help desk at 555-0100'),
        ...plain,
      },
    ]);
    assert.equal(
      await shown(),
      'Single sign-on did not sign you in: Sesame does not let this account sign in',
    );
    assert.ok(!(await context.cookies(PROXY)).some((c) => c.name === 'sesame_sso_error'), 'consumed');
    // The __Host- cookie, which only this host can set, carries Sesame's own words.
    await context.addCookies([
      {
        name: '__Host-sesame_sso_error',
        value: encodeURIComponent('FORBIDDEN:this account is disabled'),
        url: `${PROXY}/`,
        secure: true,
      },
    ]);
    assert.equal(await shown(), 'Single sign-on did not sign you in: this account is disabled');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the QR code keeps its drawing and loses anything that could run', async () => {
    const { context, page, problems } = await openPage(bed.browser);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${bed.server.base}/login`);
    const html = await page.evaluate(async () => {
      const { qrImage } = await import(`${'/assets/'}qr.js`);
      const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4" onload="alert(1)"><script>alert(2)</script>' +
        '<path fill="#fff" d="M0 0h4v4H0z" onclick="alert(3)"/><foreignObject><p>x</p></foreignObject>' +
        '<a href="javascript:alert(4)"><path d="M1 1h1"/></a></svg>';
      return qrImage(svg, 'QR code').outerHTML;
    });
    assert.match(html, /^<svg /);
    assert.match(html, /<path fill="#fff" d="M0 0h4v4H0z"><\/path>/);
    assert.match(html, /role="img" aria-label="QR code"/);
    assert.doesNotMatch(html, /script|onload|onclick|foreignObject|javascript|<a/i);
    const fallback = await page.evaluate(async () => {
      const { qrImage } = await import(`${'/assets/'}qr.js`);
      return qrImage('<html><body>not svg', 'QR code').textContent;
    });
    assert.match(fallback ?? '', /cannot be shown/);
    // Parsing the hostile SVG may make Chromium report blocked handlers (the CSP's second line), never a run.
    assert.deepEqual(dialogs, []);
    assert.deepEqual(
      problems.filter((problem) => !/Content Security Policy/.test(problem)),
      [],
    );
    await context.close();
  });

  test('a setup link pasted into a tab already on /reset is the one used (only the fragment changes)', async () => {
    const { context, page, problems } = await openPage(bed.browser);
    await page.goto(`${bed.server.base}/reset#token=sst_not-a-real-token`);
    await page.locator('#setup').waitFor();
    const token = await invite(bed.server, 'pasted');
    await page.evaluate((t) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = `token=${t}`;
    }, token);
    await page.waitForURL(`${bed.server.base}/reset`); // reloaded, and the new token out of the address bar
    await page.getByLabel(/^New password/).fill(PASSWORD);
    await page.getByLabel('Repeat it').fill(PASSWORD);
    await page.getByRole('button', { name: /set password/i }).click();
    await page
      .getByText(/authenticator app|two-step/i)
      .first()
      .waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });
});
