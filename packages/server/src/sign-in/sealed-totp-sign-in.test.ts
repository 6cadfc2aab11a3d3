// An authenticator app whose stored secret no longer opens (changed in the database): that app's codes are refused
// and the server says why in its log, while the person's other ways in still work.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

test('a TOTP device whose sealed secret does not open refuses its codes and is logged, without the secret', async () => {
  const { id } = await ts.createUser('dana');
  const secret = String(ts.totpSecrets.get('dana'));
  const db = new Database(join(ts.server.config.dataDir, 'sesame.db'));
  try {
    // Another device's sealed secret, copied over dana's: well formed, but bound to another row.
    const other = db.prepare('select secret from mfa_devices where user_id != ? limit 1').get(id) as {
      secret: string;
    };
    db.prepare('update mfa_devices set secret = ? where user_id = ?').run(other.secret, id);
  } finally {
    db.close();
  }
  const login = await ts.api('POST', '/api/v1/auth/login', {
    json: { username: 'dana', password: ADMIN_PASSWORD },
  });
  assert.equal(login.body.status, 'mfa-required', login.text);
  const answer = await ts.api('POST', '/api/v1/auth/mfa', {
    json: { flow: login.body.flow, method: 'totp', code: await ts.totpCode('dana') },
  });
  assert.equal(answer.status, 401, answer.text);
  const logged = ts.logs.filter((line) => line.includes('its stored secret does not open'));
  assert.equal(logged.length, 1, ts.logs.slice(-5).join('\n'));
  assert.match(String(logged[0]), /mfa_devices\.secret of device mfa-[0-9a-f-]+ does not open/);
  assert.ok(!ts.logs.some((line) => line.includes(secret)), 'the secret is in no log line');
  const devices = await ts.api('GET', '/api/v1/me/mfa-devices', { token: ts.adminToken });
  assert.equal(devices.status, 200, 'other people are not touched');
});
