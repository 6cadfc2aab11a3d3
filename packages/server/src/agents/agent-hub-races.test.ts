// The hub on its own, over real WebSockets and a real store whose answers a test can hold back: what happens
// when the store is slow or failing while an agent proves its key.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { serviceFixture } from '../services/service-fixture.ts';
import { SesameStoreError, type Store } from '../store/index.ts';
import { instance } from '../store/store-test-fixtures.ts';
import { eventually } from '../test-server.ts';
import { createAgentHub } from './agent-hub.ts';
import { agentKeys, connectAgent } from './test-agent.ts';

type Hold = { started: Promise<void>; release: () => void };

/** A store call that waits for `release()`; `started` resolves when the hub made the call. */
function hold(): Hold & {
  wrap<A extends unknown[], R>(call: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
} {
  let release: () => void = () => {};
  let started: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  return {
    started: startedPromise,
    release,
    wrap:
      (call) =>
      async (...args) => {
        started();
        await released;
        return call(...args);
      },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hubOver(
  store: (real: Store) => Pick<Store, 'getInstance' | 'setInstanceStatus' | 'updateInventory'>,
  handshakeTimeoutMs = 5000,
  now: () => number = Date.now,
) {
  const f = await serviceFixture();
  const keys = agentKeys();
  const agent = { instanceId: 'mi-0123456789abcdef0', keys };
  await f.store.createInstance(
    instance({ id: agent.instanceId, publicKey: keys.publicKey, status: 'ConnectionLost' }),
  );
  const hub = createAgentHub({
    store: store(f.store),
    audit: f.audit,
    arn: f.arn,
    log: f.log,
    settings: { handshakeTimeoutMs, keepaliveIntervalMs: 15_000, keepaliveTimeoutMs: 45_000 },
    now,
  });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const serverSocketClosed: Promise<void>[] = [];
  wss.on('connection', (socket) => {
    serverSocketClosed.push(once(socket, 'close').then(() => undefined));
    hub.accept(socket, '127.0.0.1');
  });
  cleanups.push(async () => {
    hub.close();
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await f.store.close();
  });
  const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return { f, hub, agent, url, serverSocketClosed };
}

const realCalls = (real: Store) => ({
  getInstance: real.getInstance,
  setInstanceStatus: real.setInstanceStatus,
  updateInventory: real.updateInventory,
});

describe('agent hub under a slow or failing store', () => {
  test('an agent that disconnects while its key is being checked never counts as Online', async () => {
    const slow = hold();
    const { f, hub, agent, url, serverSocketClosed } = await hubOver((real) => ({
      ...realCalls(real),
      getInstance: slow.wrap(real.getInstance),
    }));
    const connection = await connectAgent(url, agent);
    await slow.started;
    connection.ws.terminate();
    await serverSocketClosed[0];
    slow.release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(hub.isOnline(agent.instanceId), false);
    assert.equal(hub.get(agent.instanceId), undefined);
    assert.equal((await f.store.getInstance(agent.instanceId))?.status, 'ConnectionLost');
  });

  test('an agent whose key check ends after the hub closed (the server shutting down) is closed, not linked', async () => {
    const slow = hold();
    const { hub, agent, url } = await hubOver((real) => ({
      ...realCalls(real),
      getInstance: slow.wrap(real.getInstance),
    }));
    const connection = await connectAgent(url, agent);
    await slow.started;
    hub.close();
    slow.release();
    const stillOpen = new Promise<{ code: number; reason: string }>((resolve) =>
      setTimeout(() => resolve({ code: 0, reason: 'still open after 5 s' }), 5000).unref(),
    );
    const closed = await Promise.race([connection.closed, stillOpen]);
    assert.equal(closed.code, 1001, closed.reason);
    assert.match(closed.reason, /SHUTDOWN/);
    assert.equal(hub.isOnline(agent.instanceId), false);
  });

  test('an agent whose key check outlasts the handshake timeout is closed and not registered', async () => {
    const slow = hold();
    const { hub, agent, url } = await hubOver(
      (real) => ({ ...realCalls(real), getInstance: slow.wrap(real.getInstance) }),
      200,
    );
    const connection = await connectAgent(url, agent);
    const closed = await connection.closed;
    assert.equal(closed.code, 4001);
    assert.match(closed.reason, /HANDSHAKE/);
    slow.release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(hub.isOnline(agent.instanceId), false);
  });

  test('a slow inventory write after a good signature does not trip the handshake timeout', async () => {
    const slow = hold();
    const { hub, agent, url } = await hubOver(
      (real) => ({ ...realCalls(real), updateInventory: slow.wrap(real.updateInventory) }),
      1500,
    );
    const connection = await connectAgent(url, agent);
    await slow.started;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    slow.release();
    await eventually(() => hub.isOnline(agent.instanceId));
    assert.equal(connection.ws.readyState, connection.ws.OPEN);
  });

  test('a store failure during the handshake closes that connection with 1011 and is logged, nothing more', async () => {
    const { f, hub, agent, url } = await hubOver((real) => ({
      ...realCalls(real),
      getInstance: async () => {
        throw new SesameStoreError('UNAVAILABLE', 'store.getInstance: the database is unavailable (test)');
      },
    }));
    const connection = await connectAgent(url, agent);
    const closed = await connection.closed;
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, /INTERNAL/);
    assert.equal(hub.isOnline(agent.instanceId), false);
    assert.ok(f.logs.some((line) => line.includes('agent handshake failed')));
  });

  test('an instance deregistered while its agent was being let in is closed at once, not left Online', async () => {
    // The first lookup reads the instance, then is held: deregistering happens in that gap.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let read: () => void = () => {};
    const wasRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    let calls = 0;
    const { f, hub, agent, url } = await hubOver((real) => ({
      ...realCalls(real),
      getInstance: async (id: string) => {
        const found = await real.getInstance(id);
        if (++calls === 1) {
          read();
          await released;
        }
        return found;
      },
    }));
    const connection = await connectAgent(url, agent);
    await wasRead;
    // What deregistering does: the row goes, then any live connection is closed (there is none yet).
    await f.store.deleteInstance(agent.instanceId);
    hub.disconnect(agent.instanceId);
    release();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      connection.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the connection was left open for 5 s')), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(closed.code, 4001);
    assert.match(closed.reason, /this instance was deregistered/);
    assert.equal(hub.isOnline(agent.instanceId), false);
  });
});

describe('agent hub connection limit', () => {
  test('an instance refused for connecting too often is let in again once its minute is over', async () => {
    let clock = Date.now();
    const { hub, agent, url } = await hubOver(realCalls, 5000, () => clock);
    const connectOnce = async () => {
      const connection = await connectAgent(url, agent);
      const outcome = await Promise.race([
        connection.closed.then((closed) => closed.reason),
        eventually(
          () => hub.isOnline(agent.instanceId) && hub.get(agent.instanceId)?.connectedAt === clock,
        ).then(() => 'online'),
      ]);
      connection.ws.close();
      await connection.closed;
      await eventually(() => !hub.isOnline(agent.instanceId));
      return outcome;
    };
    for (let i = 0; i < 12; i++) {
      clock += 1000;
      assert.equal(await connectOnce(), 'online', `connection ${i + 1}`);
    }
    clock += 1000;
    assert.match(
      await connectOnce(),
      /^RATE_LIMITED: this instance connected 12 times within a minute: try again in 48 s$/,
    );
    clock += 47_000; // 59 s after the first
    assert.match(await connectOnce(), /RATE_LIMITED: .* try again in 1 s$/);
    clock += 1_000;
    assert.equal(await connectOnce(), 'online', 'a new minute');
  });
});
