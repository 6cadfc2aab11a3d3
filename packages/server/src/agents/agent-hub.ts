import { createPublicKey, randomBytes, verify } from 'node:crypto';
import {
  agentProofMessage,
  type Mux,
  muxOverWebSocket,
  type NodeWebSocketLike,
  SERVER_MIN_PEER_MAX_DATA,
  WS_CLOSE_CODES,
} from '@sesame/protocol';
import { type ArnSettings, instanceIdArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { ServerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { parseInventory } from '../services/activations.ts';
import { INSTANCE_ID } from '../services/inventory.ts';
import { createFailureLimiter } from '../sign-in/request-limiter.ts';
import { networkOf } from '../sign-in/throttle.ts';
import type { Store } from '../store/index.ts';

type Deps = {
  store: Pick<Store, 'getInstance' | 'setInstanceStatus' | 'updateInventory'>;
  audit: Audit;
  log: Logger;
  settings: ServerConfig['agents'];
  /** For the instances' ARNs in the audit trail. */
  arn: ArnSettings;
  /** Told when an agent reported a new inventory (the instance catalog). */
  onInventory?: (instanceId: string) => Promise<void>;
  now?: () => number;
};

export type AgentLink = { instanceId: string; mux: Mux; connectedAt: number; sourceAddress: string | null };

const HEARTBEAT_MS = 60_000;
/**
 * Failed handshakes per address and minute after which the address's connections are closed unread: each failure
 * costs a store read and an audit row. A fleet of deregistered agents behind one NAT retries every 15 minutes.
 */
const HANDSHAKE_FAILURES_PER_MINUTE = 30;
/** Agent handshakes (hello to signature checked) under way at once from one address. */
const MAX_HANDSHAKES_PER_ADDRESS = 16;
/**
 * Connections one instance may complete in a minute. Each costs store writes and an audit row; the agent backs off
 * from a connection that did not last (0.5 s doubling to 60 s, back to the start only after 60 s up), so even one
 * that loses every connection at once connects about ten times in its first minute and far fewer after. More is a
 * loop (a changed agent, or its key used elsewhere) that would fill the audit trail: it is refused until the
 * minute is over, and audited once.
 */
const CONNECTS_PER_INSTANCE_PER_MINUTE = 12;
const CONNECT_WINDOW_MS = 60_000;

/**
 * Holds the one live connection of each agent. A connection counts only after the agent signed this
 * connection's fresh nonce with the key it registered, so a recorded handshake cannot be replayed.
 */
export function createAgentHub({ store, audit, log, settings, arn, onInventory, now = Date.now }: Deps) {
  const links = new Map<string, AgentLink>();
  /** When each agent that connected during this run went (the instance listing's last seen). */
  const lostAt = new Map<string, number>();
  /** Handshakes under way, by source address. */
  const handshaking = new Map<string, number>();
  let closing = false;
  const failures = createFailureLimiter({ limit: HANDSHAKE_FAILURES_PER_MINUTE, windowMs: 60_000, now });
  /** Connections completed in the current minute, by instance (only instances whose key was checked). */
  const connects = new Map<string, { start: number; count: number; refused: boolean }>();
  const heartbeat = setInterval(() => {
    for (const id of links.keys()) void store.setInstanceStatus(id, 'Online', now()).catch(() => {});
    for (const [id, window] of connects) if (window.start + CONNECT_WINDOW_MS <= now()) connects.delete(id);
  }, HEARTBEAT_MS);
  heartbeat.unref();

  async function authenticate(
    mux: Mux,
    info: Record<string, unknown>,
    nonce: string,
    sourceAddress: string | null,
    authenticated: () => void,
  ) {
    // Only an instance id is looked up (anything else, a NUL for one, would be PostgreSQL's error, not a failure).
    const instanceId =
      typeof info.instanceId === 'string' && INSTANCE_ID.test(info.instanceId) ? info.instanceId : '';
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
      failures.failed(sourceAddress);
      log.warn({ instanceId, sourceAddress }, 'agent handshake rejected: unknown instance or bad signature');
      await audit({
        actor: 'agent',
        action: 'sesame:AgentConnect',
        resource: instanceId ? instanceIdArn(arn, instanceId) : '*',
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
    // The connection may have gone (or timed out) while the instance was looked up: a closed mux must never
    // become the instance's link, or the instance would look Online with nothing behind it.
    if (mux.closed) return;
    if (await tooManyConnects(mux, instanceId, sourceAddress)) return;
    // The server shut down while this agent was being checked: no new link after close().
    if (closing) {
      mux.close('SHUTDOWN', 'the server is shutting down');
      return;
    }
    authenticated();
    lostAt.delete(instanceId);
    const previous = links.get(instanceId);
    const link: AgentLink = { instanceId, mux, connectedAt: now(), sourceAddress };
    links.set(instanceId, link);
    previous?.mux.close('REPLACED', 'a newer connection of this agent replaced this one');
    // Deregistered while the instance was looked up: the removal found no link to close then. The link is in
    // place now, so a removal from here on closes it, and one before shows here.
    if (!(await store.getInstance(instanceId))) {
      mux.close('UNAUTHENTICATED', 'this instance was deregistered');
      return;
    }
    try {
      await store.updateInventory(instanceId, parseInventory(info.inventory));
      await onInventory?.(instanceId);
    } catch (error) {
      log.warn(
        { instanceId, err: (error as Error).message },
        'agent sent an invalid inventory; keeping the previous one',
      );
    }
    // Lost or replaced meanwhile: the status is no longer this connection's to set.
    if (links.get(instanceId) === link) await store.setInstanceStatus(instanceId, 'Online', now());
    log.info({ instanceId, sourceAddress }, 'agent online');
    await audit({
      actor: 'agent',
      action: 'sesame:AgentConnect',
      resource: instanceIdArn(arn, instanceId),
      outcome: 'succeeded',
      sourceAddress,
    });
  }

  /** Counts a connection of `instanceId`; past the minute's limit closes it (true), audited once a minute. */
  async function tooManyConnects(
    mux: Mux,
    instanceId: string,
    sourceAddress: string | null,
  ): Promise<boolean> {
    const t = now();
    let window = connects.get(instanceId);
    if (!window || window.start + CONNECT_WINDOW_MS <= t) {
      window = { start: t, count: 0, refused: false };
      connects.set(instanceId, window);
    }
    if (window.count < CONNECTS_PER_INSTANCE_PER_MINUTE) {
      window.count += 1;
      return false;
    }
    const seconds = Math.ceil((window.start + CONNECT_WINDOW_MS - t) / 1000);
    mux.close(
      'RATE_LIMITED',
      `this instance connected ${CONNECTS_PER_INSTANCE_PER_MINUTE} times within a minute: try again in ${seconds} s`,
    );
    if (!window.refused) {
      window.refused = true;
      const reason = `more than ${CONNECTS_PER_INSTANCE_PER_MINUTE} connections within a minute`;
      log.warn(
        { instanceId, sourceAddress },
        `agent connection refused: ${reason} (refused until the minute is over)`,
      );
      await audit({
        actor: 'agent',
        action: 'sesame:AgentConnect',
        resource: instanceIdArn(arn, instanceId),
        outcome: 'failed',
        sourceAddress,
        detail: { reason },
      });
    }
    return true;
  }

  function disconnected(mux: Mux, reason: { code: string; message: string }) {
    for (const [id, link] of links) {
      if (link.mux !== mux) continue;
      links.delete(id);
      const at = now();
      lostAt.set(id, at);
      log.info({ instanceId: id, reason }, 'agent connection lost');
      void store
        .setInstanceStatus(id, 'ConnectionLost', at)
        .catch((error) => log.error({ err: error }, 'status update failed'));
    }
  }

  return {
    /** Takes over a freshly upgraded agent WebSocket. */
    accept(socket: NodeWebSocketLike, sourceAddress: string | null): void {
      try {
        failures.check(sourceAddress, 'failed agent handshakes');
      } catch (error) {
        log.debug({ sourceAddress }, 'agent connection refused: too many failed handshakes from its address');
        socket.close(WS_CLOSE_CODES.RATE_LIMITED, `RATE_LIMITED: ${(error as Error).message}`);
        return;
      }
      // Failures are counted once checked; connections sent at once would all get past that count before any
      // is checked (each a store read and an audit row), and ones that never say hello hold a socket each until
      // the handshake timeout. So only a few handshakes at a time from one address, counted by network as the
      // failures are (one host usually holds a whole IPv6 /64 and could walk through it).
      const from = sourceAddress ? networkOf(sourceAddress) : 'unknown';
      const inFlight = handshaking.get(from) ?? 0;
      if (inFlight >= MAX_HANDSHAKES_PER_ADDRESS) {
        log.debug(
          { sourceAddress },
          'agent connection refused: too many handshakes at once from its address',
        );
        socket.close(
          WS_CLOSE_CODES.RATE_LIMITED,
          `RATE_LIMITED: ${MAX_HANDSHAKES_PER_ADDRESS} agent handshakes from your address are under way: try again in a few seconds`,
        );
        return;
      }
      handshaking.set(from, inFlight + 1);
      let settled = false;
      const handshakeOver = () => {
        if (settled) return;
        settled = true;
        const left = (handshaking.get(from) ?? 1) - 1;
        if (left > 0) handshaking.set(from, left);
        else handshaking.delete(from);
      };
      const nonce = randomBytes(32).toString('base64url');
      let saidHello = false;
      let tooOld = false;
      const mux: Mux = muxOverWebSocket(
        socket,
        {
          side: 'a',
          minPeerMaxData: SERVER_MIN_PEER_MAX_DATA,
          keepaliveIntervalMs: settings.keepaliveIntervalMs,
          keepaliveTimeoutMs: settings.keepaliveTimeoutMs,
          onHello: (peer) => {
            saidHello = true;
            // The handshake timeout bounds proving the key, not the inventory and status writes that follow.
            const authenticated = () => {
              clearTimeout(timer);
              handshakeOver();
            };
            authenticate(mux, peer.info, nonce, sourceAddress, authenticated).catch((error: unknown) => {
              // A store failure must cost this connection only (an unhandled rejection would stop the server).
              log.error({ err: error, sourceAddress }, 'agent handshake failed');
              mux.close('INTERNAL', 'the server could not check the agent identity; the agent will retry');
            });
          },
          onOpen: (request) => request.reject('FORBIDDEN', 'agents cannot open channels to the server'),
          onClose: (reason) => {
            clearTimeout(timer);
            // A connection that held its place and went (or was timed out) without even saying hello counts as a
            // failed handshake, so a host that keeps the places full is stopped by the failure count like one
            // sending bad signatures, however it times its closes. (An agent says hello as soon as it connects.) An
            // agent too old for this server's protocol is not: a fleet of old agents behind one address must not lock
            // the upgraded ones out. (Found by this side: a peer's own goaway says what it likes.)
            if (!saidHello && !tooOld) failures.failed(sourceAddress);
            handshakeOver();
            disconnected(mux, reason);
          },
          onError: (error) => {
            if (error.code === 'VERSION_MISMATCH') tooOld = true;
            log.warn({ code: error.code, err: error.message, sourceAddress }, 'agent protocol error');
          },
          onHandlerError: (error) =>
            log.error({ err: error, sourceAddress }, 'internal error on an agent channel (channel closed)'),
        },
        'server',
      );
      // (One that said hello by then is still being checked: a slow store is not the agent's failure.)
      const timer = setTimeout(
        () => mux.close('HANDSHAKE', `agent did not authenticate within ${settings.handshakeTimeoutMs} ms`),
        settings.handshakeTimeoutMs,
      );
      mux.hello({ nonce, server: 'sesame' });
    },

    get(instanceId: string): AgentLink | undefined {
      return links.get(instanceId);
    },

    /** Ends an agent's connection (its instance was deregistered); its sessions end with it. */
    disconnect(instanceId: string): void {
      links.get(instanceId)?.mux.close('UNAUTHENTICATED', 'this instance was deregistered');
    },

    isOnline(instanceId: string): boolean {
      return links.has(instanceId);
    },

    lastSeen(instanceId: string): number | undefined {
      return links.has(instanceId) ? now() : lostAt.get(instanceId);
    },

    close(): void {
      closing = true;
      clearInterval(heartbeat);
      for (const link of links.values()) link.mux.close('SHUTDOWN', 'the server is shutting down');
      links.clear();
    },
  };
}

export type AgentHub = ReturnType<typeof createAgentHub>;
