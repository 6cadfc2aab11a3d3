// An OIDC provider whose stored client secret no longer opens (changed in the database): that provider cannot be
// used until an administrator gives the secret again, while the sign-in page, the other providers and the
// administration of this one (disable, new secret) still work.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

const withDatabase = <T>(use: (db: Database.Database) => T): T => {
  const db = new Database(join(ts.server.config.dataDir, 'sesame.db'));
  try {
    return use(db);
  } finally {
    db.close();
  }
};
/** A provider's config as stored. */
const rawConfigOf = (id: string): Record<string, unknown> =>
  withDatabase((db) =>
    JSON.parse(
      (db.prepare('select config from identity_providers where id = ?').get(id) as { config: string }).config,
    ),
  );

const provider = (id: string, clientSecret: string) => ({
  id,
  kind: 'oidc',
  name: id,
  config: { issuer: `https://${id}.example`, clientId: 'sesame', clientSecret },
});

test('a provider whose sealed client secret does not open is unusable on its own, and repaired by giving it again', async () => {
  const admin = { token: ts.adminToken };
  for (const [id, secret] of [
    ['okta', 'secret-1'],
    ['entra', 'secret-2'],
  ] as const) {
    const made = await ts.api('POST', '/api/v1/identity-providers', { ...admin, json: provider(id, secret) });
    assert.equal(made.status, 200, made.text);
  }
  // entra's sealed secret put into okta's config: well formed, but bound to another provider and issuer.
  const damagedSecret = rawConfigOf('entra').clientSecret;
  withDatabase((db) =>
    db
      .prepare('update identity_providers set config = ? where id = ?')
      .run(JSON.stringify({ ...rawConfigOf('okta'), clientSecret: damagedSecret }), 'okta'),
  );
  const options = await ts.api('GET', '/api/v1/auth/options');
  assert.equal(options.status, 200, 'the sign-in page still works');
  const buttons = (response: typeof options) =>
    (response.body.providers as { id: string }[]).map((p) => p.id);
  assert.deepEqual(buttons(options), ['entra'], 'with no button that can only fail');
  const listed = await ts.api('GET', '/api/v1/identity-providers', admin);
  const shown = Object.fromEntries(
    (listed.body.providers as { id: string; config: { clientSecret?: string } }[]).map((p) => [
      p.id,
      p.config.clientSecret,
    ]),
  );
  assert.deepEqual(shown, { entra: '(set)', okta: '(damaged: give it again)' });
  const start = await fetch(`${ts.url}/sso/okta/start`, { redirect: 'manual' });
  assert.equal(start.status, 303);
  const failure = ts.logs.filter((line) =>
    line.includes('cannot be used now: its stored client secret is damaged'),
  );
  assert.equal(failure.length, 1, 'the reason is in the log');

  const keep = { name: 'okta', config: { issuer: 'https://okta.example', clientId: 'sesame' } };
  assertError(
    await ts.api('PUT', '/api/v1/identity-providers/okta', { ...admin, json: keep }),
    400,
    'INVALID',
    /clientSecret: the stored one is damaged and cannot be kept: give it again/,
  );
  const disabled = await ts.api('PUT', '/api/v1/identity-providers/okta', {
    ...admin,
    json: { enabled: false },
  });
  assert.equal(disabled.status, 200, disabled.text);
  // Disabling leaves the stored config as it was: the damage stays visible, never quietly turned into a public client.
  assert.equal(rawConfigOf('okta').clientSecret, damagedSecret);
  assert.match(JSON.stringify(disabled.body), /\(damaged: give it again\)/);
  const repaired = await ts.api('PUT', '/api/v1/identity-providers/okta', {
    ...admin,
    json: { enabled: true, config: { ...keep.config, clientSecret: 'secret-3' } },
  });
  assert.equal(repaired.status, 200, repaired.text);
  assert.match(JSON.stringify(repaired.body), /"clientSecret":"\(set\)"/);
  assert.deepEqual(buttons(await ts.api('GET', '/api/v1/auth/options')), ['entra', 'okta']);
  assert.equal((await ts.server.store.getIdentityProvider('okta'))?.config.clientSecret, 'secret-3');
  const after = await ts.api('GET', '/api/v1/identity-providers', admin);
  const okta = (after.body.providers as { id: string; config: { clientSecret?: string } }[]).find(
    (p) => p.id === 'okta',
  );
  assert.equal(okta?.config.clientSecret, '(set)');
});
