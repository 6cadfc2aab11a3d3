import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { agentProofMessage, type Mux, muxOverWebSocket, type NodeWebSocketLike } from '@sesame/protocol';
import type { Audit } from '../audit.ts';
import type { ServerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { parseInventory } from '../services/activations.ts';
import type { Store } from '../store/index.ts';

type Deps = {
  store: Pick<Store, 'getInstance' | 'setInstanceStatus' | 'updateInventory'>;
  audit: Audit;
  log: Logger;
  settings: ServerConfig['agents'];
  now?: () => number;
};

export type AgentLink = { instanceId: string; mux: Mux; connectedAt: number; sourceAddress: string | null };

const HEARTBEAT_MS = 60_000;

/**
 * Holds the one live connection of each agent. A connection counts only after the agent signed this
 * connection's fresh nonce with the key it registered, so a recorded handshake cannot be replayed.
 */
export function createAgentHub({ store, audit, log, settings, now = Date.now }: Deps) {
  const links = new Map<string, AgentLink>();
  const heartbeat = setInterval(() => {
    for (const id of links.keys()) void store.setInstanceStatus(id, 'Online', now()).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();

  async function authenticate(
    mux: Mux,
    info: Record<string, unknown>,
    nonce: string,
    sourceAddress: string | null,
  ) {
    const instanceId = typeof info.instanceId === 'string' ? info.instanceId.slice(0, 32) : '';
    const signature = typeof info.signature === 'string' ? info.signature : '';
    const instance = instanceId ? await store.getInstance(instanceId) : undefined;
    let valid = false;
    if (instance) {
      try {
        const key = createPublicKey({
          key: Buffer.from(instance.publicKey, 'base64'),
          format: 'der',
          type: 'spki',
        });
        valid = verify(null, agentProofMessage(instanceId, nonce), key, Buffer.from(signature, 'base64'));
      } catch {
        valid = false;
      }
    }
    if (!instance || !valid) {
      log.warn({ instanceId, sourceAddress }, 'agent handshake rejected: unknown instance or bad signature');
      await audit({
        actor: 'agent',
        action: 'sesame:AgentConnect',
        resource: instanceId || '*',
        outcome: 'failed',
        sourceAddress,
        detail: { reason: instance ? 'bad signature' : 'unknown instance' },
      });
      mux.close(
        'UNAUTHENTICATED',
        'agent authentication failed: the instance is not registered or its key does not match; register the agent again',
      );
      return;
    }
    const previous = links.get(instanceId);
    const link: AgentLink = { instanceId, mux, connectedAt: now(), sourceAddress };
    links.set(instanceId, link);
    previous?.mux.close('REPLACED', 'a newer connection of this agent replaced this one');
    try {
      await store.updateInventory(instanceId, parseInventory(info.inventory));
    } catch (error) {
      log.warn(
        { instanceId, err: (error as Error).message },
        'agent sent an invalid inventory; keeping the previous one',
      );
    }
    await store.setInstanceStatus(instanceId, 'Online', now());
    log.info({ instanceId, sourceAddress }, 'agent online');
    await audit({
      actor: 'agent',
      action: 'sesame:AgentConnect',
      resource: instanceId,
      outcome: 'succeeded',
      sourceAddress,
    });
  }

  function disconnected(mux: Mux, reason: { code: string; message: string }) {
    for (const [id, link] of links) {
      if (link.mux !== mux) continue;
      links.delete(id);
      log.info({ instanceId: id, reason }, 'agent connection lost');
      void store
        .setInstanceStatus(id, 'ConnectionLost', now())
        .catch((error) => log.error({ err: error }, 'status update failed'));
    }
  }

  return {
    /** Takes over a freshly upgraded agent WebSocket. */
    accept(socket: NodeWebSocketLike, sourceAddress: string | null): void {
      const nonce = randomBytes(32).toString('base64url');
      let authenticated = false;
      const mux: Mux = muxOverWebSocket(socket, {
        side: 'a',
        keepaliveIntervalMs: settings.keepaliveIntervalMs,
        keepaliveTimeoutMs: settings.keepaliveTimeoutMs,
        onHello: (peer) => {
          void authenticate(mux, peer.info, nonce, sourceAddress).then(() => {
            authenticated = links.get(String(peer.info.instanceId))?.mux === mux;
          });
        },
        onOpen: (request) => request.reject('FORBIDDEN', 'agents cannot open channels to the server'),
        onClose: (reason) => {
          clearTimeout(timer);
          disconnected(mux, reason);
        },
        onError: (error) =>
          log.warn({ code: error.code, err: error.message, sourceAddress }, 'agent protocol error'),
        onHandlerError: (error) =>
          log.error({ err: error, sourceAddress }, 'internal error on an agent channel (channel closed)'),
      });
      const timer = setTimeout(() => {
        if (!authenticated)
          mux.close('HANDSHAKE', `agent did not authenticate within ${settings.handshakeTimeoutMs} ms`);
      }, settings.handshakeTimeoutMs);
      mux.hello({ nonce, server: 'sesame' });
    },

    get(instanceId: string): AgentLink | undefined {
      return links.get(instanceId);
    },

    isOnline(instanceId: string): boolean {
      return links.has(instanceId);
    },

    close(): void {
      clearInterval(heartbeat);
      for (const link of links.values()) link.mux.close('SHUTDOWN', 'the server is shutting down');
      links.clear();
    },
  };
}

export type AgentHub = ReturnType<typeof createAgentHub>;
