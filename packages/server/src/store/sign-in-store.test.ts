import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { mfaDevice, newUser, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { NewSignInSession, Store } from './types.ts';

const targets = await storeTargets();

const session = (overrides: Partial<NewSignInSession> = {}): NewSignInSession => ({
  id: 'sis-1',
  userId: 'u-alice',
  method: 'password',
  providerId: null,
  mfaAt: T0,
  mfaMethod: 'totp',
  sourceAddress: '192.0.2.1',
  client: 'cli',
  createdAt: T0,
  expiresAt: T0 + 3_600_000,
  revokedAt: null,
  refreshHash: 'r1',
  ...overrides,
});

const totp = mfaDevice;

for (const target of targets) {
  describe(`sign-in state (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
      await store.createUser(newUser());
      await store.createUser(newUser({ id: 'u-bob', username: 'bob' }));
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    test('a token is found with its session in one call; revoking the session deletes its tokens', async () => {
      await store.createSignInSession(session());
      await store.createApiToken({
        tokenHash: 't1',
        userId: 'u-alice',
        createdAt: T0,
        expiresAt: T0 + 900_000,
        sessionId: 'sis-1',
      });
      const found = await store.findTokenSession('t1');
      assert.equal(found?.token.sessionId, 'sis-1');
      assert.deepEqual(found?.session, {
        id: 'sis-1',
        userId: 'u-alice',
        method: 'password',
        providerId: null,
        mfaAt: T0,
        mfaMethod: 'totp',
        sourceAddress: '192.0.2.1',
        client: 'cli',
        createdAt: T0,
        expiresAt: T0 + 3_600_000,
        revokedAt: null,
      });
      assert.equal(await store.revokeSignInSession('sis-1', T0 + 1), true);
      assert.equal(await store.revokeSignInSession('sis-1', T0 + 2), false, 'revoked once');
      assert.equal(await store.findTokenSession('t1'), undefined);
      assert.equal((await store.getSignInSession('sis-1'))?.revokedAt, T0 + 1);
    });

    test('refresh tokens rotate once: the old one is then recognised as reused', async () => {
      await store.createSignInSession(session());
      assert.deepEqual((await store.findRefresh('r1'))?.reused, false);
      assert.equal(await store.rotateRefresh('sis-1', 'r1', 'r2'), true);
      assert.equal(await store.rotateRefresh('sis-1', 'r1', 'r3'), false, 'a second rotation of r1 loses');
      assert.equal((await store.findRefresh('r1'))?.reused, true);
      assert.equal(
        (await store.findRefresh('r1'))?.rotatedTo,
        'r2',
        'the token spent last says what it became',
      );
      assert.equal((await store.findRefresh('r2'))?.reused, false);
      assert.equal(await store.findRefresh('nope'), undefined);
      assert.equal(await store.rotateRefresh('sis-1', 'r2', 'r5'), true);
      assert.equal((await store.findRefresh('r1'))?.rotatedTo, undefined, 'an older spent token does not');
      assert.equal((await store.findRefresh('r2'))?.rotatedTo, 'r5');
      await store.revokeUserSignInSessions('u-alice', T0 + 5);
      assert.equal(await store.rotateRefresh('sis-1', 'r5', 'r4'), false, 'no rotation after revocation');
    });

    test('flows: create, read, update, and take exactly once', async () => {
      const flow = {
        idHash: 'f1',
        kind: 'mfa',
        userId: 'u-alice',
        data: { methods: ['totp'] },
        attempts: 0,
        createdAt: T0,
        expiresAt: T0 + 600_000,
      };
      await store.createFlow(flow);
      assert.deepEqual(await store.getFlow('f1'), flow);
      await store.updateFlow('f1', { attempts: 2, data: { methods: ['totp'], challenge: 'c' } });
      assert.deepEqual(await store.getFlow('f1'), {
        ...flow,
        attempts: 2,
        data: { methods: ['totp'], challenge: 'c' },
      });
      const [a, b] = await Promise.all([store.takeFlow('f1'), store.takeFlow('f1')]);
      assert.equal([a, b].filter(Boolean).length, 1, 'only one taker');
      assert.equal(await store.getFlow('f1'), undefined);
    });

    test('flow data is replaced only if unchanged since it was read (two writers of one read: one wins)', async () => {
      const data = { methods: ['email'], emailSends: 1, nested: { a: [1, 'x'] } };
      await store.createFlow({
        idHash: 'f2',
        kind: 'mfa',
        userId: 'u-alice',
        data,
        attempts: 0,
        createdAt: T0,
        expiresAt: T0 + 600_000,
      });
      const read = (await store.getFlow('f2'))?.data as Record<string, unknown>;
      const results = await Promise.all([
        store.replaceFlowData('f2', read, { ...read, emailSends: 2, by: 'a' }),
        store.replaceFlowData('f2', read, { ...read, emailSends: 2, by: 'b' }),
      ]);
      assert.deepEqual(results.sort(), [false, true]);
      const now = (await store.getFlow('f2'))?.data as Record<string, unknown>;
      assert.equal(now.emailSends, 2);
      assert.equal(await store.replaceFlowData('f2', read, { ...read, emailSends: 9 }), false, 'stale read');
      assert.equal(await store.replaceFlowData('f2', now, { ...now, emailSends: 3 }), true);
      assert.equal(await store.replaceFlowData('nope', now, now), false, 'no such flow');
    });

    test('consumeOnce is true the first time only; expired state is purged', async () => {
      assert.equal(await store.consumeOnce('saml:a1', T0 + 1000), true);
      assert.equal(await store.consumeOnce('saml:a1', T0 + 1000), false);
      await store.createFlow({
        idHash: 'old',
        kind: 'mfa',
        userId: null,
        data: {},
        attempts: 0,
        createdAt: T0,
        expiresAt: T0 + 10,
      });
      await store.purgeExpiredSignInState(T0 + 2000);
      assert.equal(await store.consumeOnce('saml:a1', T0 + 5000), true, 'purged after it expired');
      assert.equal(await store.getFlow('old'), undefined);
    });

    test('TOTP steps are claimed once, in order; concurrent claims of one step: one wins', async () => {
      await store.createMfaDevice(totp());
      const claims = await Promise.all([
        store.claimTotpStep('mfa-1', 100, T0),
        store.claimTotpStep('mfa-1', 100, T0),
      ]);
      assert.deepEqual(claims.toSorted(), [false, true]);
      assert.equal(await store.claimTotpStep('mfa-1', 99, T0), false, 'an older step after a newer one');
      assert.equal(await store.claimTotpStep('mfa-1', 101, T0), true);
      assert.equal((await store.listMfaDevices('u-alice'))[0]?.lastUsedStep, 101);
    });

    test('devices belong to their user: rename and delete by someone else change nothing', async () => {
      await store.createMfaDevice(totp());
      await store.createMfaDevice(
        totp({
          id: 'mfa-2',
          kind: 'webauthn',
          secret: null,
          credentialId: 'cred',
          publicKey: 'pk',
          transports: ['usb'],
        }),
      );
      assert.equal(await store.renameMfaDevice('u-bob', 'mfa-1', 'mine now'), false);
      assert.equal(await store.deleteMfaDevice('u-bob', 'mfa-1'), false);
      assert.equal(await store.renameMfaDevice('u-alice', 'mfa-1', 'work phone'), true);
      assert.equal((await store.getMfaDeviceByCredentialId('cred'))?.transports[0], 'usb');
      await store.setWebAuthnCounter('mfa-2', 7, T0 + 1);
      assert.equal((await store.getMfaDeviceByCredentialId('cred'))?.counter, 7);
      assert.deepEqual(
        (await store.listMfaDevices('u-alice')).map((d) => d.name),
        ['work phone', 'phone'],
      );
      assert.equal(await store.deleteUserMfaDevices('u-alice'), 2);
    });

    test('remembered contexts, throttles and settings round-trip; identity providers are unique by id', async () => {
      await store.rememberSignInContext({
        userId: 'u-alice',
        deviceHash: 'd',
        sourceAddress: '192.0.2.1',
        mfaAt: T0,
        expiresAt: T0 + 10,
      });
      await store.rememberSignInContext({
        userId: 'u-alice',
        deviceHash: 'd',
        sourceAddress: '192.0.2.2',
        mfaAt: T0 + 1,
        expiresAt: T0 + 20,
      });
      assert.deepEqual(await store.getSignInContext('u-alice', 'd'), {
        sourceAddress: '192.0.2.2',
        mfaAt: T0 + 1,
        expiresAt: T0 + 20,
      });
      await store.forgetSignInContexts('u-alice');
      assert.equal(await store.getSignInContext('u-alice', 'd'), undefined);

      // Revoking a sign-in forgets the context of the device it was made on, and only that one.
      for (const deviceHash of ['d', 'e'])
        await store.rememberSignInContext({
          userId: 'u-alice',
          deviceHash,
          sourceAddress: '192.0.2.1',
          mfaAt: T0,
          expiresAt: T0 + 10,
        });
      await store.createSignInSession({ ...session(), id: 'sis-d', refreshHash: null, deviceHash: 'd' });
      await store.createSignInSession({ ...session(), id: 'sis-none', refreshHash: null });
      await store.forgetSignInDevice('sis-none');
      await store.forgetSignInDevice('sis-unknown');
      assert.ok(await store.getSignInContext('u-alice', 'd'), 'a sign-in without a device forgets nothing');
      await store.forgetSignInDevice('sis-d');
      assert.equal(await store.getSignInContext('u-alice', 'd'), undefined);
      assert.ok(await store.getSignInContext('u-alice', 'e'));

      await store.putThrottle({ key: 'user:alice', failures: 1, windowStart: T0, lockedUntil: null });
      await store.putThrottle({ key: 'user:alice', failures: 5, windowStart: T0, lockedUntil: T0 + 900_000 });
      assert.deepEqual(await store.getThrottle('user:alice'), {
        key: 'user:alice',
        failures: 5,
        windowStart: T0,
        lockedUntil: T0 + 900_000,
      });
      // Taking back a failure: the lock that needed it ends; one that did not stays; never below zero.
      await store.releaseThrottleFailure({ key: 'user:alice', limit: 5 });
      assert.deepEqual(await store.getThrottle('user:alice'), {
        key: 'user:alice',
        failures: 4,
        windowStart: T0,
        lockedUntil: null,
      });
      await store.putThrottle({ key: 'user:alice', failures: 7, windowStart: T0, lockedUntil: T0 + 900_000 });
      await store.releaseThrottleFailure({ key: 'user:alice', limit: 5 });
      assert.equal((await store.getThrottle('user:alice'))?.lockedUntil, T0 + 900_000);
      await store.putThrottle({ key: 'user:alice', failures: 0, windowStart: T0, lockedUntil: null });
      await store.releaseThrottleFailure({ key: 'user:alice', limit: 5 });
      await store.releaseThrottleFailure({ key: 'user:nobody', limit: 5 });
      assert.equal((await store.getThrottle('user:alice'))?.failures, 0);
      assert.equal(await store.getThrottle('user:nobody'), undefined);
      await store.clearThrottle('user:alice');
      assert.equal(await store.getThrottle('user:alice'), undefined);
      // With a prefix: that key and the keys under it, and nothing that only LIKE would take for a match.
      const keys = [
        'user:a_ce',
        'user:a_ce|device:x',
        'user:a_ce|device:y',
        'user:alce|device:x',
        'user:a_cel',
      ];
      for (const key of keys)
        await store.putThrottle({ key, failures: 1, windowStart: T0, lockedUntil: null });
      await store.clearThrottle('user:a_ce', 'user:a_ce|device:');
      const left = [];
      for (const key of keys) if (await store.getThrottle(key)) left.push(key);
      assert.deepEqual(left, ['user:alce|device:x', 'user:a_cel']);

      await store.putSetting('mfa', { prompt: 'always' }, T0);
      await store.putSetting('mfa', { prompt: 'context-change' }, T0 + 1);
      assert.deepEqual(await store.getSetting('mfa'), { prompt: 'context-change' });

      const idp = {
        id: 'corp',
        kind: 'oidc' as const,
        name: 'Corp',
        config: { issuer: 'https://idp' },
        enabled: true,
        createdAt: T0,
        updatedAt: T0,
      };
      await store.createIdentityProvider(idp);
      await assert.rejects(store.createIdentityProvider(idp), { code: 'CONFLICT' });
      await store.updateIdentityProvider('corp', { enabled: false, updatedAt: T0 + 1 });
      assert.equal((await store.getIdentityProvider('corp'))?.enabled, false);
      assert.equal(await store.deleteIdentityProvider('corp'), true);
    });

    test('users from an identity provider are found by (provider, external id) and by email', async () => {
      await store.createUser(
        newUser({
          id: 'u-sso',
          username: 'carol',
          source: 'corp',
          externalId: 'sub-1',
          email: 'Carol@Example.com',
        }),
      );
      assert.equal((await store.getUserByExternalId('corp', 'sub-1'))?.username, 'carol');
      assert.equal(await store.getUserByExternalId('other', 'sub-1'), undefined);
      assert.equal((await store.getUserByEmail('carol@example.com'))?.id, 'u-sso');
      // The address exactly as stored is found on every database, whatever lower() does with its letters.
      await store.createUser(newUser({ id: 'u-zoe', username: 'zoe', email: 'ZOË@example.com' }));
      assert.equal((await store.getUserByEmail('ZOË@example.com'))?.id, 'u-zoe');
      assert.equal((await store.getUserByEmail('zoË@EXAMPLE.com'))?.id, 'u-zoe');
      await assert.rejects(
        store.createUser(newUser({ id: 'u-sso2', username: 'carol2', source: 'corp', externalId: 'sub-1' })),
        { code: 'CONFLICT' },
      );
    });
  });
}
