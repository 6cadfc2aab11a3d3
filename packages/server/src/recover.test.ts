// `sesame-server recover <username>`: the way back in for an administrator locked out with no one to help.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createServer } from './main.ts';
import { ADMIN_PASSWORD, apiClient, startTestServer } from './test-server.ts';

const bin = join(import.meta.dirname, '../bin/sesame-server.js');
const scratch = mkdtempSync(join(tmpdir(), 'sesame-recover-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const recover = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [bin, 'recover', ...args], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SESAME_DATA_DIR: dataDir, SESAME_PORT: '8443', SESAME_LOG_LEVEL: 'silent' },
  });

test('recover: the locked-out administrator gets a link to set a password, then registers a new MFA device', async () => {
  const ts = await startTestServer(); // admin has a password and an authenticator app
  const dataDir = ts.server.config.dataDir;
  // While the server runs, the data directory is its own: refused, saying so.
  const running = recover(dataDir, 'admin');
  assert.equal(running.status, 1);
  assert.match(running.stderr, /another Sesame server is using the data directory .*: stop it first/);
  await ts.server.close();

  assert.match(
    recover(dataDir, 'nobody').stderr,
    /^sesame-server: no user named "nobody" in .*sesame\.db\n$/,
  );
  // Run with other settings (another data directory), it finds no database and creates none.
  const elsewhere = join(scratch, 'not-the-data-dir');
  assert.match(
    recover(elsewhere, 'admin').stderr,
    /there is no Sesame database at .*not-the-data-dir\/sesame\.db: run recover with the server's own settings/,
  );
  assert.equal(existsSync(elsewhere), false);
  assert.equal(recover(dataDir).status, 2);
  const done = recover(dataDir, 'admin');
  assert.equal(done.status, 0, done.stderr);
  const [, link = '', token = ''] =
    /\n {2}(http:\/\/localhost:8443\/reset#token=(\S+))\n/.exec(done.stdout) ?? [];
  assert.ok(link, done.stdout);

  const server = await createServer(
    loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' }),
    createLogger({ level: 'silent' }),
  );
  try {
    const api = apiClient(await server.listen());
    // The old password no longer gets in (someone else may know it): only the link does.
    const old = await api('POST', '/api/v1/auth/login', {
      json: { username: 'admin', password: ADMIN_PASSWORD },
    });
    assert.equal(old.status, 401, old.text);
    const setup = await api('POST', '/api/v1/auth/setup', {
      json: { token, password: `${ADMIN_PASSWORD}!` },
    });
    assert.equal(setup.status, 200, setup.text);
    assert.equal(setup.body.status, 'enrol-required', 'the old device is gone: a new one is registered');
    const audited = (await server.store.listAudit({ actor: 'system', limit: 1000 })).map((e) => e.action);
    for (const action of [
      'sesame:RecoverAccount',
      'sesame:ResetMfaDevices',
      'sesame:UnlockUser',
      'sesame:ResetUserPassword',
    ])
      assert.ok(audited.includes(action), `${action} in ${audited}`);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
