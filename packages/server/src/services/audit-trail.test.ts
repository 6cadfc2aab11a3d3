import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import { createAuditTrail } from './audit-trail.ts';

const admin: Principal = { userId: 'u-1', username: 'admin', sourceAddress: null };

test('a read of the audit trail that cannot itself be audited is not served', async () => {
  let listed = 0;
  const trail = createAuditTrail({
    store: {
      listAudit: async () => {
        listed += 1;
        return [];
      },
    },
    guard: () => {},
    audit: async () => false, // the audit trail's store refuses the write
  });
  await assert.rejects(trail.list(admin, {}), (error) => {
    assert.ok(error instanceof SesameError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /could not be written to the audit trail, so it is not served/);
    return true;
  });
  assert.equal(listed, 1);
});
