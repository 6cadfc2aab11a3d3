import type { FastifyInstance } from 'fastify';
import { createAccessModel } from './access/access-model.ts';
import { ensureAdministrators } from './access/administrators.ts';
import { createDirectoryService } from './access/directory-service.ts';
import { createPermissionService } from './access/permission-service.ts';
import { createSimulator } from './access/simulator.ts';
import { createAgentHub } from './agents/agent-hub.ts';
import { createAudit } from './audit.ts';
import { createAuthorizer } from './authorize.ts';
import { type ServerConfig, throttleSettings } from './config.ts';
import { claimDataDirectory } from './data-directory.ts';
import { SesameError } from './errors.ts';
import { createGuard } from './guard.ts';
import { buildApp } from './http/app.ts';
import type { Logger } from './log.ts';
import { openServerStore } from './open-server-store.ts';
import { createActivationService } from './services/activations.ts';
import { createAuditTrail } from './services/audit-trail.ts';
import { createIdentityService } from './services/identity.ts';
import { createInstanceCatalog } from './services/instance-catalog.ts';
import { createInventoryService } from './services/inventory.ts';
import { endDanglingSessions } from './sessions/dangling-sessions.ts';
import { createSessionBroker } from './sessions/session-broker.ts';
import { createCliHandoff } from './sign-in/cli-handoff.ts';
import { createIdentityProviders } from './sign-in/identity-providers.ts';
import { createMailer } from './sign-in/mailer.ts';
import { createMfaDevices } from './sign-in/mfa-devices.ts';
import { createMfaEnrolment } from './sign-in/mfa-enrolment.ts';
import { createMfaSettingsService } from './sign-in/mfa-settings-service.ts';
import { createFlows } from './sign-in/sign-in-flows.ts';
import { createSignInService } from './sign-in/sign-in-service.ts';
import { createSignInSessions } from './sign-in/sign-in-sessions.ts';
import { createSsoService } from './sign-in/sso-service.ts';
import { createThrottle } from './sign-in/throttle.ts';
import type { SecretBox, Store } from './store/index.ts';
import { readTlsFiles, type TlsFiles } from './tls-files.ts';

export { SYSTEM_PRINCIPAL } from './system-principal.ts';

export type SesameServer = Awaited<ReturnType<typeof createServer>>;

/** Wires store, services, agent hub, session broker and HTTP app. Call listen() to serve. */
export async function createServer(config: ServerConfig, log: Logger) {
  // Before anything is opened: a start that cannot serve must not end the sessions its last run left.
  const tls = config.tls ? await readTlsFiles(config.tls) : undefined;
  const releaseDataDirectory = await claimDataDirectory(config.dataDir, log);
  try {
    return await wire(config, log, releaseDataDirectory, tls);
  } catch (error) {
    releaseDataDirectory(); // a server that failed to start lets its directory go (an embedding process lives on)
    throw error;
  }
}

async function wire(
  config: ServerConfig,
  log: Logger,
  releaseDataDirectory: () => void,
  tls: TlsFiles | undefined,
) {
  const { store, secrets } = await openServerStore(config, {
    createKey: true,
    onSealed: (sealed) => log.info(sealed, 'sealed the secrets an earlier version stored in the clear'),
  });
  log.info({ secretsKeyId: secrets.box.keyId, from: secrets.source }, 'secrets key');
  try {
    return await assemble(config, log, releaseDataDirectory, store, secrets.box, tls);
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

async function assemble(
  config: ServerConfig,
  log: Logger,
  releaseDataDirectory: () => void,
  store: Store,
  secrets: SecretBox,
  tls: TlsFiles | undefined,
) {
  const now = Date.now;
  // Nothing is connected before we listen: sessions left from a previous run ended with it.
  await store.markAllInstancesConnectionLost();
  const audit = createAudit({ store, log });
  await endDanglingSessions(store, audit, log, config, now());
  const model = createAccessModel({ store, log });
  const makeAdministrator = await ensureAdministrators({ store });
  await model.reload();
  const { authorize, targets } = createAuthorizer({ model });
  const guard = createGuard({ authorize, audit });
  const catalog = createInstanceCatalog({ store, arn: config.arn });
  // Warm it in the background: the first listing after a restart should not pay for reading every instance.
  catalog.all().catch((error: unknown) => log.error({ err: error }, 'cannot load the instance catalog'));
  const hub = createAgentHub({
    store,
    audit,
    log,
    settings: config.agents,
    arn: config.arn,
    onInventory: catalog.refresh,
  });
  let url = '';
  const publicUrl = () => url;
  const mailer = config.smtp ? createMailer({ smtp: config.smtp, log }) : undefined;
  const throttle = createThrottle({ store, ...throttleSettings(config) });
  const flows = createFlows({ store, now });
  const sessions = createSignInSessions({
    store,
    audit,
    arn: config.arn,
    accessTokenTtlMs: config.auth.accessTokenTtlMs,
    // The longest of the person's permission sets decides, as in AWS IAM Identity Center.
    maxSessionMsFor: (userId) => {
      const durations = model.forUser(userId)?.permissionSets.map((p) => p.sessionDurationMs) ?? [];
      return durations.length > 0 ? Math.max(...durations) : config.auth.tokenTtlMs;
    },
  });
  const mfaSettings = createMfaSettingsService({
    store,
    guard,
    audit,
    arn: config.arn,
    mailConfigured: !!mailer,
    log,
  });
  const enrolment = createMfaEnrolment({ store, flows, issuer: 'Sesame', now, secrets });
  const signIn = createSignInService({
    store,
    flows,
    sessions,
    enrolment,
    throttle,
    audit,
    log,
    arn: config.arn,
    mfaSettings: mfaSettings.current,
    mailer,
    issuer: 'Sesame',
    scryptCost: { N: 2 ** config.signIn.scryptLog2N, r: 8, p: 1 },
  });
  const providers = createIdentityProviders({ store, guard, audit, arn: config.arn, publicUrl });
  const sso = createSsoService({
    store,
    providers,
    flows,
    signIn,
    reloadAccess: () => model.reload(),
    audit,
    log,
    arn: config.arn,
  });
  const handoff = createCliHandoff({ store, flows, sessions, audit, publicUrl, arn: config.arn });
  const devices = createMfaDevices({
    store,
    flows,
    enrolment,
    mfaSettings: mfaSettings.current,
    audit,
    arn: config.arn,
  });
  const purge = setInterval(
    () =>
      store
        .purgeExpiredSignInState(now())
        .catch((error: unknown) => log.warn({ err: error }, 'cannot purge expired sign-in state')),
    10 * 60_000,
  );
  purge.unref();
  const identity = createIdentityService({
    store,
    guard,
    audit,
    log,
    arn: config.arn,
    setupTokenTtlMs: config.auth.setupTokenTtlMs,
    publicUrl,
    mailer,
    unlock: throttle.unlock,
    makeAdministrator: async (userId) => {
      await makeAdministrator(userId);
      await model.reload();
    },
  });
  const activations = createActivationService({
    store,
    guard,
    audit,
    arn: config.arn,
    onRegistered: catalog.refresh,
  });
  const inventory = createInventoryService({
    store,
    authorize,
    targets,
    catalog,
    guard,
    audit,
    arn: config.arn,
    isOnline: hub.isOnline,
    lastSeen: hub.lastSeen,
    disconnect: hub.disconnect,
  });
  const broker = createSessionBroker({
    store,
    hub,
    inventory,
    authorize,
    guard,
    audit,
    log,
    arn: config.arn,
    dataDir: config.dataDir,
    settings: config.sessions,
    stillSignedIn: (principal) => sessions.stillSignedIn(principal),
  });
  const directory = createDirectoryService({ store, guard, audit, model, arn: config.arn });
  const permissions = createPermissionService({ store, guard, audit, model, arn: config.arn });
  const simulate = createSimulator({ store, authorize, model, inventory, guard, arn: config.arn });
  const https = tls && { cert: tls.cert, key: tls.key };
  const app: FastifyInstance = await buildApp({
    log,
    identity,
    activations,
    inventory,
    broker,
    hub,
    access: { directory, permissions, simulate, model },
    auditTrail: createAuditTrail({ store, guard, audit }),
    signIn: {
      signIn,
      sessions,
      sso,
      providers,
      handoff,
      devices,
      mfaSettings,
      identity,
      publicUrl: config.publicUrl,
      serverUrl: publicUrl,
      secureCookies: !!https || config.publicUrl?.startsWith('https:') === true,
    },
    https,
    trustProxy: config.trustProxy,
    clientConnectionsPerUser: 2 * config.sessions.maxPerUser,
  });
  /** What agents and CLIs pin for a self-signed certificate (`--fingerprint`). */
  const tlsFingerprint = tls?.fingerprint256;

  return {
    config,
    store,
    identity,
    activations,
    inventory,
    broker,
    hub,
    directory,
    permissions,
    model,
    signIn,
    sessions,
    mfaSettings,
    providers,
    app,
    tlsFingerprint,
    get url(): string {
      return url;
    },
    async listen(): Promise<string> {
      await app.listen({ host: config.host, port: config.port }).catch((error: NodeJS.ErrnoException) => {
        releaseDataDirectory(); // a server that could not listen lets its directory go (the process may live on)
        if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
        throw new SesameError(
          'UNAVAILABLE',
          error.code === 'EADDRINUSE'
            ? `port ${config.port} on ${config.host} is in use (another Sesame server?): stop it, or choose another port (SESAME_PORT)`
            : `port ${config.port} on ${config.host} needs privileges this process does not have: choose a port above 1023 (SESAME_PORT)`,
        );
      });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host.includes(':')
        ? `[${config.host}]`
        : config.host === '0.0.0.0'
          ? '127.0.0.1'
          : config.host;
      url = config.publicUrl ?? `${https ? 'https' : 'http'}://${host}:${port}`;
      log.info({ url }, 'sesame server listening');
      return url;
    },
    async close(): Promise<void> {
      clearInterval(purge);
      await broker.shutdown();
      hub.close();
      // Sessions that were connecting end now that their agents are gone: their recordings and rows are written
      // before the store closes.
      await broker.settled();
      await app.close();
      await store.close();
      releaseDataDirectory();
    },
  };
}
