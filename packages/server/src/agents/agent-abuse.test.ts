import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeFrame } from '@sesame/protocol';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';
import { agentKeys, connectAgent, dial, INVENTORY, registerAgent } from './test-agent.ts';

// Its own server: these tests use up the loopback address's allowance of failures.
let ts: TestServer;
let real: Awaited<ReturnType<typeof registerAgent>>;
before(async () => {
  ts = await startTestServer();
  real = await registerAgent(ts); // before the registrations below use up the address's allowance
});
after(() => ts.close());

const auditCount = async (action: string, outcome: string, server = ts) =>
  (await server.server.store.listAudit({ limit: 10_000 })).filter(
    (e) => e.action === action && e.outcome === outcome,
  ).length;

test('after 20 failed registrations from one address, it is refused before any work, even with the right code', async () => {
  const created = await ts.api('POST', '/api/v1/activations', { token: ts.adminToken, json: {} });
  const activationId = (created.body.activation as { id: string }).id;
  const registration = (activationCode: unknown) => ({
    json: { activationId, activationCode, publicKey: agentKeys().publicKey, inventory: INVENTORY },
  });
  const audited = await auditCount('ssm:RegisterInstance', 'failed');
  for (let i = 0; i < 20; i++) {
    const wrong = await ts.api('POST', '/api/v1/agent/register', registration('x'.repeat(27)));
    assert.equal(wrong.status, 401, wrong.text);
  }
  assertError(
    await ts.api('POST', '/api/v1/agent/register', registration(created.body.code)),
    429,
    'RATE_LIMITED',
    /too many failed agent registrations from your address: try again in \d+ s/,
  );
  assert.equal(await auditCount('ssm:RegisterInstance', 'failed'), audited + 20, 'no audit row once refused');
});

test('at most 16 agent handshakes at once from one address; closing one makes room, and the real agent gets in', async () => {
  // Connections that never say hello hold their place until the handshake timeout (or until they go). Its own
  // server: the 17 that go count as failed handshakes, which the next test counts from none.
  const own = await startTestServer();
  const real = await registerAgent(own);
  try {
    const silent = Array.from({ length: 16 }, () => dial(own.url, '/api/v1/agent/connect'));
    await Promise.all(silent.map((c) => c.opened));
    const extra = dial(own.url, '/api/v1/agent/connect');
    const refused = await extra.closed;
    assert.equal(refused.code, 4005);
    assert.match(refused.reason, /^RATE_LIMITED: 16 agent handshakes from your address are under way/);
    silent[0]?.ws.close();
    await silent[0]?.closed;
    await new Promise((r) => setTimeout(r, 50));
    const succeeded = await auditCount('sesame:AgentConnect', 'succeeded', own);
    const agent = await connectAgent(own.url, real);
    for (let i = 0; i < 200 && (await auditCount('sesame:AgentConnect', 'succeeded', own)) === succeeded; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(
      await auditCount('sesame:AgentConnect', 'succeeded', own),
      succeeded + 1,
      'the real agent got in',
    );
    for (const c of [...silent.slice(1), agent]) c.ws.close();
    await Promise.all([...silent.slice(1), agent].map((c) => c.closed));
    assert.equal(
      await auditCount('sesame:AgentConnect', 'failed', own),
      0,
      'refusing at once counts no failure',
    );
  } finally {
    await own.close();
  }
});

test('after 30 failed agent handshakes from one address, its connections are closed before the handshake', async () => {
  const failedBefore = await auditCount('sesame:AgentConnect', 'failed');
  for (let i = 0; i < 30; i++) {
    const impostor = await connectAgent(ts.url, { instanceId: real.instanceId, keys: agentKeys() });
    assert.equal((await impostor.closed).code, 4001);
  }
  assert.equal(await auditCount('sesame:AgentConnect', 'failed'), failedBefore + 30);
  // Even the real agent: the address is refused for the rest of the minute, with no nonce and no audit row.
  let sawNonce = false;
  const refused = await connectAgent(ts.url, real, () => {
    sawNonce = true;
    return undefined;
  });
  const closed = await refused.closed;
  assert.equal(closed.code, 4005);
  assert.match(
    closed.reason,
    /^RATE_LIMITED: too many failed agent handshakes from your address: try again in \d+ s$/,
  );
  assert.equal(sawNonce, false);
  assert.equal(await auditCount('sesame:AgentConnect', 'failed'), failedBefore + 30);
});

/** Runs `body` on a server of its own (each of these tests uses up the address's allowance), closed after. */
async function onOwnServer(
  body: (server: TestServer, agent: Awaited<ReturnType<typeof registerAgent>>) => Promise<void>,
  file?: Record<string, unknown>,
): Promise<void> {
  const server = await startTestServer(file ? { file } : {});
  try {
    await body(server, await registerAgent(server));
  } finally {
    await server.close();
  }
}

/** An agent connection without a proper hello: it sends `frame` if given, else goes at once; resolves with its close. */
async function badHandshake(url: string, frame?: Parameters<typeof encodeFrame>[0]) {
  const connection = dial(url, '/api/v1/agent/connect');
  await connection.opened;
  if (frame) connection.ws.send(encodeFrame(frame));
  else connection.ws.close();
  return connection.closed;
}

/** The address is refused before any handshake, the real agent included. */
async function assertLockedOut(url: string, agent: Awaited<ReturnType<typeof registerAgent>>) {
  await new Promise((r) => setTimeout(r, 50));
  const closed = await (await connectAgent(url, agent)).closed;
  assert.equal(closed.code, 4005);
  assert.match(closed.reason, /too many failed agent handshakes from your address/);
}

test(
  'connections that hold a handshake place until the timeout count as failed handshakes',
  {
    timeout: 30_000,
  },
  () =>
    onOwnServer(
      async (server, agent) => {
        // Two rounds of 16 silent connections: 32 timeouts, past the 30 failures a minute one address may have.
        for (let round = 0; round < 2; round++) {
          const silent = Array.from({ length: 16 }, () => dial(server.url, '/api/v1/agent/connect'));
          for (const c of silent)
            assert.equal((await c.closed).code, 4001, 'closed at the handshake timeout');
        }
        await assertLockedOut(server.url, agent);
      },
      { agents: { handshakeTimeoutMs: 200 } },
    ),
);

test(
  'connections that go before the timeout without saying hello count as failed handshakes too',
  {
    timeout: 30_000,
  },
  () =>
    onOwnServer(async (server, agent) => {
      // Each holds a place for a moment and goes before the (10 s) timeout: 30 of them use up the allowance.
      for (let i = 0; i < 30; i++) await badHandshake(server.url);
      await assertLockedOut(server.url, agent);
    }),
);

test(
  'a goaway of its own before hello (SHUTDOWN, VERSION_MISMATCH) still counts as a failed handshake',
  {
    timeout: 30_000,
  },
  () =>
    onOwnServer(async (server, agent) => {
      for (let i = 0; i < 30; i++)
        await badHandshake(server.url, {
          type: 'goaway',
          code: i % 2 ? 'SHUTDOWN' : 'VERSION_MISMATCH',
          message: 'bye',
        });
      await assertLockedOut(server.url, agent);
    }),
);

test('agents too old for the protocol are refused without counting as failed handshakes', () =>
  onOwnServer(async (server, agent) => {
    // More than the 30 failures a minute: each says hello with versions this server does not speak.
    for (let i = 0; i < 35; i++)
      assert.equal(
        (await badHandshake(server.url, { type: 'hello', version: 99, minVersion: 90, info: {} })).code,
        4004,
      );
    const upgraded = await connectAgent(server.url, agent);
    for (let i = 0; i < 200 && !server.server.hub.isOnline(agent.instanceId); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.server.hub.isOnline(agent.instanceId), true, 'the upgraded agent got in');
    upgraded.ws.close();
    await upgraded.closed;
  }));

test('an instance that connects more than 12 times in a minute is refused for the rest of it, audited once, and its live connection stays', () =>
  onOwnServer(async (server, agent) => {
    const connected = () => auditCount('sesame:AgentConnect', 'succeeded', server);
    const before = await connected();
    let live: Awaited<ReturnType<typeof connectAgent>> | undefined;
    for (let i = 1; i <= 12; i++) {
      live?.ws.close();
      live = await connectAgent(server.url, agent);
      for (let waited = 0; (await connected()) < before + i; waited += 20) {
        assert.ok(waited < 5000, `connection ${i} was not accepted`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    for (let i = 0; i < 3; i++) {
      const attempt = await connectAgent(server.url, agent);
      const closed = await Promise.race([
        attempt.closed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`connection ${13 + i} was not refused`)), 5000).unref(),
        ),
      ]);
      assert.equal(closed.code, 4005);
      assert.match(
        closed.reason,
        /^RATE_LIMITED: this instance connected 12 times within a minute: try again in \d+ s$/,
      );
    }
    const refusals = (await server.server.store.listAudit({ limit: 10_000 })).filter(
      (e) => e.action === 'sesame:AgentConnect' && e.outcome === 'failed',
    );
    assert.deepEqual(
      refusals.map((e) => e.detail.reason),
      ['more than 12 connections within a minute'],
    );
    assert.equal(await connected(), before + 12);
    assert.equal(live?.ws.readyState, 1, 'the refused ones did not replace the live connection');
    assert.equal((await server.server.store.getInstance(agent.instanceId))?.status, 'Online');
    live?.ws.close();
  }));
