import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeFrame, type JsonObject } from '@sesame/protocol';
import type { PublicInstance } from '../services/inventory.ts';
import { eventually, startTestServer, type TestServer } from '../test-server.ts';
import {
  type AgentKeys,
  agentKeys,
  connectAgent,
  echo,
  INVENTORY,
  openSocket,
  registerAgent,
  signProof,
  startShell,
} from './test-agent.ts';

// Wide enough that every real handshake in this file (client and server in one process) finishes well within it.
const HANDSHAKE_TIMEOUT_MS = 1500;

let ts: TestServer;
before(async () => {
  ts = await startTestServer({ file: { agents: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS } } });
});
after(() => ts.close());

async function status(instanceId: string): Promise<string | undefined> {
  const response = await ts.api('GET', '/api/v1/instances', { token: ts.adminToken });
  return (response.body.instances as PublicInstance[]).find((i) => i.id === instanceId)?.status;
}

const online = (instanceId: string) => eventually(async () => (await status(instanceId)) === 'Online');

async function connectAttempts(instanceId: string) {
  const events = await ts.server.store.listAudit({ actor: 'agent', limit: 1000 });
  return events
    .filter(
      (e) =>
        e.action === 'sesame:AgentConnect' &&
        (e.resource === instanceId || e.resource.endsWith(`instance/${instanceId}`)),
    )
    .map((e) => `${e.outcome}${e.detail.reason ? ` (${e.detail.reason})` : ''}`);
}

describe('agent handshake', () => {
  test('an agent that signs the nonce with its key goes Online, and is audited', async () => {
    const agent = await registerAgent(ts);
    // By the instance's ARN, as the other actions on it are, so one filter finds its whole history.
    const [registered] = await ts.server.store.listAudit({ action: 'ssm:RegisterInstance', limit: 1 });
    assert.match(
      String(registered?.resource),
      new RegExp(`^arn:aws:(ec2|ssm):local:000000000000:(managed-)?instance/${agent.instanceId}$`),
    );
    assert.equal(await status(agent.instanceId), 'ConnectionLost');
    const connection = await connectAgent(ts.url, agent);
    await online(agent.instanceId);
    assert.deepEqual(await connectAttempts(agent.instanceId), ['succeeded']);
    const stored = await ts.server.store.getInstance(agent.instanceId);
    assert.equal(stored?.hostname, INVENTORY.hostname);
    connection.ws.close();
    await eventually(async () => (await status(agent.instanceId)) === 'ConnectionLost');
  });

  test("the instance listing's last seen follows the agent: now while connected, then when it went", async () => {
    const agent = await registerAgent(ts);
    const lastSeen = async () => {
      const response = await ts.api('GET', '/api/v1/instances', { token: ts.adminToken });
      return (response.body.instances as PublicInstance[]).find((i) => i.id === agent.instanceId)?.lastSeenAt;
    };
    const connection = await connectAgent(ts.url, agent);
    await online(agent.instanceId);
    const whileOnline = await lastSeen();
    assert.ok(typeof whileOnline === 'number' && Date.now() - whileOnline < 5000, `${whileOnline}`);
    await new Promise((r) => setTimeout(r, 50));
    const before = Date.now();
    connection.ws.close();
    await eventually(async () => (await status(agent.instanceId)) === 'ConnectionLost');
    const gone = (await lastSeen()) as number;
    assert.ok(gone >= before && gone <= Date.now(), `${gone} is when it went, after ${before}`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await lastSeen(), gone, 'and stays so');
  });

  test('a signature made with another key: closed with 4001, not Online', async () => {
    const agent = await registerAgent(ts);
    const impostor = await connectAgent(ts.url, { instanceId: agent.instanceId, keys: agentKeys() });
    const closed = await impostor.closed;
    assert.equal(closed.code, 4001);
    assert.match(closed.reason, /UNAUTHENTICATED/);
    assert.equal(await status(agent.instanceId), 'ConnectionLost');
    assert.deepEqual(await connectAttempts(agent.instanceId), ['failed (bad signature)']);
  });

  test('a hello replayed from another connection is refused; the real agent stays connected', async () => {
    const agent = await registerAgent(ts);
    let captured: JsonObject | undefined;
    const real = await connectAgent(ts.url, agent, (nonce) => {
      captured = {
        instanceId: agent.instanceId,
        signature: signProof(agent.keys.privateKey, agent.instanceId, nonce),
        inventory: INVENTORY,
      };
      return captured;
    });
    await online(agent.instanceId);
    let replayedNonce = '';
    const replay = await connectAgent(ts.url, agent, (nonce) => {
      replayedNonce = nonce;
      return captured;
    });
    assert.equal((await replay.closed).code, 4001);
    assert.notEqual(replayedNonce, await real.nonce, 'each connection gets its own nonce');
    assert.equal(real.ws.readyState, real.ws.OPEN);
    assert.equal(await status(agent.instanceId), 'Online');
    assert.deepEqual(await connectAttempts(agent.instanceId), ['succeeded', 'failed (bad signature)']);
    real.ws.close();
  });

  test('an unknown instance id, or none: closed with 4001', async () => {
    const keys: AgentKeys = agentKeys();
    const unknown = await connectAgent(ts.url, { instanceId: 'mi-00000000000000000', keys });
    assert.equal((await unknown.closed).code, 4001);
    assert.deepEqual(await connectAttempts('mi-00000000000000000'), ['failed (unknown instance)']);
    const anonymous = await connectAgent(ts.url, { instanceId: '', keys }, () => ({ hello: 'there' }));
    assert.equal((await anonymous.closed).code, 4001);
    // Not an instance id (a NUL would fail PostgreSQL's lookup): not looked up, audited on no instance.
    const before = (await connectAttempts('*')).length;
    const garbage = await connectAgent(ts.url, { instanceId: 'mi-0000000000000000\u0000', keys });
    assert.equal((await garbage.closed).code, 4001);
    assert.deepEqual((await connectAttempts('*')).slice(before), ['failed (unknown instance)']);
  });

  test('an agent that never says hello is closed after the handshake timeout', async () => {
    const started = Date.now();
    const { closed } = await openSocket(ts.url, '/api/v1/agent/connect');
    const { code, reason } = await closed;
    assert.equal(code, 4001);
    assert.match(reason, new RegExp(`HANDSHAKE.*within ${HANDSHAKE_TIMEOUT_MS} ms`));
    assert.ok(Date.now() - started >= HANDSHAKE_TIMEOUT_MS - 50, 'closed before the timeout');
  });

  test('an authenticated agent outlives the handshake timeout', async () => {
    const agent = await registerAgent(ts);
    const connection = await connectAgent(ts.url, agent);
    await online(agent.instanceId);
    await new Promise((resolve) => setTimeout(resolve, HANDSHAKE_TIMEOUT_MS * 2));
    assert.equal(connection.ws.readyState, connection.ws.OPEN);
    assert.equal(await status(agent.instanceId), 'Online');
    connection.ws.close();
  });

  test('a second connection of the same agent replaces the first', async () => {
    const agent = await registerAgent(ts);
    const first = await connectAgent(ts.url, agent);
    await online(agent.instanceId);
    const second = await connectAgent(ts.url, agent);
    const closed = await first.closed;
    assert.equal(closed.code, 4002);
    assert.match(closed.reason, /REPLACED/);
    assert.equal(await status(agent.instanceId), 'Online');
    assert.deepEqual(await connectAttempts(agent.instanceId), ['succeeded', 'succeeded']);
    assert.equal(second.ws.readyState, second.ws.OPEN);
    second.ws.close();
  });
});

describe('a misbehaving agent connection closes alone', () => {
  let bystander: Awaited<ReturnType<typeof registerAgent>>;
  let shell: Awaited<ReturnType<typeof startShell>>;
  before(async () => {
    bystander = await registerAgent(ts);
    await connectAgent(ts.url, bystander);
    await online(bystander.instanceId);
    shell = await startShell(ts.url, ts.adminToken, bystander.instanceId);
    await echo(shell.channel, 'before');
  });
  after(() => shell.channel.close());

  const misbehaviours: [string, (ws: import('ws').WebSocket) => void, number][] = [
    ['a text message', (ws) => ws.send('{"type":"hello"}', { binary: false }), 1002],
    ['garbage bytes', (ws) => ws.send(Buffer.from([0xff, 0xfe, 0, 1, 2, 3, 4, 5]), { binary: true }), 1002],
    ['a frame for channel 0 of an unknown type', (ws) => ws.send(Buffer.from([99, 0, 0, 0, 0])), 1002],
    [
      'a frame larger than the frame limit',
      (ws) => ws.send(encodeFrame({ type: 'data', channel: 7, data: new Uint8Array(300 * 1024) })),
      1002,
    ],
    ['a message larger than the WebSocket limit', (ws) => ws.send(Buffer.alloc(2 * 1024 * 1024)), 1009],
  ];

  for (const [what, misbehave, expectedCode] of misbehaviours) {
    test(what, async () => {
      const agent = await registerAgent(ts);
      const connection = await connectAgent(ts.url, agent);
      await online(agent.instanceId);
      misbehave(connection.ws);
      assert.equal((await connection.closed).code, expectedCode);
      await eventually(async () => (await status(agent.instanceId)) === 'ConnectionLost');
      assert.equal(await status(bystander.instanceId), 'Online');
      await echo(shell.channel, `after ${what}`);
      if (expectedCode === 1009) {
        // The peer's fault: a warning that says what, not an error with a stack.
        const line = ts.logs.map((l) => JSON.parse(l)).find((l) => /Max payload size exceeded/.test(l.msg));
        assert.ok(line, 'the oversized message is logged');
        assert.equal(line.level, 40);
        assert.equal(line.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
        assert.equal(line.err, undefined);
      }
    });
  }

  test('before the handshake, too', async () => {
    const { ws, closed } = await openSocket(ts.url, '/api/v1/agent/connect');
    ws.send('not a frame');
    assert.equal((await closed).code, 1002);
    assert.equal(await status(bystander.instanceId), 'Online');
    await echo(shell.channel, 'after an early text message');
  });

  test('an agent may not open channels to the server; its connection stays', async () => {
    const agent = await registerAgent(ts);
    const connection = await connectAgent(ts.url, agent);
    await online(agent.instanceId);
    await assert.rejects(connection.mux.open({ kind: 'shell' }), /agents cannot open channels/);
    assert.equal(await status(agent.instanceId), 'Online');
    connection.ws.close();
  });
});
