// A lost secrets key: the start is refused (and leaves no key behind), `forget-secrets --lost-key-id` removes what the lost
// key sealed, and the server starts with the new one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createServer } from './main.ts';
import { secretsKeyId } from './store/secret-box.ts';
import { identityProvider } from './store/store-test-fixtures.ts';
import { startTestServer } from './test-server.ts';

const bin = join(import.meta.dirname, '../bin/sesame-server.js');
const scratch = mkdtempSync(join(tmpdir(), 'sesame-forget-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const serverCommand = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' },
  });

test('a lost secrets key: the start is refused, forget-secrets --lost-key-id removes what it sealed, and the server starts', async () => {
  const ts = await startTestServer(); // admin has an authenticator app
  const dataDir = ts.server.config.dataDir;
  const admin = await ts.server.store.getUserByUsername('admin');
  await ts.server.store.createIdentityProvider(identityProvider());
  await ts.server.close();
  const keyFile = join(dataDir, 'secrets.key');
  const lostKeyId = secretsKeyId(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64'));
  // A stray SESAME_SECRETS_KEY beside the data directory's own key: that key is not lost, nothing is forgotten.
  const stray = serverCommand(dataDir, 'forget-secrets', '--lost-key-id', lostKeyId);
  assert.equal(stray.status, 0, 'without a stray key there is nothing to forget');
  // Even when the file's mode would refuse it as the server's key (a restore that left it 0644).
  for (const mode of [0o600, 0o644]) {
    chmodSync(keyFile, mode);
    const withStray = spawnSync(process.execPath, [bin, 'forget-secrets', '--lost-key-id', lostKeyId], {
      cwd: scratch,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        SESAME_DATA_DIR: dataDir,
        SESAME_SECRETS_KEY: Buffer.alloc(32, 5).toString('hex'),
      },
    });
    assert.equal(withStray.status, 1, withStray.stdout);
    assert.match(
      withStray.stderr,
      new RegExp(`the key with id ${lostKeyId} is not lost: it is .*secrets\\.key`),
    );
  }
  chmodSync(keyFile, 0o600);
  rmSync(keyFile);

  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' });
  const log = createLogger({ level: 'silent' });
  await assert.rejects(
    createServer(config, log),
    new RegExp(
      `secrets\\.key is missing \\(the key made for this start is removed again\\), and this database's secrets .* were sealed with another secrets key: .*key id ${lostKeyId}.*forget-secrets --lost-key-id ${lostKeyId}\``,
    ),
  );
  assert.equal(existsSync(keyFile), false, 'no key left behind that the database was not sealed with');
  const recover = serverCommand(dataDir, 'recover', 'admin');
  assert.equal(recover.status, 1);
  assert.match(recover.stderr, /secrets\.key is missing/);
  assert.equal(existsSync(keyFile), false);

  const unsure = serverCommand(dataDir, 'forget-secrets');
  assert.equal(unsure.status, 2);
  assert.match(unsure.stderr, /name it with --lost-key-id <id> \(the id the refused start showed\)/);
  const mistyped = serverCommand(dataDir, 'forget-secrets', '--lost-key-id', '0123456789abcdef');
  assert.equal(mistyped.status, 1);
  assert.match(
    mistyped.stderr,
    new RegExp(`nothing was forgotten: .*key whose id is ${lostKeyId}, not 0123456789abcdef`),
  );
  assert.equal(existsSync(keyFile), false);
  const forgot = serverCommand(dataDir, 'forget-secrets', '--lost-key-id', lostKeyId);
  assert.equal(forgot.status, 0, forgot.stderr);
  assert.match(
    forgot.stdout,
    /^Forgot what the lost key sealed: 1 authenticator app\(s\) of 1 person\(s\) deleted/,
  );
  assert.match(
    forgot.stdout,
    /providers disabled: okta \(give each its client secret again, then enable it\)/,
  );
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const again = serverCommand(dataDir, 'forget-secrets', '--lost-key-id', lostKeyId);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /opens this database's secrets: nothing to forget/);

  const server = await createServer(config, log);
  try {
    assert.deepEqual(await server.store.listMfaDevices(String(admin?.id)), []);
    const provider = await server.store.getIdentityProvider('okta');
    assert.equal(provider?.enabled, false);
    assert.deepEqual(provider?.config, { issuer: 'https://idp.example', clientId: 'sesame' });
    const events = (await server.store.listAudit({ actor: 'system', limit: 1000 })).filter(
      (e) => e.action === 'sesame:ForgetSecrets',
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]?.detail.totpDevices, 1);
    assert.deepEqual(events[0]?.detail.clientSecretsOf, ['okta']);
    assert.deepEqual(events[0]?.detail.usersOfThem, [admin?.id]);
    assert.equal(events[0]?.detail.people, 1);
  } finally {
    await server.close();
  }
});
