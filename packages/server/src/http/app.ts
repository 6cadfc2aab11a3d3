import { createReadStream } from 'node:fs';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import { muxOverWebSocket, SERVER_MIN_PEER_MAX_DATA, WS_CLOSE_CODES } from '@sesame/protocol';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { AgentHub } from '../agents/agent-hub.ts';
import { httpStatus, SesameError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ActivationService } from '../services/activations.ts';
import type { AuditTrail } from '../services/audit-trail.ts';
import type { IdentityService } from '../services/identity.ts';
import { type InventoryService, instanceSortKey } from '../services/inventory.ts';
import { listing, page, pageQuery } from '../services/pagination.ts';
import type { SessionBroker } from '../sessions/session-broker.ts';
import { createFailureLimiter } from '../sign-in/request-limiter.ts';
import { SesameStoreError } from '../store/index.ts';
import { type AccessServices, registerAccessRoutes } from './access-routes.ts';
import { bearer, body, me, param, parseJsonNoting, refuseNul } from './request.ts';
import {
  createAuthenticate,
  registerSignInRoutes,
  type SignInServices,
  signedInSession,
} from './sign-in-routes.ts';
import { registerWebRoutes } from './web.ts';

export type AppDeps = {
  log: Logger;
  identity: IdentityService;
  activations: ActivationService;
  inventory: InventoryService;
  broker: SessionBroker;
  hub: AgentHub;
  access: AccessServices;
  signIn: SignInServices;
  auditTrail: AuditTrail;
  https?: { cert: Buffer; key: Buffer } | undefined;
  /** Proxies whose X-Forwarded-For gives request.ip (config trustProxy). */
  trustProxy?: string[];
  /** Largest WebSocket message accepted; larger ones close the connection (frames are bounded below this). */
  maxMessageBytes?: number;
  /** Client (CLI, browser) connections one person may hold open at once (64: twice sessions.maxPerUser). */
  clientConnectionsPerUser?: number;
};

const MAX_PATH_VALUE = 300;

/** Builds the HTTP API, the WebSocket endpoints and the web console. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { identity, activations, inventory, broker, hub } = deps;
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Instance names (from host names) go up to 255 characters, in the path when a target is named.
    routerOptions: { maxParamLength: MAX_PATH_VALUE },
    // The router's own refusals, answered like every other error (they bypassed the error handler, with
    // Fastify's codes and the whole URL echoed back).
    frameworkErrors: (error, _request, reply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `a value in the request path is longer than ${MAX_PATH_VALUE} characters; ids and names are shorter`
          : 'the request path is not valid: a % must be followed by two hexadecimal digits (percent-encoding)';
      return (reply as FastifyReply)
        .status(400)
        .type('application/json; charset=utf-8')
        .send({ error: { code: 'INVALID', message } });
    },
    ...(deps.https ? { https: deps.https } : {}),
    ...(deps.trustProxy && deps.trustProxy.length > 0 ? { trustProxy: deps.trustProxy } : {}),
  });
  // API answers (accounts, sessions, recordings) stay out of every cache, the browser's disk cache included;
  // served over TLS directly, browsers are told to keep to https.
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/') || request.url.startsWith('/sso/')) {
      reply.header('cache-control', 'no-store');
      reply.header('x-content-type-options', 'nosniff');
    }
    if (deps.https) reply.header('strict-transport-security', 'max-age=31536000');
  });
  // Before every route's own hooks (a sign-in's throttle, authentication): see refuseNul.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonNoting(json));
  app.addHook('preValidation', async (request) => refuseNul(request));
  await app.register(cookie);
  await app.register(websocket, {
    options: { maxPayload: deps.maxMessageBytes ?? 1024 * 1024 },
    // ws reports a peer's fault (a message over the limit, a malformed WebSocket frame: codes WS_ERR_*) and a
    // dropped connection as an 'error' on the socket, after closing it with the right code. Neither is the
    // server's error, and any peer can cause them at will: one line without a stack.
    // Anything else that lands here (a handler that threw) is the server's own error, logged as one.
    errorHandler: (error, socket, request) => {
      const code = (error as { code?: unknown }).code;
      const line = { url: request.url.split('?')[0], code };
      if (typeof code === 'string' && code.startsWith('WS_ERR_'))
        request.log.warn(line, `WebSocket peer broke the rules: ${error.message}`);
      else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT')
        request.log.info(line, `WebSocket connection failed: ${error.message}`);
      else request.log.error({ ...line, err: error }, 'WebSocket handler failed');
      socket.terminate();
    },
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    const e = error as { code?: unknown; message?: string; statusCode?: number; validation?: unknown };
    // Always JSON, even when the failing route had already set another type (a recording download).
    const send = (status: number, code: string, message: string, details?: unknown) =>
      reply
        .status(status)
        .type('application/json; charset=utf-8')
        .send({ error: { code, message, ...(details === undefined ? {} : { details }) } });
    if (error instanceof SesameError) {
      if (error.code === 'INTERNAL') request.log.error({ err: error.cause ?? error }, 'internal error');
      return send(httpStatus(error.code), error.code, error.message, error.details);
    }
    if (error instanceof SesameStoreError) {
      // A conflict is the caller's to fix (a taken user name); anything else is the database's, for the log.
      if (error.code === 'CONFLICT') return send(409, 'CONFLICT', error.message);
      request.log.error({ err: error }, 'store error');
      return error.code === 'UNAVAILABLE'
        ? send(503, 'UNAVAILABLE', 'the database is unavailable right now; retry in a moment')
        : send(500, 'INTERNAL', 'internal error; the server log has the details');
    }
    if (e.statusCode && e.statusCode < 500) {
      // Fastify's own errors: malformed JSON, body too large, wrong content type.
      const message =
        e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `this endpoint takes a JSON body: send it with Content-Type: application/json (got ${request.headers['content-type'] ? JSON.stringify(request.headers['content-type'].slice(0, 100)) : 'no Content-Type'})`
          : e.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
            ? 'the request body is not valid JSON (keys named __proto__, or constructor holding prototype, are refused too)'
            : e.message;
      return send(e.statusCode, 'INVALID', message ?? 'invalid request');
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(500, 'INTERNAL', 'internal error; the server log has the details');
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `no such endpoint: ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );

  const authenticate = createAuthenticate(deps.signIn.sessions, bearer, deps.signIn.secureCookies);
  const authed = { preValidation: authenticate };
  // The agent endpoint answers a plain HTTP request with a JSON error instead of an empty 404.
  const notAWebSocket = async () => {
    throw new SesameError(
      'INVALID',
      'this endpoint takes a WebSocket connection (from an agent or a Sesame client), not a plain HTTP request',
    );
  };

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/api/v1/me', authed, async (request) => {
    const principal = me(request);
    const session = signedInSession(request);
    const access = deps.access.model.forUser(principal.userId);
    const user = await identity.self(principal);
    return {
      user: {
        userId: principal.userId,
        username: principal.username,
        email: user.email,
        source: user.source,
        sourceAddress: principal.sourceAddress,
        groups: access?.groups ?? [],
        tags: access?.tags ?? {},
        permissionSets: access?.permissionSets.map((p) => p.name) ?? [],
        signIn: {
          sessionId: session.id,
          method: session.method,
          provider: session.providerId,
          client: session.client,
          createdAt: session.createdAt,
          expiresAt: session.expiresAt,
          mfa: { present: session.mfaAt !== null, authenticatedAt: session.mfaAt, method: session.mfaMethod },
        },
      },
    };
  });

  // Users (administration)
  app.get('/api/v1/users', authed, async (request) =>
    listing(
      'users',
      page(await identity.listUsers(me(request)), pageQuery(request.query), (u) => [u.username, u.id]),
    ),
  );
  app.post('/api/v1/users', authed, async (request) => identity.createUser(me(request), body(request)));
  app.get('/api/v1/users/:username', authed, async (request) => ({
    user: await identity.getUser(me(request), param(request, 'username')),
  }));
  app.patch('/api/v1/users/:username', authed, async (request) => ({
    user: await identity.setEmail(me(request), param(request, 'username'), body(request)),
  }));
  app.delete('/api/v1/users/:username', authed, async (request, reply) => {
    await identity.deleteUser(me(request), param(request, 'username'));
    return reply.status(204).send();
  });
  app.post('/api/v1/users/:username/reset', authed, async (request) =>
    identity.resetSetup(me(request), param(request, 'username'), body(request)),
  );
  app.post('/api/v1/users/:username/disable', authed, async (request) => ({
    user: await identity.setDisabled(me(request), param(request, 'username'), true),
  }));
  app.post('/api/v1/users/:username/enable', authed, async (request) => ({
    user: await identity.setDisabled(me(request), param(request, 'username'), false),
  }));
  app.post('/api/v1/users/:username/unlock', authed, async (request, reply) => {
    await identity.unlock(me(request), param(request, 'username'));
    return reply.status(204).send();
  });
  app.get('/api/v1/users/:username/mfa-devices', authed, async (request) => ({
    devices: await identity.listMfaDevices(me(request), param(request, 'username')),
  }));
  app.delete('/api/v1/users/:username/mfa-devices', authed, async (request) => ({
    removed: await identity.resetMfa(me(request), param(request, 'username')),
  }));

  // Activations and agent registration
  app.get('/api/v1/activations', authed, async (request) =>
    listing(
      'activations',
      // Newest first.
      page(await activations.list(me(request)), pageQuery(request.query), (a) => [-a.createdAt, a.id]),
    ),
  );
  app.post('/api/v1/activations', authed, async (request) => activations.create(me(request), body(request)));
  app.delete('/api/v1/activations/:id', authed, async (request, reply) => {
    await activations.remove(me(request), param(request, 'id'));
    return reply.status(204).send();
  });
  // Only failed registrations count against an address: a fleet behind one NAT registers many servers at once.
  const registrationFailures = createFailureLimiter({ limit: 20, windowMs: 60_000 });
  app.post('/api/v1/agent/register', async (request) => {
    registrationFailures.check(request.ip, 'failed agent registrations');
    try {
      const instance = await activations.register(body(request), request.ip);
      return { instanceId: instance.id, name: instance.name };
    } catch (error) {
      if (error instanceof SesameError && error.code !== 'UNAVAILABLE' && error.code !== 'INTERNAL')
        registrationFailures.failed(request.ip);
      throw error;
    }
  });
  app.route({
    method: 'GET',
    url: '/api/v1/agent/connect',
    handler: notAWebSocket,
    wsHandler: (socket, request) => hub.accept(socket, request.ip),
  });

  // Instances
  app.get('/api/v1/instances', authed, async (request) => {
    const query = pageQuery(request.query);
    // The inventory stops once it has found one more than the page holds: later pages skip the decisions.
    const reachable = await inventory.list(me(request), { after: query.after, limit: query.maxResults + 1 });
    return listing('instances', page(reachable, query, instanceSortKey));
  });
  app.get('/api/v1/instances/:target', authed, async (request) => ({
    instance: await inventory.get(me(request), param(request, 'target')),
  }));
  app.put('/api/v1/instances/:target/tags', authed, async (request) => ({
    instance: await inventory.setTags(me(request), param(request, 'target'), request.body),
  }));
  app.patch('/api/v1/instances/:target/tags', authed, async (request) => ({
    instance: await inventory.changeTags(me(request), param(request, 'target'), request.body),
  }));
  app.delete('/api/v1/instances/:target', authed, async (request, reply) => {
    await inventory.remove(me(request), param(request, 'target'));
    return reply.status(204).send();
  });

  // Sessions
  app.get('/api/v1/sessions', authed, async (request) => {
    const state = (request.query as Record<string, string>).state ?? 'active';
    if (state !== 'active' && state !== 'history')
      throw new SesameError('INVALID', 'state must be "active" or "history"');
    return { sessions: await broker.list(me(request), state) };
  });
  app.get('/api/v1/sessions/:id', authed, async (request) => ({
    session: await broker.get(me(request), param(request, 'id')),
  }));
  app.post('/api/v1/sessions/:id/terminate', authed, async (request) => ({
    session: await broker.terminate(me(request), param(request, 'id')),
  }));
  app.get('/api/v1/sessions/:id/recording', authed, async (request, reply) => {
    const id = param(request, 'id');
    const path = await broker.recordingPath(me(request), id);
    return reply.type('application/x-asciicast').send(createReadStream(path));
  });

  // The audit trail, newest first (?actor, ?action, ?resource, ?since, ?until, and pages).
  app.get('/api/v1/audit', authed, async (request) =>
    listing('events', await deps.auditTrail.list(me(request), request.query)),
  );

  // The client connection: one mux per CLI/browser; each channel is a session. Each costs memory even idle, so
  // one person holds a bounded number: refused before the upgrade (429, said plainly), and counted for certain
  // once upgraded (requests checked at once all pass the first look).
  const perUser = deps.clientConnectionsPerUser ?? 64;
  const connections = new Map<string, number>();
  const tooMany = () =>
    `you already have ${perUser} connections open to Sesame, the most one person may: close some sessions first`;
  app.route({
    method: 'GET',
    url: '/api/v1/connect',
    preValidation: [
      authenticate,
      async (request) => {
        if ((connections.get(me(request).userId) ?? 0) >= perUser)
          throw new SesameError('RATE_LIMITED', tooMany());
      },
    ],
    handler: notAWebSocket,
    wsHandler: (socket, request) => {
      const principal = me(request);
      const held = connections.get(principal.userId) ?? 0;
      if (held >= perUser) {
        socket.close(WS_CLOSE_CODES.RATE_LIMITED, `RATE_LIMITED: ${perUser} connections open already`);
        return;
      }
      connections.set(principal.userId, held + 1);
      socket.once('close', () => {
        const left = (connections.get(principal.userId) ?? 1) - 1;
        if (left > 0) connections.set(principal.userId, left);
        else connections.delete(principal.userId);
      });
      const mux = muxOverWebSocket(
        socket,
        {
          side: 'a',
          minPeerMaxData: SERVER_MIN_PEER_MAX_DATA,
          onOpen: (open) => {
            if (open.spec.kind === 'shell')
              broker.startShell(principal, open).catch((error) => {
                request.log.error({ err: error }, 'session start failed unexpectedly');
                try {
                  open.reject('INTERNAL', 'the session could not be started; try again');
                } catch {
                  // already answered
                }
              });
            else
              open.reject(
                'INVALID',
                `unknown channel kind ${JSON.stringify(open.spec.kind)}; this server supports "shell"`,
              );
          },
          onError: (error) =>
            request.log.warn({ code: error.code, err: error.message }, 'client protocol error'),
          onHandlerError: (error) =>
            request.log.error({ err: error }, 'internal error on a client channel (channel closed)'),
        },
        'server',
      );
      mux.hello({ server: 'sesame', user: principal.username });
    },
  });

  registerAccessRoutes(app, deps.access, authed);
  registerSignInRoutes(app, deps.signIn, authed);
  registerWebRoutes(app);
  return app;
}
