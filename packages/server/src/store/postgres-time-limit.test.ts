// PostgreSQL statements have a time limit: a statement held up (by a lock) is cancelled by the database, and one a
// database stops answering (a hung server, a network dropping packets: here a TCP proxy that stops forwarding) is
// given up by the store. Either way the caller gets UNAVAILABLE, not a request that never ends.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openStore } from './open-store.ts';
import { SesameStoreError } from './store-error.ts';
import { storeTargets } from './store-test-targets.ts';
import { TEST_SECRETS } from './test-secrets.ts';

const target = (await storeTargets()).find((t) => t.dialect === 'postgres');
const LIMIT_MS = 300;

const unavailable = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof SesameStoreError, String(error));
  assert.equal(error.code, 'UNAVAILABLE');
  assert.match(error.message, pattern);
  return true;
};

describe('PostgreSQL statement time limit', { skip: target?.skip ?? 'no PostgreSQL target' }, () => {
  after(() => target?.dispose());

  test('a statement held by a lock past the limit is cancelled, and the connection serves the next one', {
    timeout: 30_000,
  }, async () => {
    const store = await (target?.fresh({ queryTimeoutMs: LIMIT_MS }) ?? assert.fail('no target'));
    const locker = new pg.Client({ connectionString: target?.databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table users in access exclusive mode');
      await assert.rejects(
        store.listUsers(),
        unavailable(
          /^store\.listUsers: the database did not answer within its time limit \(canceling statement due to statement timeout\)/,
        ),
      );
      await locker.query('rollback');
      assert.deepEqual(await store.listUsers(), []);
    } finally {
      await locker.end();
      await store.close();
    }
  });

  test('a database that stops answering is given up on: UNAVAILABLE instead of a request that never ends', {
    timeout: 30_000,
  }, async () => {
    // The schema first, directly; then a store through a proxy that can go silent.
    await (await (target?.fresh() ?? assert.fail('no target'))).close();
    const upstream = new URL(target?.databaseUrl ?? '');
    const proxy = await silentProxy(upstream.hostname, Number(upstream.port || 5432));
    const through = new URL(upstream);
    through.host = `127.0.0.1:${proxy.port}`;
    const store = await openStore({
      secrets: TEST_SECRETS,
      databaseUrl: through.toString(),
      sqlitePath: ':memory:',
      queryTimeoutMs: LIMIT_MS,
    });
    try {
      assert.deepEqual(await store.listUsers(), []);
      proxy.goSilent();
      await assert.rejects(
        store.listUsers(),
        unavailable(
          /^store\.listUsers: the database did not answer within its time limit \(Query read timeout\)/,
        ),
      );
      // The network is back for new connections (the old one stays dead, as after a failover): the connection that
      // timed out was dropped, so the next query gets a new one instead of timing out again.
      proxy.speakAgain();
      assert.deepEqual(await store.listUsers(), []);
    } finally {
      proxy.close(); // the silent connections go, so the pool can end
      await store.close();
    }
  });
});

/** A TCP proxy to host:port whose connections stop forwarding (without closing) once told to go silent. */
async function silentProxy(host: string, port: number) {
  const sockets = new Set<Socket>();
  let silent = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    if (silent) return client.pause();
    const database = connect(port, host);
    for (const socket of [client, database]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(database);
    database.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    /** New connections are forwarded again; those silenced stay silent. */
    speakAgain() {
      silent = false;
    },
    goSilent() {
      silent = true;
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
