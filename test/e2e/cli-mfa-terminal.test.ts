/**
 * `sesame mfa add-totp` at a real terminal (a PTY), as a person types: the QR code and key are shown, a
 * mistyped code is refused with the attempts left and asked again, the right one registers the app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawn as spawnPty } from 'node-pty';
import { URI as OtpUri, TOTP } from 'otpauth';
import { AUTHENTICATOR } from '../../packages/cli/src/sign-in/sign-in-steps.ts';
import { wrongTotpCode } from '../../packages/server/src/test-server.ts';
import { bins, Output, startSesame } from './harness.ts';

type Sesame = Awaited<ReturnType<typeof startSesame>>;

function ok(result: { code: number | null; stdout: string; stderr: string }) {
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  return result;
}

describe('sesame mfa add-totp at a terminal', () => {
  let sesame: Sesame;
  before(async () => {
    sesame = await startSesame();
    const carol = JSON.parse(
      ok(
        await sesame.cli(['admin', 'users', 'create', 'carol', '--email', 'carol@example.com', '-o', 'json']),
      ).stdout,
    );
    ok(
      await sesame.cli(
        ['setup', '--url', sesame.url],
        'carol',
        `${carol.setupToken}\ncarol-password-123456\n`,
      ),
    );
  });
  after(() => sesame?.stop());

  test('a mistyped code is asked again; the right one registers the app', async () => {
    const output = new Output();
    const pty = spawnPty(process.execPath, [bins.cli, 'mfa', 'add-totp', '--name', 'phone'], {
      name: 'xterm-256color',
      cols: 120,
      rows: 60,
      env: { ...process.env, SESAME_HOME: sesame.home('carol') } as Record<string, string>,
    });
    pty.onData((d) => output.push(d));
    const exit = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
    try {
      const [uri] = await output.wait(/otpauth:\/\/totp\/[^\s)]+/);
      assert.match(output.text, /Scan this QR code with the app:/, 'a terminal gets the QR code');
      const app = OtpUri.parse(uri);
      assert.ok(app instanceof TOTP, uri);
      await output.wait(new RegExp(AUTHENTICATOR));
      pty.write(`${wrongTotpCode(app.secret.base32)}\r`);
      await output.wait(/that code is not right \(4 attempts left\) — try again\./);
      await output.wait(new RegExp(`(${AUTHENTICATOR}[\\s\\S]*){2}`));
      pty.write(`${app.generate()}\r`);
      await output.wait(/registered \S+ \(phone\)/);
      assert.equal(await exit, 0, output.text);
    } finally {
      pty.kill('SIGKILL'); // a failed wait must not leave the CLI waiting for input (and this file running)
    }

    const devices = JSON.parse(ok(await sesame.cli(['mfa', 'list', '-o', 'json'], 'carol')).stdout).devices;
    assert.deepEqual(
      devices.map((d: { name: string }) => d.name),
      ['Authenticator app', 'phone'],
    );
  });
});

/** The promise's value, or a failure after `ms` (a CLI still waiting for input must not hang the file). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('sesame setup at a terminal', () => {
  let sesame: Sesame;
  before(async () => {
    sesame = await startSesame();
  });
  after(() => sesame?.stop());

  test('a password too short is asked again at once, before it is repeated; three times is the end', async () => {
    const dave = JSON.parse(ok(await sesame.cli(['admin', 'users', 'create', 'dave', '-o', 'json'])).stdout);
    const run = () => {
      const output = new Output();
      const pty = spawnPty(process.execPath, [bins.cli, 'setup', '--url', sesame.url], {
        name: 'xterm-256color',
        cols: 120,
        rows: 40,
        env: { ...process.env, SESAME_HOME: sesame.home('dave') } as Record<string, string>,
      });
      pty.onData((d) => output.push(d));
      const exit = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
      return { output, pty, exit };
    };
    const first = run();
    try {
      await first.output.wait(/Setup link \(or token\): /);
      first.pty.write(`${dave.setupToken}\r`);
      for (const [n, short] of ['short', 'still-short', 'x'].entries()) {
        await first.output.wait(
          new RegExp(`(New password \\(at least 12 characters\\): [\\s\\S]*){${n + 1}}`),
        );
        first.pty.write(`${short}\r`);
      }
      assert.equal(await within(first.exit, 20_000), 2, first.output.text);
      assert.match(first.output.text, /that is 5 characters, at least 12 are needed — try again\./);
      assert.match(
        first.output.text,
        /too short \(at least 12 characters\): run `sesame setup` again, the setup link still works/,
      );
      assert.doesNotMatch(first.output.text, /Repeat it/);
    } finally {
      first.pty.kill('SIGKILL');
    }
    // The link still works: a long enough password goes on to be repeated, then to the second factor.
    const second = run();
    try {
      await second.output.wait(/Setup link \(or token\): /);
      second.pty.write(`${dave.setupToken}\r`);
      await second.output.wait(/New password \(at least 12 characters\): /);
      second.pty.write('too-short\r');
      await second.output.wait(/try again\.[\s\S]*New password \(at least 12 characters\): /);
      second.pty.write('dave-password-123456\r');
      await second.output.wait(/Repeat it: /);
      second.pty.write('dave-password-123456\r');
      await second.output.wait(/needs a second factor/);
    } finally {
      second.pty.kill('SIGKILL');
    }
  });
});
