// `sesame-server rotate-secrets-key`: every secret sealed again under a new key; a rotation cut short loses nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createServer } from './main.ts';
import { secretsKeyId } from './store/secret-box.ts';
import { identityProvider } from './store/store-test-fixtures.ts';
import { startTestServer } from './test-server.ts';

const bin = join(import.meta.dirname, '../bin/sesame-server.js');
const scratch = mkdtempSync(join(tmpdir(), 'sesame-rotate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const log = createLogger({ level: 'silent' });

const serverCommand = (dataDir: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, 'rotate-secrets-key'], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent', ...env },
  });
const keyIdIn = (file: string) => secretsKeyId(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));

test('rotate-secrets-key seals everything again under a new secrets.key; a rotation cut short says how to finish it', async () => {
  const ts = await startTestServer(); // admin has an authenticator app
  const dataDir = ts.server.config.dataDir;
  const admin = await ts.server.store.getUserByUsername('admin');
  const appSecret = String(ts.totpSecrets.get('admin'));
  await ts.server.store.createIdentityProvider(identityProvider());
  const running = serverCommand(dataDir);
  assert.equal(running.status, 1);
  assert.match(running.stderr, /another Sesame server is using the data directory/);
  await ts.server.close();
  const keyFile = join(dataDir, 'secrets.key');
  const oldId = keyIdIn(keyFile);
  renameSync(keyFile, `${keyFile}.away`);
  const noKey = serverCommand(dataDir);
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /there is no secrets key to rotate: .*secrets\.key is missing/);
  assert.equal(existsSync(join(dataDir, 'secrets.key.next')), false);
  renameSync(`${keyFile}.away`, keyFile);
  const oldText = readFileSync(keyFile, 'utf8');

  const done = serverCommand(dataDir);
  assert.equal(done.status, 0, done.stderr);
  const newId = keyIdIn(keyFile);
  assert.notEqual(newId, oldId);
  assert.equal(
    done.stdout,
    `Sealed 1 authenticator app secret(s) and 1 client secret(s) again under the key with id ${newId} (${keyFile}); the key with id ${oldId} no longer opens them.\n` +
      'Backups of the database made before now need the old key to open their secrets.\n',
  );
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(existsSync(join(dataDir, 'secrets.key.next')), false);

  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' });
  const server = await createServer(config, log);
  try {
    assert.equal((await server.store.listMfaDevices(String(admin?.id)))[0]?.secret, appSecret);
    assert.equal((await server.store.getIdentityProvider('okta'))?.config.clientSecret, 'client-secret-1');
    const events = (await server.store.listAudit({ actor: 'system', limit: 100 })).filter(
      (e) => e.action === 'sesame:RotateSecretsKey',
    );
    assert.deepEqual(
      events.map((e) => [e.detail.from, e.detail.to, e.detail.totpSecrets, e.detail.clientSecrets]),
      [[oldId, newId, 1, 1]],
    );
  } finally {
    await server.close();
  }

  // Cut short after the database took the new key, before the rename: the old key in secrets.key, the new in .next.
  copyFileSync(keyFile, join(dataDir, 'secrets.key.next'));
  writeFileSync(keyFile, oldText, { mode: 0o600 });
  await assert.rejects(
    createServer(config, log),
    /a key rotation was cut short after the database took the new key, which is .*secrets\.key\.next: move it to .*secrets\.key/,
  );
  const again = serverCommand(dataDir);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /secrets\.key\.next is there from a rotation cut short/);
  renameSync(join(dataDir, 'secrets.key.next'), keyFile);
  const finished = await createServer(config, log);
  await finished.close();
});

test('with the key in SESAME_SECRETS_KEY, the new one comes from SESAME_NEW_SECRETS_KEY and no key file is written', async () => {
  const dataDir = join(scratch, 'env');
  const oldKey = Buffer.alloc(32, 1).toString('base64');
  const newKey = Buffer.alloc(32, 2).toString('hex');
  const configWith = (key: string) =>
    loadConfig({
      SESAME_DATA_DIR: dataDir,
      SESAME_PORT: '0',
      SESAME_LOG_LEVEL: 'silent',
      SESAME_SECRETS_KEY: key,
    });
  await (await createServer(configWith(oldKey), log)).close();
  const missing = serverCommand(dataDir, { SESAME_SECRETS_KEY: oldKey });
  assert.equal(missing.status, 1);
  assert.match(
    missing.stderr,
    /the key in use is SESAME_SECRETS_KEY: give the new key in SESAME_NEW_SECRETS_KEY/,
  );
  const same = serverCommand(dataDir, { SESAME_SECRETS_KEY: oldKey, SESAME_NEW_SECRETS_KEY: oldKey });
  assert.match(same.stderr, /the new key is the key in use .*nothing to rotate/);
  const bad = serverCommand(dataDir, { SESAME_SECRETS_KEY: oldKey, SESAME_NEW_SECRETS_KEY: 'hunter2' });
  assert.match(bad.stderr, /SESAME_NEW_SECRETS_KEY must be 32 random bytes/);
  assert.ok(!bad.stderr.includes('hunter2'));
  const done = serverCommand(dataDir, { SESAME_SECRETS_KEY: oldKey, SESAME_NEW_SECRETS_KEY: newKey });
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /Start every server with SESAME_SECRETS_KEY set to that key/);
  assert.equal(existsSync(join(dataDir, 'secrets.key')), false);
  await assert.rejects(createServer(configWith(oldKey), log), /sealed with another secrets key/);
  await (await createServer(configWith(newKey), log)).close();
});

test('a rotation that fails inside its transaction changes nothing and leaves no new key behind', async () => {
  const ts = await startTestServer();
  const dataDir = ts.server.config.dataDir;
  const admin = await ts.server.store.getUserByUsername('admin');
  const appSecret = String(ts.totpSecrets.get('admin'));
  await ts.server.close();
  const keyFile = join(dataDir, 'secrets.key');
  const oldText = readFileSync(keyFile, 'utf8');
  const db = new Database(join(dataDir, 'sesame.db'));
  const sealedBefore = (db.prepare('select secret from mfa_devices').get() as { secret: string }).secret;
  // The check value is written last: failing there proves the devices re-sealed before it are rolled back.
  db.exec(
    "create trigger no_rotation before update on settings when new.key = 'secretsKeyCheck' begin select raise(abort, 'refused by a test trigger'); end",
  );
  db.close();
  const failed = serverCommand(dataDir);
  assert.equal(failed.status, 1);
  assert.match(
    failed.stderr,
    /the rotation failed and the database kept the key in use: .*refused by a test trigger/,
  );
  assert.equal(existsSync(join(dataDir, 'secrets.key.next')), false);
  assert.equal(readFileSync(keyFile, 'utf8'), oldText);
  const after = new Database(join(dataDir, 'sesame.db'));
  assert.equal(
    (after.prepare('select secret from mfa_devices').get() as { secret: string }).secret,
    sealedBefore,
  );
  after.exec('drop trigger no_rotation');
  after.close();
  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' });
  const server = await createServer(config, log);
  try {
    assert.equal((await server.store.listMfaDevices(String(admin?.id)))[0]?.secret, appSecret);
  } finally {
    await server.close();
  }
});
