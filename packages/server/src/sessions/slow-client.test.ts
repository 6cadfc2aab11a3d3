// A signed-in client that opens a shell granting the largest window there is, then stops reading its socket,
// while the shell floods output: the server must hold the agent back (no credit), not buffer the flood. Then the
// client reads again and gets every byte that was made.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Channel, MAX_U32, muxOverWebSocket } from '@sesame/protocol';
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
