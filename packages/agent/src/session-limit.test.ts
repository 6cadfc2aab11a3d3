// The agent's limit on sessions, against a stand-in server on loopback (a WebSocket and a mux, no Sesame
// server): past the limit a shell is refused, and a closed session counts until its channel is done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Channel, ChannelRejectedError } from '@sesame/protocol';
import { agentOnStandInServer } from './stand-in-server.test-support.ts';

test('past maxSessions a shell is refused UNAVAILABLE; a session that ended frees its place', async (t) => {
  const server = await agentOnStandInServer(t, { maxSessions: 2 });
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
