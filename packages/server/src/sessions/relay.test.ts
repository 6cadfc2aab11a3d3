import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as settle } from 'node:timers/promises';
import { type Channel, Mux, type MuxOptions } from '@sesame/protocol';
import { pipe } from './relay.ts';

/** Two real muxes joined by an in-memory transport (delivery on a later turn, like a socket). */
async function channelPair(options: Partial<MuxOptions> = {}): Promise<{ near: Channel; far: Channel }> {
  let a: Mux | undefined;
  let b: Mux | undefined;
  const link = (to: () => Mux | undefined) => ({
    send: (bytes: Uint8Array) => setImmediate(() => to()?.receive(bytes.slice())),
    close: () => {},
  });
  let accepted: Channel | undefined;
  a = new Mux(
    link(() => b),
    { side: 'a', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0, ...options },
  );
  b = new Mux(
    link(() => a),
    {
      side: 'b',
      keepaliveIntervalMs: 0,
      keepaliveTimeoutMs: 0,
      ...options,
      onOpen: (r) => {
        accepted = r.accept({});
      },
    },
  );
  a.hello({});
  b.hello({});
  const near = await a.open({});
  await settle();
  return { near, far: accepted as Channel };
}

const WINDOW = 64 * 1024;

/**
 * agent ──(agentSide.far → agentSide.near)──▶ relay ──(clientSide.near → clientSide.far)──▶ client
 */
async function relayWith(sink: { write: (d: Uint8Array) => boolean; onDrain: (cb: () => void) => void }) {
  const agentSide = await channelPair({ window: WINDOW, maxData: 16 * 1024 });
  const clientSide = await channelPair({ window: WINDOW, maxData: 16 * 1024 });
  pipe(agentSide.near, clientSide.near, sink);
  return { agent: agentSide.far, client: clientSide.far, relayOut: clientSide.near };
}

test('every chunk is handed to the recorder before it is forwarded', async () => {
  const order: string[] = [];
  let received = 0;
  const { agent, client, relayOut } = await relayWith({
    write: (d) => {
      order.push(`record:${d.length}`);
      return true;
    },
    onDrain: () => {},
  });
  const forward = relayOut.write.bind(relayOut);
  relayOut.write = (data, onSent) => {
    order.push(`forward:${data.length}`);
    return forward(data, onSent);
  };
  client.onData = (d) => {
    received += d.length;
  };
  for (let i = 0; i < 50; i++) agent.write(new Uint8Array(10_000).fill(i));
  for (let i = 0; i < 100 && received < 500_000; i++) await settle();
  assert.equal(received, 500_000);
  assert.ok(order.length > 0 && order.length % 2 === 0);
  for (let i = 0; i < order.length; i += 2) {
    assert.equal(
      order[i]?.replace('record', 'forward'),
      order[i + 1],
      `chunk ${i / 2}: recorded, then forwarded`,
    );
    assert.match(order[i] as string, /^record:/);
  }
});

test('a slow receiver holds the sender back: the relay buffers at most one window', async () => {
  const { agent, client, relayOut } = await relayWith({ write: () => true, onDrain: () => {} });
  client.autoRelease = false; // the client reads nothing
  let got = 0;
  client.onData = (d) => {
    got += d.length;
  };
  agent.write(new Uint8Array(10 * 1024 * 1024));
  for (let i = 0; i < 30; i++) await settle();
  assert.equal(got, WINDOW, 'the client received exactly its window');
  assert.ok(relayOut.bufferedBytes <= WINDOW, `the relay holds ${relayOut.bufferedBytes} bytes`);
  assert.ok(agent.bufferedBytes >= 10 * 1024 * 1024 - 3 * WINDOW, 'the rest waits at the sender');
  client.release(got);
  for (let i = 0; i < 30; i++) await settle();
  assert.ok(got > WINDOW, 'more flows once the client reads');
});

test('a recorder that falls behind stops the credit until it drains; nothing is lost', async () => {
  let behind = true;
  let drain: (() => void) | undefined;
  let recordedBytes = 0;
  const { agent, client } = await relayWith({
    write: (d) => {
      recordedBytes += d.length;
      return !behind;
    },
    onDrain: (cb) => {
      drain = cb;
    },
  });
  let got = 0;
  client.onData = (d) => {
    got += d.length;
  };
  agent.write(new Uint8Array(1024 * 1024));
  for (let i = 0; i < 30; i++) await settle();
  assert.ok(got <= WINDOW, `while the recorder is behind only one window passes (${got})`);
  assert.ok(agent.bufferedBytes >= 1024 * 1024 - WINDOW);
  behind = false;
  drain?.();
  for (let i = 0; i < 200 && got < 1024 * 1024; i++) await settle();
  assert.equal(got, 1024 * 1024);
  assert.equal(recordedBytes, 1024 * 1024);
});
