// A shell that exited while a background job still holds its terminal: node-pty has reaped it, but reports the
// exit only once the terminal closes. A session ended meanwhile must not signal the shell's pid (which may belong
// to another process by then: the agent runs as root) nor resize a terminal nobody is on. Against a stand-in
// server on loopback (a WebSocket and a mux, no Sesame server).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentOnStandInServer } from './stand-in-server.test-support.ts';

test('a session ended after its shell was reaped sends no signal to that pid', async (t) => {
  const server = await agentOnStandInServer(t);
  const shell = await server.open({ kind: 'shell', cols: 80, rows: 24 });
  let output = '';
  shell.onData = (data) => {
    output += Buffer.from(data).toString('latin1');
  };
  const closed = new Promise<void>((resolve) => (shell.onClose = () => resolve()));
  shell.write(new TextEncoder().encode('echo "PID=$$"; sleep 3 & exit\n'));
  const deadline = Date.now() + 10_000;
  while (!/PID=(\d+)/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const pid = Number(/PID=(\d+)/.exec(output)?.[1]);
  assert.ok(pid > 0, `the shell said its pid: ${JSON.stringify(output)}`);
  // The shell is gone (reaped) within moments; its exit is held back while `sleep` holds the terminal.
  const gone = Date.now() + 5_000;
  while (Date.now() < gone) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 400)); // past node-pty's 200 ms wait for the terminal to close

  const signalled: [number, string | number | undefined][] = [];
  const kill = process.kill;
  process.kill = ((target: number, signal?: string | number) => {
    signalled.push([target, signal]);
    return kill.call(process, target, signal);
  }) as typeof process.kill;
  t.after(() => {
    process.kill = kill;
  });
  shell.resize(100, 30); // nobody to tell: must not end the channel with an error
  shell.close('NORMAL', 'the session ended');
  await closed;
  await new Promise((r) => setTimeout(r, 300));
  process.kill = kill;
  assert.deepEqual(
    signalled.filter(([target]) => target === pid),
    [],
    'no signal to the reaped shell pid',
  );
});
