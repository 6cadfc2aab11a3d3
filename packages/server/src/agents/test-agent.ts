// Test support (not a test itself): a hand-driven agent over a real WebSocket with a real Ed25519 key, so a
// test can register, connect, forge, replay or misbehave on purpose; and a client that starts shell sessions.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  agentProofMessage,
  type Channel,
  type JsonObject,
  type Mux,
  muxOverWebSocket,
} from '@sesame/protocol';
import WebSocket from 'ws';
import type { TestServer } from '../test-server.ts';

export type AgentKeys = { publicKey: string; privateKey: KeyObject };

export const INVENTORY = {
  hostname: 'web-1.test',
  platform: 'linux',
  platformVersion: 'test',
  ipAddresses: ['192.0.2.10'],
  agentVersion: '0.0.0-test',
};

export function agentKeys(): AgentKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), privateKey };
}

export function signProof(key: KeyObject, instanceId: string, nonce: string): string {
  return sign(null, agentProofMessage(instanceId, nonce), key).toString('base64');
}

/**
 * Creates an activation as the administrator (`settings`: e.g. defaultInstanceName and
 * defaultTags) and registers a fresh key with it.
 */
export async function registerAgent(
  ts: TestServer,
  settings: Record<string, unknown> = {},
): Promise<{ instanceId: string; keys: AgentKeys }> {
  const created = await ts.api('POST', '/api/v1/activations', { token: ts.adminToken, json: settings });
  const keys = agentKeys();
  const activation = created.body.activation as { id: string };
  const registered = await ts.api('POST', '/api/v1/agent/register', {
    json: {
      activationId: activation.id,
      activationCode: created.body.code,
      publicKey: keys.publicKey,
      inventory: INVENTORY,
    },
  });
  if (registered.status !== 200) throw new Error(`registration failed: ${registered.text}`);
  return { instanceId: String(registered.body.instanceId), keys };
}

export type Closed = { code: number; reason: string };

export type TestAgent = {
  ws: WebSocket;
  mux: Mux;
  /** The nonce the server sent in its hello. */
  nonce: Promise<string>;
  /** The WebSocket close code and reason, once closed. */
  closed: Promise<Closed>;
};

/**
 * Dials a WebSocket. Attach listeners before awaiting `opened`: `ws` may deliver the server's first message
 * right after 'open', before an awaiting caller resumes.
 */
export function dial(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): { ws: WebSocket; opened: Promise<void>; closed: Promise<Closed> } {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { headers, perMessageDeflate: false });
  const closed = new Promise<Closed>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  ws.on('error', () => {}); // 'close' follows
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) =>
      reject(new Error(`WebSocket upgrade refused: HTTP ${response.statusCode}`)),
    );
    ws.once('error', reject);
  });
  return { ws, opened, closed };
}

/** Opens a raw WebSocket (no mux) and reports how it closes. */
export async function openSocket(url: string, path: string, headers: Record<string, string> = {}) {
  const { ws, opened, closed } = dial(url, path, headers);
  await opened;
  return { ws, closed };
}

/**
 * Connects as an agent. `answer` builds the hello from the server's nonce (by default: the proper signed
 * hello for `instanceId`). Shell channels are accepted and handed to `shell`, which by default echoes what they
 * receive.
 */
export async function connectAgent(
  url: string,
  agent: { instanceId: string; keys: AgentKeys },
  answer?: (nonce: string) => JsonObject | undefined,
  shell: (channel: Channel) => void = (channel) => {
    channel.onData = (data) => channel.write(data);
  },
): Promise<TestAgent> {
  const { ws, opened, closed } = dial(url, '/api/v1/agent/connect');
  let gotNonce: (nonce: string) => void = () => {};
  const nonce = new Promise<string>((resolve) => {
    gotNonce = resolve;
  });
  const reply =
    answer ??
    ((n: string) => ({
      instanceId: agent.instanceId,
      signature: signProof(agent.keys.privateKey, agent.instanceId, n),
      inventory: INVENTORY,
    }));
  const mux: Mux = muxOverWebSocket(ws, {
    side: 'b',
    keepaliveIntervalMs: 0,
    keepaliveTimeoutMs: 0,
    onHello: (peer) => {
      const n = typeof peer.info.nonce === 'string' ? peer.info.nonce : '';
      gotNonce(n);
      const info = reply(n);
      if (info) mux.hello(info);
    },
    onOpen: (request) => shell(request.accept({})),
  });
  await opened;
  return { ws, mux, nonce, closed };
}

/** Signs in over /api/v1/connect as a client and starts a shell on `target`. */
export async function startShell(url: string, token: string, target: string) {
  const { ws, opened, closed } = dial(url, '/api/v1/connect', { authorization: `Bearer ${token}` });
  const mux = muxOverWebSocket(ws, { side: 'b', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
  await opened;
  mux.hello({ client: 'test' });
  const channel = await mux.open({ kind: 'shell', target, cols: 80, rows: 24 });
  return { ws, mux, channel, closed };
}

/** Writes `text` on the channel and resolves when the same text came back (the test agent echoes). */
export function echo(channel: Channel, text: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = '';
    const timer = setTimeout(
      () => reject(new Error(`no echo of ${text} (got ${JSON.stringify(received)})`)),
      timeoutMs,
    );
    channel.onData = (data) => {
      received += Buffer.from(data).toString('utf8');
      if (received.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    channel.write(Buffer.from(text, 'utf8'));
  });
}
