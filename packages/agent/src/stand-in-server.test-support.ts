// Test support (not a test itself): a real agent (runAgent) against a stand-in server on loopback, a WebSocket and
// a mux with no Sesame server behind it. The stand-in says hello with a nonce and takes the agent's hello without
// checking its signature; the test opens channels on it as the server would.
import { once } from 'node:events';
import { userInfo } from 'node:os';
import type { TestContext } from 'node:test';
import { type Mux, muxOverWebSocket } from '@sesame/protocol';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { type AgentOptions, runAgent } from './agent.ts';
import { generateAgentKeys } from './identity.ts';

/** The server's side of an agent's connection, ready (hellos exchanged); both are stopped after the test. */
export async function agentOnStandInServer(
  t: TestContext,
  options: Pick<AgentOptions, 'maxSessions'> = {},
): Promise<Mux> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  t.after(() => wss.close());
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
    ...options,
  });
  t.after(() => agent.stop());
  const server = await connected;
  await server.ready;
  return server;
}
