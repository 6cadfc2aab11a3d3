import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import type { Forgotten, Rotated, SealedAtOpen } from './sealed-columns.ts';
import { createSecretBox } from './secret-box.ts';
import { SesameStoreError } from './store-error.ts';
import { identityProvider, mfaDevice, newUser, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import { TEST_SECRETS } from './test-secrets.ts';
import type { IdentityProviderRecord, MfaDevice, Store } from './types.ts';

const targets = await storeTargets();

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const CLIENT_SECRET = 'oidc-client-secret-0123456789';

const totp = (overrides: Partial<MfaDevice> = {}) => mfaDevice({ secret: SECRET, ...overrides });

const provider = (overrides: Partial<IdentityProviderRecord> = {}) =>
  identityProvider({
    config: { issuer: 'https://idp.example', clientId: 'sesame', clientSecret: CLIENT_SECRET },
    ...overrides,
  });

for (const target of targets) {
  describe(`secrets sealed at rest (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    const others: Store[] = [];
    beforeEach(async () => {
      store = await target.fresh();
      await store.createUser(newUser());
    });
    afterEach(async () => {
      await store.close();
      for (const other of others.splice(0)) await other.close();
    });
    after(() => target.dispose());

    const rawSecret = async (id = 'mfa-1') =>
      String((await target.sql('select secret from mfa_devices where id = ?', [id]))[0]?.secret);
    const rawConfig = async (id = 'okta') =>
      JSON.parse(
        String((await target.sql('select config from identity_providers where id = ?', [id]))[0]?.config),
      );

    test('a TOTP secret is stored sealed, bound to its device, and read back in the clear', async () => {
      await store.createMfaDevice(totp());
      const raw = await rawSecret();
      assert.match(raw, /^sealed:v1:[0-9a-f]{16}:/);
      assert.ok(!raw.includes(SECRET), 'the column does not hold the secret');
      assert.equal((await store.listMfaDevices('u-alice'))[0]?.secret, SECRET);
      await store.createMfaDevice(totp({ id: 'mfa-2' }));
      assert.notEqual(await rawSecret('mfa-2'), raw, 'the same secret seals differently each time');
      const key = (await store.listMfaDevices('u-alice')).map((d) => d.secret);
      assert.deepEqual(key, [SECRET, SECRET]);
      const webauthn = totp({
        id: 'mfa-3',
        kind: 'webauthn',
        secret: null,
        credentialId: 'c',
        publicKey: 'p',
      });
      await store.createMfaDevice(webauthn);
      assert.equal((await store.getMfaDeviceByCredentialId('c'))?.secret, null);
    });

    test('an OIDC client secret is stored sealed in the provider config, on create and on update', async () => {
      await store.createIdentityProvider(provider());
      const raw = await rawConfig();
      assert.match(raw.clientSecret, /^sealed:v1:/);
      assert.equal(raw.issuer, 'https://idp.example', 'the rest of the config is as given');
      assert.equal((await store.getIdentityProvider('okta'))?.config.clientSecret, CLIENT_SECRET);
      const config = { issuer: 'https://idp.example', clientId: 'sesame', clientSecret: 'new-secret' };
      await store.updateIdentityProvider('okta', { config, updatedAt: T0 + 1 });
      assert.match((await rawConfig()).clientSecret, /^sealed:v1:/);
      assert.equal((await store.listIdentityProviders())[0]?.config.clientSecret, 'new-secret');
      const publicClient = provider({ id: 'pub', config: { issuer: 'https://idp.example', clientId: 'x' } });
      await store.createIdentityProvider(publicClient);
      assert.deepEqual(await rawConfig('pub'), publicClient.config);
    });

    test('secrets an earlier version stored in the clear are sealed when a store opens', async () => {
      await store.createMfaDevice(totp());
      await store.createIdentityProvider(provider());
      await target.sql('update mfa_devices set secret = ? where id = ?', [SECRET, 'mfa-1']);
      const config = JSON.stringify(provider().config);
      await target.sql('update identity_providers set config = ? where id = ?', [config, 'okta']);
      let told: SealedAtOpen | undefined;
      const reopened = await target.reopen({ onSealed: (sealed) => (told = sealed) });
      others.push(reopened);
      assert.deepEqual(told, { totpSecrets: 1, clientSecrets: 1 });
      assert.match(await rawSecret(), /^sealed:v1:/);
      assert.match((await rawConfig()).clientSecret, /^sealed:v1:/);
      assert.equal((await reopened.listMfaDevices('u-alice'))[0]?.secret, SECRET);
      assert.equal((await reopened.getIdentityProvider('okta'))?.config.clientSecret, CLIENT_SECRET);
      told = undefined;
      others.push(await target.reopen({ onSealed: (sealed) => (told = sealed) }));
      assert.equal(told, undefined, 'nothing left to seal');
    });

    test('a store with another secrets key is refused, and the sealed secrets stay as they were', async () => {
      await store.createMfaDevice(totp());
      const before = await rawSecret();
      const other = createSecretBox(Buffer.alloc(32, 9));
      await assert.rejects(target.reopen({ secrets: other }), (error: Error) => {
        assert.ok(error instanceof SesameStoreError);
        assert.match(error.message, /sealed with another secrets key/);
        assert.match(
          error.message,
          new RegExp(`key id ${TEST_SECRETS.keyId}; this server's key is ${other.keyId}`),
        );
        assert.match(error.message, /SESAME_SECRETS_KEY/);
        return true;
      });
      assert.equal(await rawSecret(), before);
      others.push(await target.reopen());
    });

    test('a sealed secret moved to another row or changed does not open: that device only, saying why', async () => {
      await store.createMfaDevice(totp());
      await store.createMfaDevice(totp({ id: 'mfa-2', secret: 'GEZDGNBVGY3TQOJQ' }));
      await store.createMfaDevice(
        totp({ id: 'mfa-3', kind: 'webauthn', secret: null, credentialId: 'c', publicKey: 'p' }),
      );
      const problemOf = async (id: string) => {
        const devices = await store.listMfaDevices('u-alice');
        assert.equal(devices.length, 3, 'the listing still works');
        assert.equal(devices.find((d) => d.id === 'mfa-1')?.secret, SECRET, 'the other devices too');
        const device = devices.find((d) => d.id === id);
        assert.equal(device?.secret, null);
        return String(device?.secretProblem);
      };
      await target.sql('update mfa_devices set secret = ? where id = ?', [await rawSecret('mfa-1'), 'mfa-2']);
      assert.match(
        await problemOf('mfa-2'),
        /^mfa_devices\.secret of device mfa-2 does not open .*moved from another row/,
      );
      const raw = await rawSecret('mfa-1');
      const flipped = `${raw.slice(0, -2)}${raw.endsWith('A') ? 'B' : 'A'}${raw.slice(-1)}`;
      await target.sql('update mfa_devices set secret = ? where id = ?', [flipped, 'mfa-2']);
      assert.match(await problemOf('mfa-2'), /changed or damaged/);
      await target.sql('update mfa_devices set secret = ? where id = ?', ['sealed:v1:nonsense', 'mfa-2']);
      assert.match(await problemOf('mfa-2'), /mfa-2 is not a sealed value/);
    });

    test('a client secret is bound to its issuer and client: moved to another issuer, it is not handed out', async () => {
      await store.createIdentityProvider(provider());
      const moved = { ...(await rawConfig()), issuer: 'https://attacker.example' };
      await target.sql('update identity_providers set config = ? where id = ?', [
        JSON.stringify(moved),
        'okta',
      ]);
      const read = await store.getIdentityProvider('okta');
      assert.equal(read?.config.clientSecret, undefined, 'not handed out');
      assert.equal(read?.config.issuer, 'https://attacker.example');
      assert.match(
        String(read?.secretProblem),
        /clientSecret of provider okta for \["https:\/\/attacker\.example","sesame"\] does not open/,
      );
    });

    test('another key is refused before anything is sealed: secrets in the clear stay in the clear', async () => {
      await store.createMfaDevice(totp());
      await target.sql('update mfa_devices set secret = ? where id = ?', [SECRET, 'mfa-1']);
      await assert.rejects(
        target.reopen({ secrets: createSecretBox(Buffer.alloc(32, 9)) }),
        /another secrets key/,
      );
      assert.equal(await rawSecret(), SECRET, 'not sealed with a key the database does not take');
      others.push(await target.reopen());
      assert.match(await rawSecret(), /^sealed:v1:/);
    });

    test('forgetting another key removes what it sealed, disables those providers, and takes the new key', async () => {
      await store.createUser(newUser({ id: 'u-bob', username: 'bob' }));
      await store.createMfaDevice(totp());
      await store.createMfaDevice(totp({ id: 'mfa-2', userId: 'u-bob' }));
      await store.createMfaDevice(
        totp({ id: 'mfa-3', kind: 'webauthn', secret: null, credentialId: 'c', publicKey: 'p' }),
      );
      await store.createIdentityProvider(provider());
      await store.createIdentityProvider(
        provider({ id: 'pub', config: { issuer: 'https://idp.example', clientId: 'x' } }),
      );
      await target.sql('update mfa_devices set secret = ? where id = ?', ['JBSWY3DP', 'mfa-3']); // in the clear
      await store.createMfaDevice(totp({ id: 'mfa-4', userId: 'u-bob' }));
      const ofThirdKey = createSecretBox(Buffer.alloc(32, 4)).seal(
        SECRET,
        'mfa_devices.secret of device mfa-4',
      );
      await target.sql('update mfa_devices set secret = ? where id = ?', [ofThirdKey, 'mfa-4']);
      const newKey = createSecretBox(Buffer.alloc(32, 9));
      const forgetting = (lostKeyId: string) => {
        const told: Forgotten[] = [];
        const request = { lostKeyId, done: (f: Forgotten) => told.push(f) };
        return { told, open: () => target.reopen({ secrets: newKey, forgetSecretsOfAnotherKey: request }) };
      };
      const wrongId = forgetting(newKey.keyId);
      await assert.rejects(
        wrongId.open(),
        new RegExp(
          `nothing was forgotten: .* sealed with the key whose id is ${TEST_SECRETS.keyId}, not ${newKey.keyId}`,
        ),
      );
      assert.equal((await store.listMfaDevices('u-alice')).length, 2, 'a wrong id forgets nothing');
      const right = forgetting(TEST_SECRETS.keyId);
      const reopened = await right.open();
      others.push(reopened);
      assert.deepEqual(right.told, [
        { totpDevices: 2, usersOfThem: ['u-alice', 'u-bob'], clientSecretsOf: ['okta'], keptOfOtherKeys: 1 },
      ]);
      assert.equal(await rawSecret('mfa-4'), ofThirdKey, 'a secret of a third key is kept as it is');
      assert.deepEqual(
        (await reopened.listMfaDevices('u-alice')).map((d) => [d.id, d.secret]),
        [['mfa-3', 'JBSWY3DP']],
        'the device the lost key sealed is gone; one in the clear is kept, sealed with the new key',
      );
      assert.match(await rawSecret('mfa-3'), new RegExp(`^sealed:v1:${newKey.keyId}:`));
      const okta = await reopened.getIdentityProvider('okta');
      assert.equal(okta?.enabled, false);
      assert.equal(okta?.config.clientSecret, undefined);
      assert.equal((await reopened.getIdentityProvider('pub'))?.enabled, true);
      others.push(await target.reopen({ secrets: newKey }));
      await assert.rejects(target.reopen(), /another secrets key/, 'the lost key no longer opens it');
    });

    test('rotating the key seals every secret again under the new one, in one go; the old key no longer opens it', async () => {
      await store.createMfaDevice(totp());
      await store.createMfaDevice(totp({ id: 'mfa-2' }));
      await store.createIdentityProvider(provider());
      const ofThirdKey = createSecretBox(Buffer.alloc(32, 4)).seal(
        SECRET,
        'mfa_devices.secret of device mfa-2',
      );
      await target.sql('update mfa_devices set secret = ? where id = ?', [ofThirdKey, 'mfa-2']);
      const newKey = createSecretBox(Buffer.alloc(32, 8));
      const told: Rotated[] = [];
      const rotated = await target.reopen({ rotateSecretsTo: { to: newKey, done: (r) => told.push(r) } });
      others.push(rotated);
      assert.deepEqual(told, [{ totpSecrets: 1, clientSecrets: 1, kept: 1 }]);
      assert.match(await rawSecret(), new RegExp(`^sealed:v1:${newKey.keyId}:`));
      assert.match((await rawConfig()).clientSecret, new RegExp(`^sealed:v1:${newKey.keyId}:`));
      assert.equal(await rawSecret('mfa-2'), ofThirdKey, 'what did not open is kept as it was');
      assert.equal((await rotated.listMfaDevices('u-alice')).find((d) => d.id === 'mfa-1')?.secret, SECRET);
      assert.equal((await rotated.getIdentityProvider('okta'))?.config.clientSecret, CLIENT_SECRET);
      await assert.rejects(
        target.reopen(),
        new RegExp(`key id ${newKey.keyId}; this server's key is ${TEST_SECRETS.keyId}`),
      );
      others.push(await target.reopen({ secrets: newKey }));
    });

    test('a check value forged with another key cannot direct forgetting at the secrets of the key in use', async () => {
      await store.createMfaDevice(totp());
      await store.createIdentityProvider(provider());
      const forger = createSecretBox(Buffer.alloc(32, 6));
      const forged = JSON.stringify(forger.seal('sesame secrets key check', 'settings.secretsKeyCheck'));
      await target.sql("update settings set value = ? where key = 'secretsKeyCheck'", [forged]);
      await assert.rejects(target.reopen(), new RegExp(`--lost-key-id ${forger.keyId}`));
      const told: Forgotten[] = [];
      const request = { lostKeyId: forger.keyId, done: (f: Forgotten) => told.push(f) };
      others.push(
        await target.reopen({
          secrets: createSecretBox(Buffer.alloc(32, 9)),
          forgetSecretsOfAnotherKey: request,
        }),
      );
      assert.deepEqual(told, [{ totpDevices: 0, usersOfThem: [], clientSecretsOf: [], keptOfOtherKeys: 2 }]);
      assert.match(await rawSecret(), new RegExp(`^sealed:v1:${TEST_SECRETS.keyId}:`), 'kept as it was');
      assert.match((await rawConfig()).clientSecret, new RegExp(`^sealed:v1:${TEST_SECRETS.keyId}:`));
    });

    test('forgetting keeps what the key in use opens: a damaged check value loses no secret sealed with it', async () => {
      await store.createMfaDevice(totp());
      await store.createIdentityProvider(provider());
      await target.sql("update settings set value = ? where key = 'secretsKeyCheck'", ['"not sealed"']);
      await assert.rejects(
        target.reopen(),
        /settings\.secretsKeyCheck is not a sealed value.*--lost-key-id damaged/,
      );
      const told: Forgotten[] = [];
      const request = { lostKeyId: 'damaged', done: (f: Forgotten) => told.push(f) };
      others.push(await target.reopen({ forgetSecretsOfAnotherKey: request }));
      assert.deepEqual(told, [{ totpDevices: 0, usersOfThem: [], clientSecretsOf: [], keptOfOtherKeys: 0 }]);
      const reopened = await target.reopen();
      others.push(reopened);
      assert.equal((await reopened.listMfaDevices('u-alice'))[0]?.secret, SECRET);
      assert.equal((await reopened.getIdentityProvider('okta'))?.config.clientSecret, CLIENT_SECRET);
    });
  });
}
