import { createPrivateKey, sign } from 'node:crypto';
import { agentProofMessage, type Mux, muxOverWebSocket, type OpenRequest } from '@sesame/protocol';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { AgentIdentity } from './identity.ts';
import { collectInventory } from './inventory.ts';
import type { RunAsUser } from './run-as.ts';
import { serveShell } from './shell.ts';
import { clientDirectFrames, maskingOptions, pinMismatch, pinnedTlsOptions } from './tls-pin.ts';

export type AgentOptions = {
  identity: AgentIdentity;
  runAs: RunAsUser;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** How long to wait after the server refused this agent's identity (15 min, jittered down to half). */
  refusedRetryMs?: number;
  maxSessions?: number;
};

/** Exponential backoff with full jitter in [delay/2, delay]. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(delay / 2 + (random() * delay) / 2);
}

const STABLE_MS = 60_000;

/**
 * The backoff attempt to go on from after a connection closed: back to the start only when that connection
 * finished its handshake and then stayed up for STABLE_MS. Counting from the dial instead reset the backoff after
 * every attempt that hung until the handshake timeout (15 s), so a server that accepts and then stalls got
 * retried every ~15 s by every agent, never backing off. The hellos are not the proof: the server checks the
 * agent's signature after them (a store read) and gives up after its handshake timeout (10 s by default), so a
 * server whose store hangs closes every connection ~10 s after the hellos. STABLE_MS is well past that.
 */
export function attemptAfterClose(attempt: number, readyAt: number | undefined, closedAt: number): number {
  return readyAt !== undefined && closedAt - readyAt > STABLE_MS ? 0 : attempt;
}

/** Keeps one outbound connection to the server, reconnecting forever with backoff; serves shell channels. */
export function runAgent({
  identity,
  runAs,
  log,
  backoff = { initialMs: 500, maxMs: 60_000 },
  refusedRetryMs = 15 * 60_000,
  maxSessions = 64,
}: AgentOptions) {
  const key = createPrivateKey(identity.privateKey);
  const url = `${identity.url.replace(/^http/, 'ws')}/api/v1/agent/connect`;
  let attempt = 0;
  let stopped = false;
  let socket: WebSocket | undefined;
  let mux: Mux | undefined;
  let retry: NodeJS.Timeout | undefined;

  const onOpen = (request: OpenRequest) => {
    if (request.spec.kind !== 'shell')
      return request.reject(
        'INVALID',
        `this agent does not serve ${JSON.stringify(request.spec.kind)} channels`,
      );
    // Closed sessions still delivering their last output (up to a MiB each) count until they are done.
    if ((mux?.channelsInUse ?? 0) > maxSessions)
      return request.reject('UNAVAILABLE', `this agent already runs ${maxSessions} sessions`);
    const channel = request.accept({});
    try {
      serveShell(channel, runAs, log);
    } catch (error) {
      log.error({ err: error }, 'cannot start a shell');
      channel.close('INTERNAL', `the agent could not start a shell: ${(error as Error).message}`);
    }
  };

  /**
   * After a refusal of this agent's identity (deregistered, or registered again elsewhere), retrying every minute
   * would only fill the server's audit trail: the agent says what to do and retries rarely, in case the instance
   * comes back (a restored database).
   */
  let refused: string | undefined;
  const schedule = () => {
    if (stopped) return;
    if (refused !== undefined) {
      const delay = backoffDelay(0, refusedRetryMs, refusedRetryMs);
      log.error(
        { reason: refused, delayMs: delay },
        `the server does not accept this agent (${refused}): register it again with \`sesame-agent register --force\` and a new activation; retrying in ${Math.ceil(delay / 60_000)} min`,
      );
      refused = undefined;
      retry = setTimeout(connect, delay);
      return;
    }
    const delay = backoffDelay(attempt++, backoff.initialMs, backoff.maxMs);
    log.info({ delayMs: delay, attempt }, 'reconnecting');
    retry = setTimeout(connect, delay);
  };

  function connect(): void {
    if (stopped) return;
    let readyAt: number | undefined;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: 1024 * 1024,
      handshakeTimeout: 15_000,
      ...(pinnedTlsOptions(identity.tls) as WebSocket.ClientOptions),
      ...maskingOptions(url),
    });
    socket = ws;
    ws.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'server refused the agent connection');
      ws.terminate();
    });
    ws.on('error', (error) => {
      const pinned = pinMismatch(
        error,
        identity.tls,
        'run `sesame-agent pin --fingerprint <new>`, then restart the agent',
      );
      if (pinned) log.error({ err: error.message }, pinned);
      else log.warn({ err: error.message }, 'agent connection error');
    });
    ws.on('close', () => {
      attempt = attemptAfterClose(attempt, readyAt, Date.now());
      schedule();
    });
    ws.on('open', () => {
      log.info({ url }, 'connected to the server; proving this instance is registered');
      const current: Mux = muxOverWebSocket(
        ws,
        {
          side: 'b',
          onHello: (peer) => {
            const nonce = typeof peer.info.nonce === 'string' ? peer.info.nonce : '';
            const signature = sign(null, agentProofMessage(identity.instanceId, nonce), key).toString(
              'base64',
            );
            current.hello({ instanceId: identity.instanceId, signature, inventory: collectInventory() });
          },
          onOpen,
          onClose: (reason) => {
            log.info({ reason }, 'connection closed');
            if (reason.code === 'UNAUTHENTICATED') refused = reason.message;
          },
          onError: (error) => log.warn({ code: error.code, err: error.message }, 'protocol error'),
          onHandlerError: (error) =>
            log.error({ err: error }, 'internal error on a channel (channel closed)'),
        },
        clientDirectFrames(url),
      );
      mux = current;
      current.ready.then(
        () => {
          readyAt = Date.now();
        },
        () => {}, // closed before the handshake: the close handler reconnects
      );
    });
  }

  connect();
  return {
    get connected(): boolean {
      return socket?.readyState === WebSocket.OPEN;
    },
    stop(): void {
      stopped = true;
      clearTimeout(retry);
      mux?.close('SHUTDOWN', 'the agent is stopping');
      socket?.close();
    },
  };
}
