// The agent's limit on sessions, against a stand-in server on loopback (a WebSocket and a mux, no Sesame
// server): past the limit a shell is refused, and a closed session counts until its channel is done.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { type Channel, ChannelRejectedError, type Mux, muxOverWebSocket } from '@sesame/protocol';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { runAgent } from './agent.ts';
import { generateAgentKeys } from './identity.ts';

test('past maxSessions a shell is refused UNAVAILABLE; a session that ended frees its place', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  t.after(() => wss.close());
  // The stand-in server: says hello with a nonce and takes the agent's hello without checking its signature.
  const connected = new Promise<Mux>((resolve) =>
    wss.once('connection', (socket) => {
      const mux = muxOverWebSocket(socket, { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
      mux.hello({ nonce: 'n' });
      resolve(mux);
    }),
  );
  const me = userInfo();
  const agent = runAgent({
    identity: {
      version: 1,
      url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`,
      instanceId: 'mi-0123456789abcdef0',
      name: 'web',
      ...generateAgentKeys(),
      tls: null,
    },
    runAs: { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, shell: '/bin/sh' },
    log: pino({ level: 'silent' }),
    maxSessions: 2,
  });
  t.after(() => agent.stop());
  const server = await connected;
  await server.ready;
  const shell = () => server.open({ kind: 'shell', cols: 80, rows: 24 });
  const closed = (channel: Channel) => new Promise<void>((resolve) => (channel.onClose = () => resolve()));

  const first = await shell();
  const second = await shell();
  await assert.rejects(shell(), (error: Error) => {
    assert.ok(error instanceof ChannelRejectedError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /this agent already runs 2 sessions/);
    return true;
  });
  // The first session ends (its shell exits); once its channel is closed on both sides, a new one fits.
  const done = closed(first);
  first.write(new TextEncoder().encode('exit\n'));
  await done;
  const third = await shell();
  assert.ok(third, 'a place was freed');
  await assert.rejects(shell(), /this agent already runs 2 sessions/);
  second.close('NORMAL', 'test over');
  third.close('NORMAL', 'test over');
});
