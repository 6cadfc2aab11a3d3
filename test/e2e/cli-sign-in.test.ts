/**
 * Signing in with the CLI against a real server: forced TOTP enrolment at setup, password + TOTP, wrong and
 * reused codes, the device code approved in a (scripted) browser session, the loopback browser sign-in,
 * transparent refresh with a rotating refresh token, logout, and whoami.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChannelRejectedError, type Mux, muxOverWebSocket } from '@sesame/protocol';
import { Secret, TOTP } from 'otpauth';
import WebSocket from 'ws';
import { bins, Output, runCli, startSesame } from './harness.ts';

type Sesame = Awaited<ReturnType<typeof startSesame>>;
type Result = { code: number | null; stdout: string; stderr: string };
const PASSWORD = 'alice-password-123456';

function ok(result: Result): Result {
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  return result;
}

describe('sesame login, setup, logout and whoami', () => {
  let sesame: Sesame;
  const credentials = (home: string) =>
    JSON.parse(readFileSync(join(sesame.home(home), 'credentials.json'), 'utf8')) as Record<string, unknown>;
  const me = (token: unknown) =>
    fetch(`${sesame.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  /** One browser session for the tests that need one (each web sign-in costs a fresh TOTP code). */
  let web: Promise<{ cookie: string; csrfToken: string; headers: Record<string, string> }> | undefined;
  const browserSession = () => {
    web ??= sesame.webSignIn('alice', PASSWORD);
    return web;
  };
  const login = (home: string, extra: string[] = []) =>
    sesame.cli(['login', '--url', sesame.url, '--user', 'alice', ...extra], home, `${PASSWORD}\n`);

  before(async () => {
    sesame = await startSesame();
    const policy = join(sesame.dir, 'describe.json');
    writeFileSync(
      policy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ssm:DescribeSessions', Resource: '*' }],
      }),
    );
    ok(await sesame.cli(['admin', 'groups', 'create', 'ops']));
    ok(await sesame.cli(['admin', 'permission-sets', 'create', 'Describe', '--inline-policy', policy]));
    ok(
      await sesame.cli(['admin', 'assignments', 'create', '--permission-set', 'Describe', '--group', 'ops']),
    );
  });
  after(async () => sesame?.stop());

  test('setup makes a new user enrol an authenticator app before signing in', async () => {
    const created = ok(
      await sesame.cli([
        'admin',
        'users',
        'create',
        'alice',
        '--email',
        'alice@example.com',
        '--output',
        'json',
      ]),
    );
    const { setupToken, setupUrl } = JSON.parse(created.stdout);
    assert.match(setupUrl, /\/setup#token=/);
    ok(await sesame.cli(['admin', 'groups', 'add-member', 'ops', 'alice']));
    ok(await sesame.cli(['admin', 'users', 'tag', 'alice', 'team=web']));
    // tag adds, keeping the others; untag removes.
    const tagged = ok(await sesame.cli(['admin', 'users', 'tag', 'alice', 'env=prod', '-o', 'json']));
    assert.deepEqual(JSON.parse(tagged.stdout), { team: 'web', env: 'prod' });
    const untagged = ok(await sesame.cli(['admin', 'users', 'untag', 'alice', 'env', '-o', 'json']));
    assert.deepEqual(JSON.parse(untagged.stdout), { team: 'web' });
    // A password over plain http to another machine is refused unless asked for; then it is only unreachable here.
    const overHttp = await sesame.cli(
      ['login', '--url', 'http://sesame.invalid:9', '--user', 'alice'],
      'alice',
    );
    assert.equal(overHttp.code, 2);
    assert.match(
      overHttp.stderr,
      /plain http to another machine: your password and tokens .* --insecure-http/,
    );
    const accepted = await sesame.cli(
      ['login', '--url', 'http://sesame.invalid:9', '--user', 'alice', '--insecure-http'],
      'alice',
      'a password\n',
    );
    assert.doesNotMatch(accepted.stderr, /plain http/);
    assert.notEqual(accepted.code, 0);
    // A token on the command line is visible to every user of the machine (ps): refused, and left unused.
    const inArgv = await sesame.cli(['setup', '--url', sesame.url, '--token', setupToken], 'alice');
    assert.equal(inArgv.code, 2);
    assert.match(
      inArgv.stderr,
      /--token would put the setup token where other users .* paste the setup link/,
    );
    const setup = ok(
      await sesame.cli(['setup', '--url', sesame.url], 'alice', `${setupToken}\n${PASSWORD}\n`),
    );
    assert.match(setup.stderr, /needs a second factor/);
    assert.match(setup.stderr, /otpauth:\/\/totp\/[^\s]*alice\?/);
    assert.match(setup.stderr, /Or enter this key by hand: [A-Z2-7]{32}/);
    assert.match(setup.stderr, /signed in to .* as alice until/);
    assert.ok(sesame.authenticators.has('alice'));

    const stored = credentials('alice');
    assert.match(String(stored.token), /^ses_/);
    assert.match(String(stored.refreshToken), /^rft_/);
    assert.ok(Number(stored.sessionExpiresAt) >= Number(stored.expiresAt));
    const home = sesame.home('alice');
    assert.equal(statSync(join(home, 'credentials.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, 'device-id')).mode & 0o777, 0o600);
    assert.equal(statSync(home).mode & 0o777, 0o700);

    const devices = JSON.parse(
      ok(await sesame.cli(['mfa', 'list', '--output', 'json'], 'alice')).stdout,
    ).devices;
    assert.deepEqual(
      devices.map((d: { kind: string }) => d.kind),
      ['totp'],
    );
    const listed = ok(await sesame.cli(['admin', 'users', 'mfa-devices', 'alice', '--output', 'json']));
    assert.equal(JSON.parse(listed.stdout).devices.length, 1);
  });

  test('with the prompt "always", login --user asks for the code; a wrong or reused code is refused (exit 3)', async () => {
    const shown = JSON.parse(
      ok(await sesame.cli(['admin', 'mfa', 'set', '--prompt', 'always', '-o', 'json'])).stdout,
    );
    assert.equal(shown.prompt, 'always');
    try {
      const asked = ok(await login('alice-2'));
      assert.match(asked.stderr, /Code from your authenticator app:/);

      const secret = Secret.fromBase32(sesame.authenticators.secret('alice'));
      const now = Math.floor(Date.now() / 30_000);
      const near = new Set(
        [-1, 0, 1, 2].map((d) => TOTP.generate({ secret, timestamp: (now + d) * 30_000 })),
      );
      const wrongCode = ['000000', '111111', '222222', '333333', '444444'].find(
        (c) => !near.has(c),
      ) as string;
      const wrong = await login('alice-3', ['--mfa-code', wrongCode]);
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(wrong.stderr, /not right/);

      const code = await sesame.authenticators.code('alice');
      ok(await login('alice-3', ['--mfa-code', code]));
      const reused = await login('alice-4', ['--mfa-code', code]);
      assert.equal(reused.code, 3, reused.stderr);
      assert.match(reused.stderr, /used already/);
    } finally {
      ok(await sesame.cli(['admin', 'mfa', 'set', '--prompt', 'context-change']));
    }
  });

  test('with the prompt "context-change", signing in again from the same home asks for no code', async () => {
    // alice-2 answered a code in the test before; the same home and address are a known context.
    const again = ok(await login('alice-2'));
    assert.doesNotMatch(again.stderr, /Code from your authenticator app/);
  });

  test('whoami shows groups, tags, permission sets, MFA and when the sign-in ends', async () => {
    const text = ok(await sesame.cli(['whoami'], 'alice')).stdout;
    assert.match(text, /^user: +alice$/m);
    assert.match(text, /^email: +alice@example\.com$/m);
    assert.match(text, /^groups: +ops$/m);
    assert.match(text, /^tags: +team=web$/m);
    assert.match(text, /^permission sets: Describe$/m);
    assert.match(text, /^MFA: +yes/m);
    assert.match(text, /^sign-in expires: \d{4}-\d\d-\d\dT\S+ \(in \d+ (minute|hour)/m);
    const json = JSON.parse(ok(await sesame.cli(['whoami', '--output', 'json'], 'alice')).stdout);
    assert.equal(json.username, 'alice');
    assert.deepEqual(json.groups, ['ops']);
    assert.deepEqual(json.tags, { team: 'web' });
    assert.equal(json.signIn.mfa.present, true);
    assert.equal(typeof json.signIn.expiresAt, 'number');
  });

  test('an expired access token is refreshed on the next command; the old refresh token is then refused', async () => {
    const before = credentials('alice');
    writeFileSync(
      join(sesame.home('alice'), 'credentials.json'),
      JSON.stringify({ ...before, expiresAt: Date.now() - 1000 }),
    );
    ok(await sesame.cli(['whoami'], 'alice'));
    const afterRefresh = credentials('alice');
    assert.notEqual(afterRefresh.token, before.token);
    assert.notEqual(afterRefresh.refreshToken, before.refreshToken);
    assert.ok(Number(afterRefresh.expiresAt) > Date.now());
    assert.equal((await me(afterRefresh.token)).status, 200);

    // A refresh token presented twice was copied: the server ends the whole sign-in.
    const replay = await fetch(`${sesame.url}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: before.refreshToken }),
    });
    assert.equal(replay.status, 401);
    const ended = await sesame.cli(['whoami'], 'alice');
    assert.equal(ended.code, 3);
    assert.match(ended.stderr, /sesame login/);
    ok(await login('alice'));
  });

  test('a refresh whose answer was lost is asked again, and the sign-in lives on', async () => {
    // A proxy that lets the first refresh reach the server (which rotates the token) and then cuts the CLI off
    // before the answer, as a dropped connection or a CLI killed at that moment would.
    let cut = 0;
    const proxy = createServer((req, res) => {
      const upstream = httpRequest(
        `${sesame.url}${req.url}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          if (req.url === '/api/v1/auth/refresh' && cut++ === 0) {
            answer.resume();
            answer.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const before = credentials('alice');
      const file = join(sesame.home('alice'), 'credentials.json');
      const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      writeFileSync(file, JSON.stringify({ ...before, url: via, expiresAt: Date.now() - 1000 }));
      const lost = await sesame.cli(['whoami'], 'alice');
      assert.equal(lost.code, 7, lost.stderr);
      const [name] = readdirSync(sesame.home('alice')).filter((n) => /^refresh-proposal-\w+\.json$/.test(n));
      const proposal = join(sesame.home('alice'), String(name));
      const pending = JSON.parse(readFileSync(proposal, 'utf8')) as { from: string; next: string };
      assert.equal(pending.from, before.refreshToken, 'what was asked is written down');
      assert.equal(statSync(proposal).mode & 0o777, 0o600);
      assert.equal(cut, 1, 'the server answered the first refresh');
      ok(await sesame.cli(['whoami'], 'alice'));
      const after = credentials('alice');
      assert.equal(after.refreshToken, pending.next);
      assert.equal((await me(after.token)).status, 200, 'the sign-in was not taken for stolen');
      // Logout forgets the proposal even when it cannot reach the server: one left by a lost answer would still
      // get tokens issued for this sign-in.
      writeFileSync(file, JSON.stringify({ ...after, url: 'http://127.0.0.1:9' }));
      assert.equal((await sesame.cli(['logout'], 'alice')).code, 7);
      assert.equal(existsSync(proposal), false);
      // So does login, for the sign-in it replaces.
      writeFileSync(proposal, JSON.stringify(pending), { mode: 0o600 });
      ok(await login('alice'));
      assert.equal(existsSync(proposal), false);
    } finally {
      proxy.close();
    }
  });

  test('logout revokes the sign-in on the server and forgets it', { timeout: 60_000 }, async () => {
    const { token } = credentials('alice-3');
    assert.equal((await me(token)).status, 200);
    // A connection opened before the logout stays open, but opens no shell after it.
    const ws = new WebSocket(`${sesame.url.replace('http', 'ws')}/api/v1/connect`, {
      headers: { authorization: `Bearer ${token}` },
    });
    // The mux is attached in the 'open' handler: the server's hello can come in the same read as the upgrade.
    const mux = await new Promise<Mux>((resolve) =>
      ws.once('open', () => {
        const attached = muxOverWebSocket(ws, { side: 'b' });
        attached.hello({ client: 'test' });
        resolve(attached);
      }),
    );
    await mux.ready;
    const out = ok(await sesame.cli(['logout'], 'alice-3'));
    assert.match(out.stderr, /signed out/);
    assert.equal((await me(token)).status, 401);
    await assert.rejects(
      mux.open({ kind: 'shell', target: 'web-01', cols: 80, rows: 24 }),
      (error: Error) => {
        assert.equal((error as ChannelRejectedError).code, 'UNAUTHENTICATED');
        assert.match(error.message, /sign-in has ended/);
        return true;
      },
    );
    mux.close();
    const after = await sesame.cli(['whoami'], 'alice-3');
    assert.equal(after.code, 3);
    assert.match(after.stderr, /not signed in: run `sesame login` to sign in to http:\/\/\S+ again/);
    // Signing in again needs no --url: the server signed in to last is remembered past the logout.
    ok(await sesame.cli(['login', '--user', 'alice'], 'alice-3', `${PASSWORD}\n`));
    assert.equal(credentials('alice-3').url, sesame.url);
  });

  test('a listing whose reader went (`| head`) ends quietly, exit 0', async () => {
    const child = spawn(process.execPath, [bins.cli, 'admin', 'users', 'list'], {
      env: { ...process.env, SESAME_HOME: sesame.home('admin') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before a line is written: every write is EPIPE
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    assert.deepEqual([code, stderr], [0, '']);
  });

  test('logout that cannot reach the server forgets the tokens but says so, with the exit code of why', async () => {
    const home = sesame.home('offline');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const stored = {
      url: 'http://127.0.0.1:9',
      username: 'alice',
      token: `ses_${'A'.repeat(43)}`,
      tls: null,
    };
    writeFileSync(
      join(home, 'credentials.json'),
      JSON.stringify({ ...stored, expiresAt: Date.now() + 600_000 }),
      {
        mode: 0o600,
      },
    );
    // Another sesame holds the credentials lock (refreshing, say): logout waits for it, or that process would
    // write the tokens back after logout forgot them.
    const lock = join(home, 'credentials.json.lock');
    mkdirSync(lock);
    const running = sesame.cli(['logout'], 'offline');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(existsSync(join(home, 'credentials.json')), true, 'logout waits for the lock');
    rmSync(lock, { recursive: true });
    const out = await running;
    assert.equal(out.code, 7, out.stderr);
    assert.match(
      out.stderr,
      /forgot the stored sign-in, but could not end it on the server .*stays valid until it expires/,
    );
    assert.equal(existsSync(join(home, 'credentials.json')), false);
  });

  test('--no-browser: the device code approved in a browser session signs the CLI in', async () => {
    const child = runCliStreaming(
      ['login', '--url', sesame.url, '--no-browser'],
      sesame.home('alice-device'),
    );
    const [, userCode] = await child.output.wait(/shows the code (\S+)/);
    const [, link] = await child.output.wait(/^ {2}(http\S+)$/m);
    assert.ok(link?.includes(encodeURIComponent(userCode as string)) || link?.includes(userCode as string));
    const web = await browserSession();
    const approve = await fetch(`${sesame.url}/api/v1/auth/device/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...web.headers },
      body: JSON.stringify({ userCode }),
    });
    assert.equal(approve.status, 200, await approve.clone().text());
    assert.deepEqual(await approve.json(), { approved: true });
    assert.equal(await child.exit, 0, child.output.text);
    assert.match(child.output.text, /signed in to .* as alice/);
    assert.match(ok(await sesame.cli(['whoami'], 'alice-device')).stdout, /^user: +alice$/m);
  });

  test('the browser sign-in: the loopback redirect hands the code to the CLI (PKCE, state)', async () => {
    const web = await browserSession();
    // A stand-in browser: it is signed in already and allows the CLI, as the /cli-login page does.
    const browser = join(sesame.dir, 'browser.mjs');
    writeFileSync(
      browser,
      `const page = new URL(process.argv[2]);
const q = page.searchParams;
const res = await fetch(new URL('/api/v1/auth/cli/authorize', page), {
  method: 'POST',
  headers: { 'content-type': 'application/json', cookie: process.env.WEB_COOKIE, 'x-csrf-token': process.env.WEB_CSRF },
  body: JSON.stringify({ port: Number(q.get('port')), state: q.get('state'), codeChallenge: q.get('code_challenge') }),
});
const { redirect } = await res.json();
await fetch(redirect);
`,
    );
    const result = await runCli(['login', '--url', sesame.url], {
      home: sesame.home('alice-browser'),
      authenticators: sesame.authenticators,
      env: { BROWSER: `${process.execPath} ${browser}`, WEB_COOKIE: web.cookie, WEB_CSRF: web.csrfToken },
    });
    ok(result);
    assert.match(result.stderr, /\/cli-login\?port=\d+&state=[\w-]+&code_challenge=[\w-]{43}/);
    assert.match(result.stderr, /signed in to .* as alice/);
    assert.match(ok(await sesame.cli(['whoami'], 'alice-browser')).stdout, /^user: +alice$/m);
  });

  test('administrators manage accounts and MFA from the CLI', async () => {
    const bob = JSON.parse(
      ok(await sesame.cli(['admin', 'users', 'create', 'bob', '--email', 'bob@example.com', '-o', 'json']))
        .stdout,
    );
    ok(await sesame.cli(['setup', '--url', sesame.url], 'bob', `${bob.setupToken}\nbob-password-123456\n`));
    // bob's own devices: a second authenticator app, renamed; the first one removed.
    const added = ok(await sesame.cli(['mfa', 'add-totp', '--name', 'phone'], 'bob'));
    assert.match(added.stdout, /registered \S+ \(phone\)/);
    const two = JSON.parse(ok(await sesame.cli(['mfa', 'list', '-o', 'json'], 'bob')).stdout).devices;
    assert.equal(two.length, 2);
    const [first, phone] = two as { id: string; name: string }[];
    ok(await sesame.cli(['mfa', 'rename', phone?.id as string, 'work phone'], 'bob'));
    ok(await sesame.cli(['mfa', 'remove', first?.id as string], 'bob'));
    assert.deepEqual(
      JSON.parse(ok(await sesame.cli(['mfa', 'list', '-o', 'json'], 'bob')).stdout).devices.map(
        (d: { name: string }) => d.name,
      ),
      ['work phone'],
    );

    ok(await sesame.cli(['admin', 'users', 'disable', 'bob']));
    assert.equal((await sesame.cli(['whoami'], 'bob')).code, 3, 'disabling ends the sign-in');
    ok(await sesame.cli(['admin', 'users', 'enable', 'bob']));
    ok(await sesame.cli(['admin', 'users', 'unlock', 'bob']));
    const updated = JSON.parse(
      ok(await sesame.cli(['admin', 'users', 'set-email', 'bob', 'robert@example.com', '-o', 'json'])).stdout,
    );
    assert.equal(updated.email, 'robert@example.com');
    ok(await sesame.cli(['admin', 'users', 'reset-mfa', 'bob']));
    assert.deepEqual(
      JSON.parse(ok(await sesame.cli(['admin', 'users', 'mfa-devices', 'bob', '-o', 'json'])).stdout).devices,
      [],
    );
    const settings = JSON.parse(ok(await sesame.cli(['admin', 'mfa', 'show', '-o', 'json'])).stdout);
    assert.deepEqual(settings, {
      prompt: 'context-change',
      methods: ['totp', 'webauthn'],
      withoutDevice: 'register',
    });
    ok(await sesame.cli(['admin', 'users', 'delete', 'bob']));

    const incomplete = await sesame.cli([
      'admin',
      'sso',
      'create',
      'corp',
      '--kind',
      'oidc',
      '--name',
      'Corp',
      '--issuer',
      'https://idp.example.com',
    ]);
    assert.equal(incomplete.code, 2, 'no client id: the server says what is missing');
    assert.match(incomplete.stderr, /clientId/);
    const configFile = join(sesame.home('admin'), 'corp-sso.json');
    writeFileSync(
      configFile,
      JSON.stringify({ kind: 'oidc', name: 'Corp', config: 'issuer=https://idp.example' }),
    );
    const notAnObject = await sesame.cli(['admin', 'sso', 'create', 'corp', '--config-file', configFile]);
    assert.equal(notAnObject.code, 2);
    assert.match(notAnObject.stderr, /"config" must be a JSON object/);
    const created = await sesame.cli(
      [
        'admin',
        'sso',
        'create',
        'corp',
        '--kind',
        'oidc',
        '--name',
        'Corp',
        '--issuer',
        'https://idp.example.com',
        '--client-id',
        'sesame',
        '--client-secret-stdin',
      ],
      'admin',
      'the-client-secret\n',
    );
    ok(created);
    ok(
      await sesame.cli([
        'admin',
        'sso',
        'update',
        'corp',
        '--name',
        'Corporate SSO',
        '--scopes',
        'groups,email',
      ]),
    );
    const providers = JSON.parse(
      ok(await sesame.cli(['admin', 'sso', 'list', '-o', 'json'])).stdout,
    ).providers;
    assert.equal(providers.length, 1);
    assert.equal(providers[0].name, 'Corporate SSO');
    assert.equal(providers[0].config.clientId, 'sesame');
    assert.equal(providers[0].config.clientSecret, '(set)', 'kept across the update, never shown');
    assert.deepEqual(providers[0].config.scopes, ['groups', 'email']);
    ok(await sesame.cli(['admin', 'sso', 'delete', 'corp']));
    const users = JSON.parse(ok(await sesame.cli(['admin', 'users', 'list', '-o', 'json'])).stdout).users;
    assert.ok(!users.some((u: { username: string }) => u.username === 'bob'));
  });
});

/** The CLI as a child process whose output the test reads while it runs. */
function runCliStreaming(args: string[], home: string) {
  const child = spawn(process.execPath, [bins.cli, ...args], {
    env: { ...process.env, SESAME_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new Output();
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, output, exit };
}
