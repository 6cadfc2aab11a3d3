import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { auditEvent, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`audit trail (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    test('appendAudit returns the event with a new, increasing seq', async () => {
      const first = auditEvent();
      const appended = await store.appendAudit(first);
      assert.equal(typeof appended.seq, 'number');
      assert.deepEqual(appended, { ...first, seq: appended.seq });
      const second = await store.appendAudit(
        auditEvent({ outcome: 'denied', sourceAddress: null, detail: {} }),
      );
      assert.ok(second.seq > appended.seq);
      assert.deepEqual(await store.listAudit({}), [appended, second]);
    });

    test('listAudit is ascending by seq and pages with afterSeq, filters by actor', async () => {
      const appended = [];
      for (let n = 0; n < 6; n += 1) {
        appended.push(await store.appendAudit(auditEvent({ time: T0 + n, actor: n % 2 ? 'bob' : 'alice' })));
      }
      assert.deepEqual(await store.listAudit({}), appended);
      const afterSeq = appended[2]?.seq;
      assert.deepEqual(await store.listAudit({ afterSeq }), appended.slice(3));
      assert.deepEqual(await store.listAudit({ afterSeq, limit: 2 }), appended.slice(3, 5));
      assert.deepEqual(
        await store.listAudit({ actor: 'bob' }),
        appended.filter((e) => e.actor === 'bob'),
      );
      assert.deepEqual(await store.listAudit({ actor: 'bob', afterSeq }), [appended[3], appended[5]]);
      assert.deepEqual(await store.listAudit({ afterSeq: appended[5]?.seq }), []);
    });

    test('listAudit newest first before a seq, by action, resource and time', async () => {
      const appended = [];
      for (let n = 0; n < 6; n += 1)
        appended.push(
          await store.appendAudit(
            auditEvent({ time: T0 + n * 10, action: n < 3 ? 'a:One' : 'a:Two', resource: `arn:r/${n % 2}` }),
          ),
        );
      const newest = [...appended].reverse();
      assert.deepEqual(await store.listAudit({ newestFirst: true }), newest);
      assert.deepEqual(await store.listAudit({ newestFirst: true, beforeSeq: appended[4]?.seq, limit: 2 }), [
        appended[3],
        appended[2],
      ]);
      assert.deepEqual(await store.listAudit({ action: 'a:Two', resource: 'arn:r/1' }), [
        appended[3],
        appended[5],
      ]);
      assert.deepEqual(await store.listAudit({ since: T0 + 20, until: T0 + 40 }), [appended[2], appended[3]]);
    });

    test('listAudit returns at most 500 unless told otherwise', async () => {
      await Promise.all(
        Array.from({ length: 510 }, (_, n) => store.appendAudit(auditEvent({ time: T0 + n }))),
      );
      const page = await store.listAudit({});
      assert.equal(page.length, 500);
      assert.ok(page.every((e, i) => i === 0 || e.seq > (page[i - 1]?.seq ?? 0)));
      assert.equal((await store.listAudit({ limit: 1000 })).length, 510);
    });

    test('concurrent appends get distinct seqs', async () => {
      const events = await Promise.all(Array.from({ length: 50 }, () => store.appendAudit(auditEvent())));
      assert.equal(new Set(events.map((e) => e.seq)).size, 50);
    });
  });
}
