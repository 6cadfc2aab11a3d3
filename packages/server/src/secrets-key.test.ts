import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from './config.ts';
import { loadSecretsKey, parseSecretsKey, SECRETS_KEY_FILE } from './secrets-key.ts';
import { secretsKeyId } from './store/secret-box.ts';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sesame-key-'));
  dirs.push(dir);
  return dir;
};
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('secrets key', () => {
  test('is read as 64 hex digits, or as base64 or base64url with or without padding', () => {
    for (const text of [
      KEY.toString('hex'),
      KEY.toString('hex').toUpperCase(),
      KEY.toString('base64'),
      KEY.toString('base64url'),
      `  ${KEY.toString('base64')}\n`,
      KEY.toString('base64').replace(/=$/, ''),
    ])
      assert.deepEqual(parseSecretsKey(text), KEY, text);
  });

  test('anything else is refused with what a key looks like, never with the text', () => {
    const secretish = 'hunter2hunter2hunter2';
    for (const text of [
      secretish,
      KEY.subarray(1).toString('hex'),
      Buffer.concat([KEY, KEY]).toString('base64'),
      `${KEY.toString('base64')}==`,
      `${KEY.toString('hex').slice(1)}g`,
      '',
    ]) {
      const result = parseSecretsKey(text);
      assert.ok(!Buffer.isBuffer(result), text);
      assert.match(
        result.problem,
        /must be 32 random bytes as 64 hex digits or base64 .*characters, not shown/,
      );
      if (text) assert.ok(!result.problem.includes(text));
    }
  });

  test('SESAME_SECRETS_KEY is checked when the config loads, and never shown', () => {
    const config = loadConfig({ SESAME_SECRETS_KEY: KEY.toString('base64') });
    assert.equal(config.secretsKey, KEY.toString('base64'));
    assert.throws(
      () => loadConfig({ SESAME_SECRETS_KEY: 'hunter2-is-not-a-key' }),
      (error: Error) =>
        /environment variable SESAME_SECRETS_KEY: secretsKey must be 32 random bytes/.test(error.message) &&
        !error.message.includes('hunter2'),
    );
    assert.throws(
      () => loadConfig({}, { path: 'sesame.json', text: '{"secretsKey": 42}' }),
      /config file sesame.json: secretsKey must be a non-empty string \(got a number, not shown\)/,
    );
  });

  test('without SESAME_SECRETS_KEY the first start makes one in the data directory, private, and keeps it', async () => {
    const dataDir = await tempDir();
    const first = await loadSecretsKey({ configured: undefined, dataDir, create: true });
    const path = join(dataDir, SECRETS_KEY_FILE);
    assert.equal(first.source, path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const text = await readFile(path, 'utf8');
    assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal(first.box.keyId, secretsKeyId(Buffer.from(text.trim(), 'base64')));
    const again = await loadSecretsKey({ configured: undefined, dataDir, create: true });
    assert.equal(again.box.keyId, first.box.keyId);
    assert.equal(await readFile(path, 'utf8'), text, 'the file is not replaced');
    const other = await loadSecretsKey({ configured: undefined, dataDir: await tempDir(), create: true });
    assert.notEqual(other.box.keyId, first.box.keyId, 'each new data directory gets a key of its own');
  });

  test('SESAME_SECRETS_KEY wins over the file, and makes none', async () => {
    const dataDir = await tempDir();
    const key = await loadSecretsKey({ configured: KEY.toString('hex'), dataDir, create: true });
    assert.equal(key.source, 'SESAME_SECRETS_KEY');
    assert.equal(key.box.keyId, secretsKeyId(KEY));
    await assert.rejects(stat(join(dataDir, SECRETS_KEY_FILE)), { code: 'ENOENT' });
  });

  test('a key file that is damaged, open to others, or missing where it may not be made is refused', async () => {
    const dataDir = await tempDir();
    const path = join(dataDir, SECRETS_KEY_FILE);
    await assert.rejects(
      loadSecretsKey({ configured: undefined, dataDir, create: false }),
      new RegExp(`there is no secrets key: ${path} is missing and SESAME_SECRETS_KEY is not set`),
    );
    await writeFile(path, 'not a key\n', { mode: 0o600 });
    await assert.rejects(
      loadSecretsKey({ configured: undefined, dataDir, create: true }),
      (error: Error) =>
        error.message.startsWith(`the secrets key ${path} must be 32 random bytes`) &&
        !error.message.includes('not a key'),
    );
    await writeFile(path, `${KEY.toString('base64')}\n`);
    await chmod(path, 0o640);
    await assert.rejects(
      loadSecretsKey({ configured: undefined, dataDir, create: true }),
      new RegExp(`the secrets key ${path} is open to other users \\(mode 640\\): run \`chmod 600 ${path}\``),
    );
    await chmod(path, 0o600);
    assert.equal(
      (await loadSecretsKey({ configured: undefined, dataDir, create: true })).box.keyId,
      secretsKeyId(KEY),
    );
    // A link to nowhere is neither read nor written through.
    const linked = await tempDir();
    await symlink(join(linked, 'elsewhere.key'), join(linked, SECRETS_KEY_FILE));
    await assert.rejects(
      loadSecretsKey({ configured: undefined, dataDir: linked, create: true }),
      /cannot make the secrets key .*secrets\.key: something is in its way \(a link to a file that does not exist\?\)/,
    );
    await assert.rejects(stat(join(linked, 'elsewhere.key')), { code: 'ENOENT' });
  });
});
