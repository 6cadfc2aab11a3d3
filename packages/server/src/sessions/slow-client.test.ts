// A signed-in client that opens a shell granting the largest window there is, then stops reading its socket,
// while the shell floods output: the server must hold the agent back (no credit), not buffer the flood. Then the
// client reads again and gets every byte that was made.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Channel, encodeFrame, MAX_U32, muxOverWebSocket } from '@sesame/protocol';
import { connectAgent, dial, registerAgent } from '../agents/test-agent.ts';
import { eventually, startTestServer, type TestServer } from '../test-server.ts';

const CHUNK = 32 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

test('a client that stops reading holds back the shell’s output at the agent, not in the server', async () => {
  // The agent's shell writes output as fast as the server gives it credit, until `limit`.
  let produced = 0;
  let limit = 512 * 1024 * 1024;
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  const flood = (channel: Channel) => {
    const pump = () => {
      if (produced >= limit || channel.closed) return;
      produced += CHUNK;
      channel.write(chunk, () => setImmediate(pump));
    };
    for (let i = 0; i < 4; i++) pump();
  };
  const agent = await registerAgent(ts);
  await connectAgent(ts.url, agent, undefined, flood);
  await eventually(async () => {
    const { body } = await ts.api('GET', `/api/v1/instances/${agent.instanceId}`, { token: ts.adminToken });
    return (body.instance as { status: string }).status === 'Online';
  });

  const { ws, opened } = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${ts.adminToken}` });
  const mux = muxOverWebSocket(ws, {
    side: 'b',
    window: MAX_U32,
    keepaliveIntervalMs: 0,
    keepaliveTimeoutMs: 0,
  });
  await opened;
  mux.hello({ client: 'test' });
  const channel = await mux.open({ kind: 'shell', target: agent.instanceId, cols: 80, rows: 24 });
  let received = 0;
  channel.onData = (data) => {
    received += data.length;
  };
  ws.pause(); // reads nothing from here on
  // Until the flood stops moving: the socket buffers of the kernel fill first, then the server's, then credit.
  for (let last = -1; produced !== last; ) {
    last = produced;
    await sleep(500);
  }
  assert.ok(produced < 64 * 1024 * 1024, `the agent was held back after ${produced} bytes`);

  limit = produced;
  ws.resume();
  for (let i = 0; i < 3000 && received < produced; i++) await sleep(10);
  assert.equal(received, produced, 'every byte made reaches the client once it reads');
  channel.close();
  ws.close();
});

test('a client asking for tiny frames (maxData below 1024) is refused, saying why; its connection stays usable', async () => {
  const agent = await registerAgent(ts);
  await connectAgent(ts.url, agent);
  const { ws, opened } = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${ts.adminToken}` });
  const mux = muxOverWebSocket(ws, { side: 'b', maxData: 1, keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  await opened;
  mux.hello({ client: 'test' });
  await assert.rejects(mux.open({ kind: 'shell', target: agent.instanceId, cols: 80, rows: 24 }), {
    code: 'FLOW_CONTROL',
    message:
      /open frame on channel \d+: maxData 1 is below the 1024 bytes this side sends in a frame at least/,
  });
  assert.equal(mux.closed, false);
  mux.close();
});

test('a client that breaks the protocol before its session is accepted gets no shell: the start is failed, not live', async () => {
  const agent = await registerAgent(ts);
  let shells = 0;
  await connectAgent(ts.url, agent, undefined, () => {
    shells += 1;
  });
  const { ws, opened } = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${ts.adminToken}` });
  const mux = muxOverWebSocket(ws, { side: 'b', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  await opened;
  mux.hello({ client: 'test' });
  await mux.ready;
  const spec = { kind: 'shell', target: agent.instanceId, cols: 80, rows: 24 };
  // Data on the channel before the server answered the open: a violation that cancels the request.
  ws.send(encodeFrame({ type: 'open', channel: 2, window: 65_536, maxData: 32_768, spec }));
  ws.send(encodeFrame({ type: 'data', channel: 2, data: new TextEncoder().encode('too soon') }));
  let failed: { state: string; reason: string; instanceId: string } | undefined;
  await eventually(async () => {
    const { body } = await ts.api('GET', '/api/v1/sessions?state=history', { token: ts.adminToken });
    failed = (body.sessions as (typeof failed & object)[]).find((s) => s.instanceId === agent.instanceId);
    return failed !== undefined;
  });
  assert.equal(failed?.state, 'Failed');
  assert.match(failed?.reason ?? '', /^the client left before the session started/);
  const { body } = await ts.api('GET', '/api/v1/sessions?state=active', { token: ts.adminToken });
  assert.deepEqual(body.sessions, []);
  assert.equal(shells, 0, 'the agent started no shell, or closed it at once');
  mux.close();
});

test('a session whose client breaks the protocol ends saying so (not as an ordinary disconnect), in one bounded line', async () => {
  const agent = await registerAgent(ts);
  await connectAgent(ts.url, agent);
  const { ws, opened } = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${ts.adminToken}` });
  const mux = muxOverWebSocket(ws, {
    side: 'b',
    maxData: 4096,
    keepaliveIntervalMs: 0,
    keepaliveTimeoutMs: 0,
  });
  await opened;
  mux.hello({ client: 'test' });
  const channel = await mux.open({ kind: 'shell', target: agent.instanceId, cols: 80, rows: 24 });
  const id = String(channel.info.sessionId);
  // More than the server's maxData in one frame: a flow-control violation on that channel.
  ws.send(encodeFrame({ type: 'data', channel: channel.id, data: new Uint8Array(64 * 1024) }));
  let ended: { state: string; reason: string } | undefined;
  await eventually(async () => {
    const { body } = await ts.api('GET', `/api/v1/sessions/${id}`, { token: ts.adminToken });
    ended = body.session as typeof ended;
    return ended?.state === 'Terminated' || ended?.state === 'Failed';
  });
  assert.match(ended?.reason ?? '', /^client: data frame on channel \d+: 65536 bytes exceeds maxData/);
  mux.close();
});

test("an agent's close message and exit signal are passed on tamed: no control characters, bounded, a real signal name", async () => {
  const agent = await registerAgent(ts);
  await connectAgent(ts.url, agent, undefined, (channel) => {
    channel.onData = () => {
      channel.exit(null, '\u001b]0;pwned\u0007SIGKILL');
      channel.close('WEIRD', `\u001b[2J\r\n\u202e\u2028${'x'.repeat(900)}`);
    };
  });
  const { ws, opened } = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${ts.adminToken}` });
  const mux = muxOverWebSocket(ws, { side: 'b', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  await opened;
  mux.hello({ client: 'test' });
  const channel = await mux.open({ kind: 'shell', target: agent.instanceId, cols: 80, rows: 24 });
  const exits: (string | null)[] = [];
  channel.onExit = (_code, signal) => exits.push(signal);
  channel.write(new Uint8Array([0x61]));
  const id = String(channel.info.sessionId);
  let ended: { state: string; reason: string } | undefined;
  await eventually(async () => {
    const { body } = await ts.api('GET', `/api/v1/sessions/${id}`, { token: ts.adminToken });
    ended = body.session as typeof ended;
    return ended?.state === 'Terminated';
  });
  const reason = ended?.reason ?? '';
  assert.match(reason, /^agent: \?\[2J\?\?\?\?x+…$/);
  assert.ok(reason.length <= 'agent: '.length + 301, `${reason.length} characters`);
  assert.deepEqual(exits, [null], 'a signal that is not a name is not passed on');
  mux.close();
});
