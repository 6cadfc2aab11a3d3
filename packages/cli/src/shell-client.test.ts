import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Channel, muxOverWebSocket } from '@sesame/protocol';
import { WebSocketServer } from 'ws';
import { ApiClient } from './api.ts';
import { startSession } from './shell-client.ts';

/**
 * A Sesame server's side of the shell protocol, on a real WebSocket on loopback: it accepts the shell channel and
 * hands it to `onShell`.
 */
let server: WebSocketServer;
let onShell: (channel: Channel) => void = () => {};
before(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/api/v1/connect' });
  server.on('connection', (ws) => {
    const mux = muxOverWebSocket(
      ws,
      {
        side: 'a',
        onOpen: (request) => onShell(request.accept({ sessionId: 'admin-0123456789abcdef0' })),
      },
      'server',
    );
    mux.hello({ server: 'test' });
  });
  await new Promise((resolve) => server.once('listening', resolve));
});
after(() => new Promise((resolve) => server.close(resolve)));

/** A terminal whose stdout and stderr write into one transcript, in the order they were written. */
function terminal() {
  const transcript: string[] = [];
  const into = (name: string) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        transcript.push(`${name}:${chunk.toString()}`);
        callback();
      },
    });
  const stdin = new PassThrough() as unknown as typeof process.stdin;
  const stdout = into('out') as unknown as typeof process.stdout;
  const stderr = into('err') as unknown as typeof process.stderr;
  return { io: { stdin, stdout, stderr }, transcript };
}

describe('startSession', () => {
  it('prints the last output before the goodbye when both arrive in one read', async () => {
    // The server sends 'first' at once and corks the rest of the run (muxOverWebSocket), so 'second', 'last line',
    // the exit status and the close arrive together; their data reaches the terminal after 'first', and the
    // goodbye only after it (the close uncorks the terminal first).
    onShell = (channel) => {
      channel.write(Buffer.from('first\r\n'));
      channel.write(Buffer.from('second\r\n'));
      channel.write(Buffer.from('last line\r\n'));
      channel.exit(0, null);
      channel.close('NORMAL', 'exited');
    };
    const { port } = server.address() as AddressInfo;
    const { io, transcript } = terminal();
    const code = await startSession(new ApiClient(`http://127.0.0.1:${port}`, 'token'), 'web-01', io);
    assert.equal(code, 0);
    const out = transcript.filter((entry) => entry.startsWith('out:')).map((entry) => entry.slice(4));
    assert.equal(out.join(''), 'first\r\nsecond\r\nlast line\r\n');
    const last = transcript.findIndex((entry) => entry.includes('last line'));
    const goodbye = transcript.findIndex((entry) => entry.includes('Exiting session with sessionId'));
    assert.ok(last >= 0 && goodbye > last, `transcript: ${JSON.stringify(transcript)}`);
  });
});
