// A start after a run that stopped mid-session (killed, or the machine went down), and a start that cannot serve.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { selfSignedCertificate } from '../../../test/certificates.ts';
import { loadConfig } from './config.ts';
import { SesameError } from './errors.ts';
import { createLogger } from './log.ts';
import { createServer } from './main.ts';
import { mfaDevice, newUser, session } from './store/store-test-fixtures.ts';
import { openDataDirectoryStore } from './store/test-secrets.ts';

const root = mkdtempSync(join(tmpdir(), 'sesame-restart-'));
after(() => rmSync(root, { recursive: true, force: true }));
const log = createLogger({ level: 'silent' });
const configFor = (dataDir: string, file?: Record<string, unknown>) =>
  loadConfig(
    { SESAME_DATA_DIR: dataDir, SESAME_PORT: '0' },
    file ? { path: 'sesame.json', text: JSON.stringify(file) } : undefined,
  );

test("a session the last run left open ends at its recording's last event, not at the restart", async () => {
  const dataDir = join(root, 'dangling');
  mkdirSync(join(dataDir, 'recordings'), { recursive: true, mode: 0o700 });
  const startedAt = Date.now() - 3 * 3_600_000; // three hours before this restart
  const recordingKey = 'recordings/alice-0123456789abcdef0.cast';
  writeFileSync(
    join(dataDir, recordingKey),
    `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: Math.floor(startedAt / 1000) })}\n` +
      '[0.5,"i","ls\\r"]\n[1.25,"o","a  b\\r\\n"]\n[6.5,"o","$ "]\n[6.9,"o","cut sho',
  );
  const store = await openDataDirectoryStore(dataDir);
  await store.createSession(
    session({ state: 'Connected', startedAt, endedAt: null, reason: null, recordingKey }),
  );
  await store.close();

  const restartedAt = Date.now();
  const server = await createServer(configFor(dataDir), log);
  try {
    const ended = await server.store.getSession('alice-0123456789abcdef0');
    assert.equal(ended?.state, 'Terminated');
    assert.equal(ended?.reason, 'the server restarted');
    assert.equal(ended?.endedAt, startedAt + 6500, 'the last whole event, 6.5 s in');
    const event = (await server.store.listAudit({})).find((e) => e.action === 'sesame:SessionEnded');
    assert.equal(event?.time, startedAt + 6500);
    assert.equal(event?.outcome, 'failed');
    assert.ok(Date.parse(String(event?.detail.foundAt)) >= restartedAt - 1000, 'when the restart found it');
    assert.match(
      readFileSync(join(dataDir, recordingKey), 'utf8'),
      /\n\[6\.5,"m","session ended: the server restarted/,
    );
  } finally {
    await server.close();
  }
});

test('a certificate file that cannot be read stops the start before the data directory is touched', async () => {
  const dataDir = join(root, 'no-cert');
  await assert.rejects(
    createServer(
      configFor(dataDir, { tls: { certFile: join(root, 'nope.pem'), keyFile: join(root, 'nope.key') } }),
      log,
    ),
    (error) => {
      assert.ok(error instanceof SesameError);
      assert.equal(error.code, 'INVALID');
      assert.match(
        error.message,
        /^cannot read tls\.certFile .*nope\.pem \(ENOENT\): check the path in the config$/,
      );
      return true;
    },
  );
  assert.equal(existsSync(dataDir), false, 'no data directory, no database, no session ended');
});

test("a certificate that is not one, or a key that is not the certificate's, is refused at start", async () => {
  const dataDir = join(root, 'wrong-key');
  const garbage = join(root, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const one = selfSignedCertificate(mkdtempSync(join(root, 'one-')));
  const other = selfSignedCertificate(mkdtempSync(join(root, 'other-')));
  await assert.rejects(
    createServer(configFor(dataDir, { tls: { certFile: garbage, keyFile: one.keyFile } }), log),
    /^SesameError: tls\.certFile .*garbage\.pem is not a certificate in PEM or DER form/,
  );
  await assert.rejects(
    createServer(configFor(dataDir, { tls: { certFile: one.certFile, keyFile: other.keyFile } }), log),
    /^SesameError: tls\.keyFile .*other-.*key\.pem cannot be used with the certificate in tls\.certFile: it must be that certificate's private key/,
  );
  assert.equal(existsSync(dataDir), false);
});

test('the first start makes the secrets key; a restart opens what it sealed; another key is refused', async () => {
  const dataDir = join(root, 'secrets');
  const first = await createServer(configFor(dataDir), log);
  const device = mfaDevice({ createdAt: Date.now() });
  try {
    await first.store.createUser(newUser());
    await first.store.createMfaDevice(device);
  } finally {
    await first.close();
  }
  assert.equal(statSync(join(dataDir, 'secrets.key')).mode & 0o777, 0o600);
  const raw = new Database(join(dataDir, 'sesame.db'), { readonly: true });
  const row = raw.prepare('select secret from mfa_devices').get() as { secret: string };
  raw.close();
  assert.match(row.secret, /^sealed:v1:/);

  const second = await createServer(configFor(dataDir), log);
  try {
    assert.equal((await second.store.listMfaDevices(device.userId))[0]?.secret, 'JBSWY3DPEHPK3PXP');
  } finally {
    await second.close();
  }
  const otherKey = Buffer.alloc(32, 3).toString('base64');
  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_SECRETS_KEY: otherKey });
  await assert.rejects(createServer(config, log), (error: Error) => {
    assert.match(error.message, /this database's secrets .* were sealed with another secrets key/);
    assert.ok(!error.message.includes(otherKey));
    return true;
  });
  const third = await createServer(configFor(dataDir), log); // the refused start let the directory go
  await third.close();
});
