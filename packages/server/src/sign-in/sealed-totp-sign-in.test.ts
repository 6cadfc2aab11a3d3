// An authenticator app whose stored secret no longer opens (changed in the database) is no way in: it is logged at
// sign-in and shown as unusable, the person's other apps still work, and with none left the sign-in is refused
// (never offered to register a new device on the strength of the password alone).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { mfaDevice } from '../store/store-test-fixtures.ts';
import { ADMIN_PASSWORD, assertError, startTestServer, type TestServer } from '../test-server.ts';
import { totpAt } from './totp.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

const SPARE = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

test('a TOTP device whose sealed secret does not open is refused and logged, without the secret; none left: refused', async () => {
  const { id } = await ts.createUser('dana');
  const secret = String(ts.totpSecrets.get('dana'));
  await ts.server.store.createMfaDevice(
    mfaDevice({ id: 'mfa-spare', userId: id, secret: SPARE, name: 'spare' }),
  );
  const db = new Database(join(ts.server.config.dataDir, 'sesame.db'));
  // Another device's sealed secret, copied over: well formed, but bound to another row.
  const damage = (deviceId: string) =>
    db
      .prepare(
        'update mfa_devices set secret = (select secret from mfa_devices where user_id != ? limit 1) where id = ?',
      )
      .run(id, deviceId);
  try {
    const [app] = (await ts.server.store.listMfaDevices(id)).filter((d) => d.id !== 'mfa-spare');
    damage(String(app?.id));
    const login = () =>
      ts.api('POST', '/api/v1/auth/login', { json: { username: 'dana', password: ADMIN_PASSWORD } });
    const first = await login();
    assert.equal(first.body.status, 'mfa-required', first.text);
    const withBroken = await ts.api('POST', '/api/v1/auth/mfa', {
      json: { flow: first.body.flow, method: 'totp', code: totpAt(secret, Date.now() / 1000) },
    });
    assert.equal(withBroken.status, 401, withBroken.text);
    const logged = ts.logs.filter((line) => line.includes('its stored secret does not open'));
    assert.equal(logged.length, 1, ts.logs.slice(-5).join('\n'));
    assert.match(String(logged[0]), new RegExp(`mfa_devices\\.secret of device ${app?.id} does not open`));
    assert.ok(
      !ts.logs.some((line) => line.includes(secret) || line.includes(SPARE)),
      'no secret in any log line',
    );
    const second = await login();
    const withSpare = await ts.api('POST', '/api/v1/auth/mfa', {
      json: { flow: second.body.flow, method: 'totp', code: totpAt(SPARE, Date.now() / 1000) },
    });
    assert.equal(withSpare.body.status, 'signed-in', 'the other app still gets in');
    const listed = await ts.api('GET', '/api/v1/users/dana/mfa-devices', { token: ts.adminToken });
    const devices = listed.body.devices as { id: string; unusable?: boolean }[];
    const unusable = Object.fromEntries(devices.map((d) => [d.id, d.unusable ?? false]));
    assert.deepEqual(unusable, { [String(app?.id)]: true, 'mfa-spare': false });

    damage('mfa-spare');
    const none = await login();
    assertError(
      none,
      403,
      'FORBIDDEN',
      /^your authenticator app cannot be used \(its stored secret is damaged\): ask an administrator to reset your MFA devices$/,
    );
  } finally {
    db.close();
  }
});
