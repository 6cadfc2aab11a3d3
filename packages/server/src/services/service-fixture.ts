// Test support (not a test itself): the services over a real in-memory SQLite store, with a clock the test
// moves and the log captured in memory.
import assert from 'node:assert/strict';
import { createAudit } from '../audit.ts';
import { createAuthorizer, type Principal } from '../authorize.ts';
import { DEFAULT_CONFIG } from '../config.ts';
import { SesameError } from '../errors.ts';
import { createGuard } from '../guard.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/index.ts';
import { T0 } from '../store/store-test-fixtures.ts';
import { TEST_SECRETS } from '../store/test-secrets.ts';

// These tests are about the services' own checks, not policy: ADMIN is let through like the server itself,
// ALICE holds no policies at all (policy decisions are tested in access/ and end to end).
export const ADMIN: Principal = { userId: 'u-admin', username: 'admin', sourceAddress: null, system: true };
export const ALICE: Principal = { userId: 'u-alice', username: 'alice', sourceAddress: null };

export async function serviceFixture() {
  const store = await openStore({ secrets: TEST_SECRETS, sqlitePath: ':memory:' });
  let time = T0;
  const now = () => time;
  const logs: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (line: string) => logs.push(line) } });
  const audit = createAudit({ store, log, now });
  const { authorize } = createAuthorizer({ model: { forUser: () => undefined } });
  const guard = createGuard({ authorize, audit });
  return {
    store,
    log,
    logs,
    audit,
    guard,
    now,
    arn: DEFAULT_CONFIG.arn,
    advance(ms: number) {
      time += ms;
    },
    /** The audit trail and the log as one text, to look for secrets in. */
    async trail(): Promise<string> {
      return JSON.stringify(await store.listAudit({ limit: 1000 })) + logs.join('');
    },
  };
}

/** Awaits a SesameError with `code` and a message matching `pattern`; returns the message. */
export async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SesameError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return error.message;
  }
  assert.fail('expected a rejection');
}
