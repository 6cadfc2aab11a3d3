// The browser shell, in Chromium: the SSO deep link /console/connect?target=<instance> signs the person in and,
// once they click Start session (a link alone opens nothing), lands on a working shell (a real agent process
// with a real PTY), and an instance the person may not reach shows the server's refusal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, eventually } from '../../packages/server/src/test-server.ts';
import { bins, runProcess, startAgent, stopChild } from '../e2e/harness.ts';
import {
  alertText,
  enterPassword,
  launchBrowser,
  messageMatching,
  openPage,
  startWebServer,
  type WebServer,
} from './browser.ts';

type Agent = ReturnType<typeof startAgent>;

/** The terminal's rows as text, one line per row. */
const screen = async (page: Page) => (await page.locator('.xterm-rows > div').allTextContents()).join('\n');

/** Follows the deep link signed out: sign-in (password + authenticator code), then back to the link. */
async function signInThrough(page: Page, server: WebServer, username: string, path: string): Promise<void> {
  await page.goto(`${server.base}${path}`);
  await page.waitForURL(/\/login\?next=/);
  await enterPassword(page, username, ADMIN_PASSWORD);
  await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  await page.getByLabel('Code from your authenticator app').fill(await server.totpCode(username));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`${server.base}${path}`);
}

describe('the browser shell', () => {
  let server: WebServer;
  let browser: Browser;
  let agent: Agent;
  let dir: string;
  let instanceId: string;

  before(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    dir = mkdtempSync(join(tmpdir(), 'sesame-browser-shell-'));
    const created = await server.api('POST', '/api/v1/activations', {
      token: server.adminToken,
      json: { defaultInstanceName: 'web-01' },
    });
    assert.equal(created.status, 200, created.text);
    const identity = join(dir, 'identity.json');
    const registered = await runProcess([
      bins.agent,
      'register',
      '--url',
      server.url,
      '--activation-id',
      (created.body.activation as { id: string }).id,
      '--activation-code',
      String(created.body.code),
      '--identity',
      identity,
    ]);
    assert.equal(registered.code, 0, registered.stderr);
    instanceId = registered.stdout.match(/registered as (\S+)/)?.[1] as string;
    agent = startAgent(identity);
    await eventually(async () => {
      const shown = await server.api('GET', `/api/v1/instances/${instanceId}`, { token: server.adminToken });
      return (shown.body.instance as { status?: string } | undefined)?.status === 'Online';
    }, 20_000);
  });
  after(async () => {
    if (agent) await stopChild(agent.child);
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the deep link lands on a shell on the instance; commands run; exit ends the session', async () => {
    const { context, page, problems } = await openPage(browser);
    await signInThrough(page, server, 'admin', `/console/connect?target=web-01`);
    // The link alone starts nothing: no WebSocket, no session, until the person clicks.
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const start = page.getByRole('button', { name: 'Start session' });
    await start.waitFor();
    await page.keyboard.press('Enter');
    assert.equal(
      await page.locator('#start:focus').count(),
      0,
      'not focused: a held Enter does not press it',
    );
    const active = async () =>
      (await server.api('GET', '/api/v1/sessions?state=active', { token: server.adminToken })).body
        .sessions as unknown[];
    assert.deepEqual(await active(), []);
    assert.deepEqual(sockets, []);
    await start.click();
    await messageMatching(page, /Connected to web-01 \(session admin-[0-9a-f]{17}\)/);
    assert.equal(sockets.length, 1);
    assert.equal((await active()).length, 1);
    assert.equal(await start.isHidden(), true);
    await page.locator('.xterm').click();
    await page.keyboard.type('echo hello-$((6*7))');
    await page.keyboard.press('Enter');
    await eventually(async () => /hello-42/.test(await screen(page)), 10_000);
    assert.match(await screen(page), /echo hello-\$\(\(6\*7\)\)/, 'the typed command is echoed');
    // The terminal's size reached the PTY.
    await page.keyboard.type('stty size');
    await page.keyboard.press('Enter');
    await eventually(async () => /^\d+ \d+$/m.test(await screen(page)), 10_000);
    const [rows, cols] = ((await screen(page)).match(/^(\d+) (\d+)$/m) ?? []).slice(1).map(Number);
    // A 1280-pixel window (Playwright's default) gives the 80 columns and more that tools assume.
    assert.ok((cols ?? 0) >= 80 && (rows ?? 0) > 5, `stty size: ${rows} ${cols}`);
    // The fallback command stays below the terminal.
    assert.equal(await page.locator('#command').textContent(), 'sesame ssh web-01');
    await page.keyboard.type('exit 3');
    await page.keyboard.press('Enter');
    await messageMatching(page, /Session ended \(exit 3\)/);
    // Not a dead end: another session starts from the same page, in a fresh terminal.
    await page.getByRole('button', { name: 'Start a new session' }).click();
    await messageMatching(page, /Connected to web-01 \(session admin-[0-9a-f]{17}\)/);
    assert.equal(await page.locator('#terminal .xterm').count(), 1, 'one terminal, not two');
    await page.locator('.xterm').click();
    await page.keyboard.type('exit 4');
    await page.keyboard.press('Enter');
    await messageMatching(page, /Session ended \(exit 4\)/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an instance the person may not reach shows the refusal', async () => {
    await server.createUser('bob');
    const { context, page, problems } = await openPage(browser);
    await signInThrough(page, server, 'bob', `/console/connect?target=${instanceId}`);
    await page.getByRole('button', { name: 'Start session' }).click();
    const text = await alertText(page);
    assert.match(text, /^You are not allowed/, 'said as a sentence');
    assert.doesNotMatch(text, /Connected/);
    await page.getByRole('button', { name: 'Start a new session' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });
});
