import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { session, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { SessionState, Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`sessions (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    test('createSession and getSession round-trip every field', async () => {
      const s = session();
      const ended = session({
        id: 'bob-1',
        state: 'Failed',
        reason: 'agent went away',
        endedAt: T0 + 10,
        exitCode: 130,
        recordingKey: 'recordings/bob-1.cast',
        clientAddress: null,
      });
      await store.createSession(s);
      await store.createSession(ended);
      assert.deepEqual(await store.getSession(s.id), s);
      assert.deepEqual(await store.getSession('bob-1'), ended);
      assert.equal(await store.getSession('nobody-1'), undefined);
      await assert.rejects(store.createSession(s), { code: 'CONFLICT' });
    });

    test('listSessions: active vs history, newest first, filtered by owner and instance', async () => {
      const states: SessionState[] = ['Connecting', 'Connected', 'Terminating', 'Terminated', 'Failed'];
      let n = 0;
      for (const state of states) {
        for (const owner of ['alice', 'bob']) {
          for (const instanceId of ['mi-1', 'mi-2']) {
            n += 1;
            await store.createSession(
              session({
                id: `${owner}-${n}`,
                owner,
                ownerId: `u-${owner}`,
                instanceId,
                state,
                startedAt: T0 + n,
              }),
            );
          }
        }
      }
      const active = await store.listSessions({ state: 'active' });
      assert.equal(active.length, 12);
      assert.ok(active.every((s) => ['Connecting', 'Connected', 'Terminating'].includes(s.state)));
      assert.deepEqual(
        active.map((s) => s.startedAt),
        active.map((s) => s.startedAt).sort((a, b) => b - a),
        'newest first',
      );
      const history = await store.listSessions({ state: 'history' });
      assert.deepEqual(
        history.map((s) => s.id),
        ['bob-20', 'bob-19', 'alice-18', 'alice-17', 'bob-16', 'bob-15', 'alice-14', 'alice-13'],
      );
      assert.deepEqual(
        (await store.listSessions({ state: 'history', ownerId: 'u-alice' })).map((s) => s.id),
        ['alice-18', 'alice-17', 'alice-14', 'alice-13'],
      );
      assert.deepEqual(
        (await store.listSessions({ state: 'history', ownerId: 'u-alice', instanceId: 'mi-2' })).map(
          (s) => s.id,
        ),
        ['alice-18', 'alice-14'],
      );
      assert.deepEqual(
        (await store.listSessions({ state: 'active', instanceId: 'mi-1', limit: 2 })).map((s) => s.id),
        ['bob-11', 'alice-9'],
      );
      assert.deepEqual(await store.listSessions({ state: 'active', ownerId: 'u-carol' }), []);
    });

    test('listSessions returns at most 200 unless told otherwise', async () => {
      for (let n = 0; n < 205; n += 1) {
        await store.createSession(session({ id: `alice-${n}`, state: 'Terminated', startedAt: T0 + n }));
      }
      const page = await store.listSessions({ state: 'history' });
      assert.equal(page.length, 200);
      assert.equal(page[0]?.id, 'alice-204');
      assert.equal((await store.listSessions({ state: 'history', limit: 205 })).length, 205);
      assert.equal((await store.listSessions({ state: 'history', limit: 0 })).length, 0);
    });

    test('listSessions pages on with `after`, in the same order across states, ties on the start time broken by id', async () => {
      for (let n = 0; n < 7; n += 1) {
        const startedAt = T0 + Math.floor(n / 2); // pairs started in the same millisecond, one of each state
        const state = n % 2 === 0 ? 'Terminated' : 'Failed';
        await store.createSession(session({ id: `alice-${n}`, state, startedAt }));
      }
      const all = (await store.listSessions({ state: 'history' })).map((s) => s.id);
      assert.deepEqual(
        all,
        [6, 5, 4, 3, 2, 1, 0].map((n) => `alice-${n}`),
      );
      const seen: string[] = [];
      let last: { startedAt: number; id: string } | undefined;
      for (;;) {
        const page = await store.listSessions({
          state: 'history',
          limit: 3,
          ...(last ? { after: last } : {}),
        });
        seen.push(...page.map((s) => s.id));
        if (page.length < 3) break;
        last = page.at(-1);
      }
      assert.deepEqual(seen, all);
      assert.equal(new Set(seen).size, 7);
    });

    test('session ids compare byte-wise, whatever the database collation: paging misses none and repeats none', async () => {
      // "_" sorts before "-" and digits in a natural-language collation (and "." is ignored), the reverse of
      // ASCII: the ids' order must be the byte order the merge and the keyset assume.
      const ids = ['ann-1', 'ann_x-1', 'ann0-1', 'ann.x-1', 'annb-1', 'ann-b-1', 'Ann-1'];
      for (const [n, id] of ids.entries())
        await store.createSession(
          session({ id, state: n % 2 === 0 ? 'Terminated' : 'Failed', startedAt: T0 }),
        );
      const byteOrder = [...ids].sort((a, b) => Buffer.compare(Buffer.from(b), Buffer.from(a)));
      assert.deepEqual(
        (await store.listSessions({ state: 'history' })).map((s) => s.id),
        byteOrder,
      );
      const seen: string[] = [];
      let last: { startedAt: number; id: string } | undefined;
      for (;;) {
        const page = await store.listSessions({
          state: 'history',
          limit: 2,
          ...(last ? { after: last } : {}),
        });
        seen.push(...page.map((s) => s.id));
        if (page.length < 2) break;
        last = page.at(-1);
      }
      assert.deepEqual(seen, byteOrder);
    });

    test('updateSession changes only the fields in the patch; null clears', async () => {
      const s = session({ recordingKey: 'recordings/a.cast' });
      await store.createSession(s);
      await store.updateSession(s.id, { state: 'Connected' });
      assert.deepEqual(await store.getSession(s.id), { ...s, state: 'Connected' });
      const end = { state: 'Terminated', reason: 'user exit', endedAt: T0 + 99, exitCode: 0 } as const;
      await store.updateSession(s.id, end);
      assert.deepEqual(await store.getSession(s.id), { ...s, ...end });
      await store.updateSession(s.id, { recordingKey: null, reason: undefined });
      assert.deepEqual(await store.getSession(s.id), { ...s, ...end, recordingKey: null });
      await store.updateSession(s.id, {});
      await store.updateSession('nobody-1', { state: 'Failed' });
      assert.equal(await store.getSession('nobody-1'), undefined);
    });

    test('failDanglingSessions ends every active session and leaves history alone', async () => {
      await store.createSession(session({ id: 'a-1', state: 'Connecting' }));
      await store.createSession(session({ id: 'a-2', state: 'Connected' }));
      await store.createSession(session({ id: 'a-3', state: 'Terminating' }));
      const failed = session({ id: 'a-4', state: 'Failed', reason: 'x', endedAt: T0 + 1 });
      await store.createSession(failed);
      const ended = await store.failDanglingSessions(T0 + 50, 'server restarted');
      assert.deepEqual(
        ended.map((s) => s.id).sort(),
        ['a-1', 'a-2', 'a-3'],
        'the sessions it ended, with their recordings',
      );
      assert.ok(ended.every((s) => 'recordingKey' in s));
      for (const id of ['a-1', 'a-2', 'a-3']) {
        const s = await store.getSession(id);
        assert.deepEqual([s?.state, s?.endedAt, s?.reason], ['Terminated', T0 + 50, 'server restarted']);
      }
      assert.deepEqual(await store.getSession('a-4'), failed);
      assert.deepEqual(await store.listSessions({ state: 'active' }), []);
      assert.deepEqual(await store.failDanglingSessions(T0 + 60, 'again'), []);
    });
  });
}
