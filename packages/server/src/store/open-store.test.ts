import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect, promisify } from 'node:util';
import Database from 'better-sqlite3';
import { type Kysely, Migrator, sql } from 'kysely';
import { instanceRow } from './instances-store.ts';
import { createMigrationProvider } from './migrations.ts';
import { migrate, openStore } from './open-store.ts';
import { connectSqlite } from './sqlite-connection.ts';
import { SesameStoreError } from './store-error.ts';
import { instance, T0 } from './store-test-fixtures.ts';
import { POSTGRES_ADMIN_URL, storeTargets } from './store-test-targets.ts';
import { TEST_SECRETS } from './test-secrets.ts';

const targets = await storeTargets();
const user = {
  id: 'u-alice',
  username: 'alice',
  passwordHash: null,
  isAdmin: false,
  createdAt: T0,
  email: null,
  source: 'local',
  externalId: null,
};

for (const target of targets) {
  describe(`openStore (${target.dialect})`, { skip: target.skip }, () => {
    after(() => target.dispose());

    test('reopening keeps the data and re-running the migrations changes nothing', async () => {
      const first = await target.fresh();
      await first.createUser(user);
      await first.close();
      const second = await target.reopen();
      try {
        assert.deepEqual(await second.getUserById('u-alice'), { ...user, disabled: false });
        await second.createUser({ ...user, id: 'u-bob', username: 'bob' });
      } finally {
        await second.close();
      }
      const third = await target.reopen();
      try {
        assert.equal((await third.listUsers()).length, 2);
      } finally {
        await third.close();
      }
    });

    test('replicas starting at once on a new database migrate it once', async () => {
      const first = await target.fresh();
      await first.close();
      const stores = await Promise.all([target.reopen(), target.reopen(), target.reopen()]);
      await stores[0]?.createUser(user);
      assert.equal((await stores[2]?.getUserById('u-alice'))?.username, 'alice');
      await Promise.all(stores.map((s) => s.close()));
    });

    test('close is idempotent, and a closed store fails with a SesameStoreError', async () => {
      const store = await target.fresh();
      await store.close();
      await store.close();
      await assert.rejects(store.listUsers(), (error) => error instanceof SesameStoreError);
    });
  });
}

describe('openStore (sqlite file)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sesame-open-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('creates the data directory and the file in WAL mode, migrated once', async () => {
    const sqlitePath = join(dir, 'nested', 'data', 'sesame.db');
    for (let n = 0; n < 3; n += 1) await (await openStore({ secrets: TEST_SECRETS, sqlitePath })).close();
    const raw = new Database(sqlitePath, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const migrations = raw.prepare('select name from kysely_migration').all();
      assert.deepEqual(migrations, [
        { name: '0001-initial-schema' },
        { name: '0002-access-model' },
        { name: '0003-sign-in' },
        { name: '0004-session-listing' },
        { name: '0005-used-refresh-tokens' },
        { name: '0006-sign-in-parent' },
        { name: '0007-sign-in-device' },
        { name: '0008-instance-public-key' },
        { name: '0009-session-id-bytewise' },
        { name: '0010-audit-lookups' },
      ]);
      // The audit trail's lookups (newest first by action, resource, time) have indexes to use.
      const plan = (where: string) =>
        raw
          .prepare(`explain query plan select * from audit_events where ${where} order by seq desc limit 10`)
          .all()
          .map((row) => (row as { detail: string }).detail)
          .join('; ');
      assert.match(plan("action = 'x'"), /USING INDEX audit_events_action/);
      assert.match(plan("resource = 'x'"), /USING INDEX audit_events_resource/);
    } finally {
      raw.close();
    }
  });

  test('a settings row that is not JSON is reported as DAMAGED, naming the column', async () => {
    const sqlitePath = join(dir, 'damaged', 'sesame.db');
    await (await openStore({ secrets: TEST_SECRETS, sqlitePath })).close();
    const raw = new Database(sqlitePath);
    try {
      raw.prepare("insert into settings (key, value, updated_at) values ('mfa', '{not json', 0)").run();
    } finally {
      raw.close();
    }
    const store = await openStore({ secrets: TEST_SECRETS, sqlitePath });
    try {
      await assert.rejects(
        store.getSetting('mfa'),
        (error) =>
          error instanceof SesameStoreError &&
          error.code === 'DAMAGED' &&
          /column settings\.value \(mfa\) does not hold valid JSON/.test(error.message),
      );
    } finally {
      await store.close();
    }
  });

  test('a database made by the first release is brought up to date with its data kept', async () => {
    const sqlitePath = join(dir, 'upgrade', 'sesame.db');
    const old = connectSqlite(sqlitePath);
    const migrator = new Migrator({ db: old.db, provider: createMigrationProvider('sqlite') });
    assert.equal((await migrator.migrateTo('0001-initial-schema')).error, undefined);
    await old.db
      .insertInto('users')
      // The first release's users table, before 0003 added email, source and external_id.
      .values({ ...toRow(user), is_admin: 0, disabled: 0 } as never)
      .execute();
    await old.db.destroy();

    const statements: string[] = [];
    const store = await openStore({
      secrets: TEST_SECRETS,
      sqlitePath,
      onQuery: (event) => statements.push(event.sql),
    });
    try {
      assert.deepEqual(await store.getUserById('u-alice'), { ...user, disabled: false });
      await store.setUserTags('u-alice', { AppId: 'ABC' });
      assert.deepEqual((await store.loadAccessSnapshot()).users, [
        { id: 'u-alice', username: 'alice', disabled: false, tags: { AppId: 'ABC' } },
      ]);
      assert.ok(statements.some((sql) => sql.startsWith('create table "permission_sets"')));
      assert.ok(
        statements.every((sql) => !sql.includes('ABC')),
        'values are not in the SQL text',
      );
    } finally {
      await store.close();
    }
  });

  test('instances sharing an agent key stop the upgrade to one key, one instance, and are named', async () => {
    const sqlitePath = join(dir, 'shared-key', 'sesame.db');
    const old = connectSqlite(sqlitePath);
    const migrator = new Migrator({ db: old.db, provider: createMigrationProvider('sqlite') });
    assert.equal((await migrator.migrateTo('0007-sign-in-device')).error, undefined);
    for (const id of ['mi-0000000000000000b', 'mi-0000000000000000a', 'mi-0000000000000000c'])
      await old.db
        .insertInto('instances')
        .values(instanceRow(instance({ id, publicKey: id.endsWith('c') ? 'key-2' : 'key-1' })))
        .execute();
    await old.db.destroy();
    await assert.rejects(openStore({ secrets: TEST_SECRETS, sqlitePath }), (error: Error) => {
      assert.match(
        error.message,
        /instances mi-0000000000000000a, mi-0000000000000000b were registered with one agent key.*delete all but the one in use with the previous version of Sesame \(sesame admin instances delete <id>\), then start this one$/,
      );
      assert.doesNotMatch(error.message, /newer version/);
      return true;
    });
  });

  test('a migration run that fails part-way changes nothing, and the next start migrates cleanly', async () => {
    const sqlitePath = join(dir, 'interrupted', 'sesame.db');
    const connection = connectSqlite(sqlitePath);
    // 0001 completes, then 0002's first statement runs and its second fails: what a crash part-way leaves.
    const provider = {
      getMigrations: async () => ({
        ...(await createMigrationProvider('sqlite').getMigrations()),
        '0002-access-model': {
          up: async (db: Kysely<unknown>) => {
            await sql`create table half_done (id text)`.execute(db);
            throw new Error('the power went out');
          },
        },
      }),
    };
    await assert.rejects(
      migrate(connection, provider),
      /cannot bring the SQLite database .* the power went out/,
    );
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
      connection.db,
    );
    assert.deepEqual(tables.rows, [], 'neither 0001 nor the half of 0002 is left');
    await connection.db.destroy();
    const store = await openStore({ secrets: TEST_SECRETS, sqlitePath });
    await store.createUser(user);
    await store.close();
  });

  test('processes starting at once on a new file migrate it once, and all of them start', async () => {
    const sqlitePath = join(dir, 'together', 'sesame.db');
    // Each process loads the store first, then opens it at the same moment as the others.
    const startAt = Date.now() + 3000;
    const openIt = `const { openStore } = await import(${JSON.stringify(new URL('./open-store.ts', import.meta.url).href)});
      const { TEST_SECRETS } = await import(${JSON.stringify(new URL('./test-secrets.ts', import.meta.url).href)});
      await new Promise((resolve) => setTimeout(resolve, ${startAt} - Date.now()));
      await (await openStore({ secrets: TEST_SECRETS, sqlitePath: ${JSON.stringify(sqlitePath)} })).close();`;
    const run = promisify(execFile);
    const starts = Array.from({ length: 4 }, () =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', openIt]),
    );
    const results = await Promise.allSettled(starts);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? 'started' : String(r.reason))),
      ['started', 'started', 'started', 'started'],
    );
    const raw = new Database(sqlitePath, { readonly: true });
    try {
      assert.equal((raw.prepare('select count(*) as n from kysely_migration').get() as { n: number }).n, 10);
    } finally {
      raw.close();
    }
  });

  test('a file that is not a database is UNAVAILABLE with the path in the message', async () => {
    const sqlitePath = join(dir, 'not-a-db.db');
    await writeFile(
      sqlitePath,
      'this is not a SQLite database, just some text that is long enough'.repeat(20),
    );
    await assert.rejects(openStore({ secrets: TEST_SECRETS, sqlitePath }), (error) => {
      assert.ok(error instanceof SesameStoreError);
      assert.equal(error.code, 'UNAVAILABLE');
      assert.match(error.message, /SQLite database at .*not-a-db\.db/);
      return true;
    });
  });

  test('a path under a regular file is UNAVAILABLE', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, 'x');
    await assert.rejects(openStore({ secrets: TEST_SECRETS, sqlitePath: join(file, 'sesame.db') }), {
      name: 'SesameStoreError',
      code: 'UNAVAILABLE',
    });
  });

  test('an empty database URL means SQLite; :memory: works', async () => {
    const store = await openStore({ secrets: TEST_SECRETS, databaseUrl: '', sqlitePath: ':memory:' });
    assert.equal(store.dialect, 'sqlite');
    await store.createUser(user);
    assert.equal((await store.listUsers()).length, 1);
    await store.close();
  });
});

describe('openStore (bad PostgreSQL URLs)', () => {
  const secret = 'Sup3r-s3cret%2Fpw';
  const clear = 'Sup3r-s3cret/pw';

  test('nothing listening: UNAVAILABLE, names host:port, never the password', async () => {
    const databaseUrl = `postgres://sesame:${secret}@127.0.0.1:1/sesame`;
    await assert.rejects(
      openStore({ secrets: TEST_SECRETS, databaseUrl, sqlitePath: ':memory:' }),
      (error) => {
        assert.ok(error instanceof SesameStoreError);
        assert.equal(error.code, 'UNAVAILABLE');
        assert.match(error.message, /^cannot connect to PostgreSQL at 127\.0\.0\.1:1: .*ECONNREFUSED/);
        const everything = `${error.message} ${error.stack} ${inspect(error, { depth: 10 })}`;
        assert.ok(!everything.includes(secret) && !everything.includes(clear), everything);
        return true;
      },
    );
  });

  const postgresSkip = targets.find((t) => t.dialect === 'postgres')?.skip ?? 'no PostgreSQL target';

  test('a database that does not exist is UNAVAILABLE, and the password is not echoed', {
    skip: postgresSkip,
  }, async () => {
    // With trust authentication any password is accepted, so use a database that does not exist instead.
    const url = new URL(POSTGRES_ADMIN_URL);
    url.password = secret;
    url.pathname = `/sesame_no_such_database_${Date.now()}`;
    const databaseUrl = url.toString();
    const where = `${url.hostname}:${url.port || '5432'}`;
    await assert.rejects(
      openStore({ secrets: TEST_SECRETS, databaseUrl, sqlitePath: ':memory:' }),
      (error) => {
        assert.ok(error instanceof SesameStoreError);
        assert.equal(error.code, 'UNAVAILABLE');
        assert.ok(error.message.startsWith(`cannot connect to PostgreSQL at ${where}: `), error.message);
        assert.match(error.message, /does not exist/);
        assert.ok(!inspect(error, { depth: 10 }).includes(clear));
        return true;
      },
    );
  });

  test('an unsupported scheme or a malformed URL is refused without echoing the URL', async () => {
    await assert.rejects(
      openStore({
        secrets: TEST_SECRETS,
        databaseUrl: `mysql://root:${secret}@db/x`,
        sqlitePath: ':memory:',
      }),
      (error) => {
        assert.ok(error instanceof SesameStoreError);
        assert.match(error.message, /unsupported database URL scheme "mysql:"/);
        assert.ok(!error.message.includes(secret));
        return true;
      },
    );
    await assert.rejects(
      openStore({
        secrets: TEST_SECRETS,
        databaseUrl: `postgres://u:${secret}@[bad/x`,
        sqlitePath: ':memory:',
      }),
      (error) => {
        assert.ok(error instanceof SesameStoreError);
        assert.match(error.message, /not a valid URL/);
        assert.ok(!error.message.includes(secret));
        return true;
      },
    );
  });
});

function toRow(u: typeof user) {
  return { id: u.id, username: u.username, password_hash: u.passwordHash, created_at: u.createdAt };
}
