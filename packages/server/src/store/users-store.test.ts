import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { SesameStoreError } from './store-error.ts';
import { assignment, auditEvent, group, permissionSet, session, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`users and tokens (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    const alice = {
      id: 'u-alice',
      username: 'alice',
      passwordHash: 'scrypt$abc',
      isAdmin: true,
      createdAt: T0,
      email: null,
      source: 'local',
      externalId: null,
    };
    const bob = {
      id: 'u-bob',
      username: 'bob',
      passwordHash: null,
      isAdmin: false,
      createdAt: T0 + 1,
      email: null,
      source: 'local',
      externalId: null,
    };

    test('createUser returns the user and the getters find it by id and by username', async () => {
      const created = await store.createUser(alice);
      const expected = { ...alice, disabled: false };
      assert.deepEqual(created, expected);
      assert.deepEqual(await store.getUserById('u-alice'), expected);
      assert.deepEqual(await store.getUserByUsername('alice'), expected);
      assert.equal(await store.getUserById('u-nobody'), undefined);
      assert.equal(await store.getUserByUsername('nobody'), undefined);
      assert.equal(store.dialect, target.dialect);
    });

    test('a user name that another one starts, followed by "-", is a CONFLICT either way round', async () => {
      const user = (id: string, username: string) => ({ ...bob, id, username });
      const clash = (pattern: RegExp) => (error: unknown) =>
        error instanceof SesameStoreError && error.code === 'CONFLICT' && pattern.test(error.message);
      await store.createUser(alice);
      await assert.rejects(
        store.createUser(user('u-1', 'alice-bob')),
        clash(
          /the username "alice-bob" cannot be used while "alice" exists: .*session\/\$\{aws:username\}-\* for alice would also match alice-bob's sessions; .*\(e\.g\. "alice\.bob"\)/,
        ),
      );
      await assert.rejects(store.createUser(user('u-2', 'alice-b-c')), clash(/while "alice" exists/));
      await store.createUser(user('u-3', 'carol-x'));
      await assert.rejects(
        store.createUser(user('u-4', 'carol')),
        clash(
          /"carol" cannot be used while "carol-x" exists: .*; choose another name \(one that no user's name starts with, followed by "-"\)$/,
        ),
      );
      for (const [id, username] of [
        ['u-5', 'alice.bob'],
        ['u-6', 'alicex-y'],
        ['u-7', 'ali'],
        ['u-8', 'carol_x'],
      ] as const)
        await store.createUser(user(id, username));
      assert.equal(await store.getUserByUsername('alice-bob'), undefined);
      assert.equal(await store.getUserByUsername('carol'), undefined);
    });

    test("a name whose sessions pattern would match a deleted user's sessions is a CONFLICT; its own old name too, unless reused knowingly", async () => {
      const dora = { ...bob, id: 'u-dora-ops', username: 'dora-ops' };
      await store.createUser(dora);
      await store.createSession(
        session({
          id: 'dora-ops-0123456789abcdef0',
          ownerId: dora.id,
          owner: 'dora-ops',
          state: 'Terminated',
        }),
      );
      assert.equal(await store.deleteUser(dora.id), true);
      await assert.rejects(
        store.createUser({ ...bob, id: 'u-dora', username: 'dora' }),
        (error: unknown) =>
          error instanceof SesameStoreError &&
          error.code === 'CONFLICT' &&
          /"dora" cannot be used while the sessions of the deleted user "dora-ops" are kept \(their recordings too\): .* for dora would also match dora-ops.s sessions; choose another name$/.test(
            error.message,
          ),
      );
      // The same name again would be handed the old sessions by name-based policies: refused unless reused knowingly.
      await assert.rejects(
        store.createUser({ ...dora, id: 'u-dora-ops-2', username: 'Dora-Ops' }),
        (error: unknown) =>
          error instanceof SesameStoreError &&
          error.code === 'CONFLICT' &&
          /"Dora-Ops" belonged to a deleted user whose sessions are kept .* reuse it \(--reuse-name, "reuseName": true\) only for the same person$/.test(
            error.message,
          ),
      );
      await store.createUser({ ...dora, id: 'u-dora-ops-2', reuseName: true });
      // Its own sessions are then a current user's: no clash for a name beside it.
      await store.createUser({ ...bob, id: 'u-dora-ops-x', username: 'dora-opsx' });
    });

    test('clashing user names created at once: one of each pair is refused', async () => {
      const pairs = Array.from({ length: 20 }, (_, i) => [`dave${i}`, `dave${i}-ops`]);
      const results = await Promise.allSettled(
        pairs.flat().map((username, i) => store.createUser({ ...bob, id: `u-${i}`, username })),
      );
      for (let i = 0; i < pairs.length; i++) {
        const pair = results.slice(2 * i, 2 * i + 2).map((r) => r.status);
        assert.deepEqual(pair.sort(), ['fulfilled', 'rejected'], `${pairs[i]}: ${pair}`);
      }
    });

    test('a taken username is a CONFLICT, regardless of case', async () => {
      await store.createUser(alice);
      for (const username of ['alice', 'Alice']) {
        await assert.rejects(
          store.createUser({ ...bob, username }),
          (error: unknown) =>
            error instanceof SesameStoreError &&
            error.code === 'CONFLICT' &&
            /username "\w+" is already taken/.test(error.message),
        );
      }
      await assert.rejects(store.createUser({ ...bob, id: 'u-alice' }), {
        code: 'CONFLICT',
        message: /id "u-alice"/,
      });
      assert.equal((await store.listUsers()).length, 1);
    });

    test('listUsers orders by username', async () => {
      await store.createUser({ ...bob, id: 'u-3', username: 'carol' });
      await store.createUser(bob);
      await store.createUser(alice);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.username),
        ['alice', 'bob', 'carol'],
      );
    });

    test('setPasswordHash and setUserDisabled change one user', async () => {
      await store.createUser(alice);
      await store.createUser(bob);
      await store.setPasswordHash('u-bob', 'scrypt$new');
      await store.setUserDisabled('u-bob', true);
      assert.deepEqual(await store.getUserById('u-bob'), {
        ...bob,
        passwordHash: 'scrypt$new',
        disabled: true,
      });
      assert.deepEqual(await store.getUserById('u-alice'), { ...alice, disabled: false });
      await store.setUserDisabled('u-bob', false);
      assert.equal((await store.getUserById('u-bob'))?.disabled, false);
      await store.setPasswordHash('u-nobody', 'x'); // unknown ids are a no-op
    });

    test('api tokens: create, get, delete one, delete all of a user', async () => {
      await store.createUser(alice);
      await store.createUser(bob);
      const token = {
        tokenHash: 'h1',
        userId: 'u-alice',
        createdAt: T0,
        expiresAt: T0 + 3_600_000,
        sessionId: null,
      };
      await store.createApiToken(token);
      await store.createApiToken({ ...token, tokenHash: 'h2' });
      await store.createApiToken({ ...token, tokenHash: 'h3', userId: 'u-bob' });
      assert.deepEqual(await store.getApiToken('h1'), token);
      assert.equal(await store.getApiToken('nope'), undefined);
      await store.deleteApiToken('h1');
      assert.equal(await store.getApiToken('h1'), undefined);
      await store.deleteUserApiTokens('u-alice');
      assert.equal(await store.getApiToken('h2'), undefined);
      assert.deepEqual(await store.getApiToken('h3'), { ...token, tokenHash: 'h3', userId: 'u-bob' });
    });

    test('an api token for an unknown user or with a duplicate hash is a CONFLICT', async () => {
      await store.createUser(alice);
      const token = { tokenHash: 'h1', userId: 'u-alice', createdAt: T0, expiresAt: T0 + 1, sessionId: null };
      await store.createApiToken(token);
      await assert.rejects(store.createApiToken(token), { name: 'SesameStoreError', code: 'CONFLICT' });
      await assert.rejects(store.createApiToken({ ...token, tokenHash: 'h2', userId: 'u-ghost' }), {
        code: 'CONFLICT',
      });
    });

    test('consumeSetupToken works once, and not once expired; it uses up every other link of that user', async () => {
      await store.createUser(alice);
      await store.createUser(bob);
      await store.createSetupToken({ tokenHash: 's1', userId: 'u-alice', expiresAt: T0 + 1000 });
      await store.createSetupToken({ tokenHash: 's2', userId: 'u-alice', expiresAt: T0 + 1000 });
      await store.createSetupToken({ tokenHash: 's3', userId: 'u-bob', expiresAt: T0 + 1000 });
      assert.equal(await store.consumeSetupToken('s1', T0 + 1000), undefined, 'expired at expiresAt');
      assert.equal(
        await store.consumeSetupToken('s1', T0 + 999),
        'u-alice',
        'an expired attempt did not use it',
      );
      assert.equal(await store.consumeSetupToken('s1', T0), undefined, 'second use');
      assert.equal(await store.consumeSetupToken('s2', T0), undefined, "used up with alice's other link");
      assert.equal(await store.consumeSetupToken('s3', T0), 'u-bob', "another user's link is untouched");
      assert.equal(await store.consumeSetupToken('unknown', T0), undefined);
    });

    test('concurrent consumeSetupToken calls: exactly one wins, of one link or of two links of one user', async () => {
      await store.createUser(alice);
      await store.createSetupToken({ tokenHash: 's1', userId: 'u-alice', expiresAt: T0 + 1000 });
      await store.createSetupToken({ tokenHash: 's2', userId: 'u-alice', expiresAt: T0 + 1000 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.consumeSetupToken(i % 2 ? 's1' : 's2', T0)),
      );
      assert.deepEqual(
        results.filter((r) => r !== undefined),
        ['u-alice'],
      );
    });

    test('deleteSetupTokensForUser removes only that user’s tokens', async () => {
      await store.createUser(alice);
      await store.createUser(bob);
      await store.createSetupToken({ tokenHash: 's1', userId: 'u-alice', expiresAt: T0 + 1000 });
      await store.createSetupToken({ tokenHash: 's2', userId: 'u-bob', expiresAt: T0 + 1000 });
      await store.deleteSetupTokensForUser('u-alice');
      assert.equal(await store.consumeSetupToken('s1', T0), undefined);
      assert.equal(await store.consumeSetupToken('s2', T0), 'u-bob');
    });

    test('deleteUser removes the user with tokens, memberships, tags and assignments; history stays', async () => {
      await store.createUser(alice);
      await store.createUser(bob);
      await store.createApiToken({
        tokenHash: 'h1',
        userId: 'u-alice',
        createdAt: T0,
        expiresAt: T0 + 1000,
        sessionId: null,
      });
      await store.createApiToken({
        tokenHash: 'h2',
        userId: 'u-bob',
        createdAt: T0,
        expiresAt: T0 + 1000,
        sessionId: null,
      });
      await store.createSetupToken({ tokenHash: 's1', userId: 'u-alice', expiresAt: T0 + 1000 });
      await store.createGroup(group());
      await store.addGroupMember('g-production', 'u-alice');
      await store.addGroupMember('g-production', 'u-bob');
      await store.setUserTags('u-alice', { AppId: 'ABC' });
      await store.setUserTags('u-bob', { AppId: 'DEF' });
      await store.createPermissionSet(permissionSet());
      await store.createAssignment(
        assignment({ id: 'as-alice', principalType: 'user', principalId: 'u-alice' }),
      );
      await store.createAssignment(assignment({ id: 'as-bob', principalType: 'user', principalId: 'u-bob' }));
      await store.createAssignment(assignment({ id: 'as-group' }));
      await store.createSession(session());
      await store.appendAudit(auditEvent());

      assert.equal(await store.deleteUser('u-alice'), true);
      assert.equal(await store.deleteUser('u-alice'), false);
      assert.equal(await store.getUserById('u-alice'), undefined);
      assert.equal(await store.getApiToken('h1'), undefined);
      assert.equal(await store.consumeSetupToken('s1', T0), undefined);
      assert.deepEqual(
        (await store.listGroupMembers('g-production')).map((u) => u.id),
        ['u-bob'],
      );
      assert.deepEqual(await store.getUserTags('u-alice'), {});
      assert.deepEqual(
        (await store.listAssignments()).map((a) => a.id),
        ['as-bob', 'as-group'],
      );
      assert.equal((await store.getSession(session().id))?.owner, 'alice', 'sessions are history');
      assert.equal((await store.listAudit({})).length, 1, 'so is the audit trail');
      assert.deepEqual(await store.getApiToken('h2'), {
        tokenHash: 'h2',
        userId: 'u-bob',
        createdAt: T0,
        expiresAt: T0 + 1000,
        sessionId: null,
      });
      assert.deepEqual(await store.getUserTags('u-bob'), { AppId: 'DEF' });
      // The name may be taken again (knowingly: its sessions are kept), and a new user with the old id inherits
      // nothing.
      await store.createUser({ ...alice, reuseName: true });
      assert.deepEqual(await store.listUserGroups('u-alice'), []);
      assert.deepEqual(await store.listAssignments({ principalType: 'user', principalId: 'u-alice' }), []);
    });
  });
}
