import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { dial } from '../agents/test-agent.ts';
import { startTestServer, type TestServer } from '../test-server.ts';

// sessions.maxPerUser 1: one session, and two client connections, per person.
let ts: TestServer;
before(async () => {
  ts = await startTestServer({ file: { sessions: { maxPerUser: 1 } } });
});
after(() => ts.close());

test('a person holds at most twice sessions.maxPerUser client connections: the next is refused, said plainly', async () => {
  const auth = { authorization: `Bearer ${ts.adminToken}` };
  const held = [dial(ts.url, '/api/v1/connect', auth), dial(ts.url, '/api/v1/connect', auth)];
  await Promise.all(held.map((c) => c.opened));
  const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(`${ts.url.replace(/^http/, 'ws')}/api/v1/connect`, { headers: auth });
    ws.once('open', () => reject(new Error('a third connection was let in')));
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (d: Buffer) => {
        body += String(d);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
  });
  assert.equal(refused.status, 429);
  assert.match(
    JSON.parse(refused.body).error.message,
    /already have 2 connections open to Sesame, the most one person may/,
  );
  // Another person is not affected; and closing one makes room.
  const { token } = await ts.createUser('carol');
  const other = dial(ts.url, '/api/v1/connect', { authorization: `Bearer ${token}` });
  await other.opened;
  held[0]?.ws.close();
  await held[0]?.closed;
  await new Promise((r) => setTimeout(r, 50));
  const again = dial(ts.url, '/api/v1/connect', auth);
  await again.opened;
  for (const c of [held[1], other, again]) c?.ws.close();
  await Promise.all([held[1], other, again].map((c) => c?.closed));
});
