// Test support (not a test itself): a real Sesame server on 127.0.0.1 port 0 with a throwaway SQLite data
// directory, its log captured in memory, and small HTTP helpers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createServer, type SesameServer, SYSTEM_PRINCIPAL } from './main.ts';
import { totpAt } from './sign-in/totp.ts';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export type ApiResponse = { status: number; body: Record<string, unknown>; text: string };
export type ApiOptions = {
  token?: string | undefined;
  /** Sent as JSON unless `raw` is given. */
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
};

export type TestServer = {
  server: SesameServer;
  url: string;
  /** Every log line the server wrote, as pino's JSON text. */
  logs: string[];
  /** The administrator's bearer token ('' when started with `signIn: false`). */
  adminToken: string;
  /** The first administrator's setup token (already used unless started with `signIn: false`). */
  setupToken: string;
  api(method: string, path: string, options?: ApiOptions): Promise<ApiResponse>;
  /** Creates a user (as the administrator), completes its setup and returns its bearer token. */
  createUser(username: string, isAdmin?: boolean): Promise<{ id: string; token: string; totpSecret: string }>;
  /** The TOTP secret each user registered at setup (by user name). */
  totpSecrets: Map<string, string>;
  /** A fresh code for the user's authenticator app (waits for the next 30 s step if this one was used). */
  totpCode(username: string): Promise<string>;
  /** Completes a login/setup answer through MFA (enrolment or code) and returns the signed-in answer. */
  finish(username: string, response: ApiResponse): Promise<ApiResponse>;
  /** Password + authenticator code: a bearer token. */
  signIn(username: string, password?: string): Promise<string>;
  /** Gives `username` a new permission set `name` whose inline policy holds `statements`. */
  grant(username: string, name: string, statements: Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
};

export type TestServerOptions = {
  /** Written to the config "file" that loadConfig reads (e.g. `{ agents: { handshakeTimeoutMs: 300 } }`). */
  file?: Record<string, unknown>;
  /** When false, the first administrator's setup token is left unused. */
  signIn?: boolean;
};

/** Builds the API caller for a server URL. */
export function apiClient(url: string) {
  return async (method: string, path: string, options: ApiOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let payload: string | Buffer | undefined = options.raw;
    if (options.json !== undefined) payload = JSON.stringify(options.json);
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    return { status: response.status, body, text };
  };
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sesame-server-test-'));
  const file = options.file ? { path: 'test.json', text: JSON.stringify(options.file) } : undefined;
  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' }, file);
  const logs: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (line: string) => logs.push(line) } });
  const server = await createServer(config, log);
  const announced = await server.listen();
  // The address it listens on: a configured publicUrl (a proxy's address) need not resolve here.
  const address = server.app.server.address();
  const url =
    typeof address === 'object' && address
      ? `${config.tls ? 'https' : 'http'}://127.0.0.1:${address.port}`
      : announced;
  const api = apiClient(url);
  const { setupToken = '' } = await server.identity.bootstrap();
  let adminToken = '';
  const totpSecrets = new Map<string, string>();
  const usedSteps = new Map<string, number>();
  const totpCode = async (username: string): Promise<string> => {
    const secret = totpSecrets.get(username);
    if (!secret) throw new Error(`${username} has no authenticator app registered in this test server`);
    let step = Math.floor(Date.now() / 30_000);
    if ((usedSteps.get(username) ?? -1) >= step) {
      await new Promise((resolve) => setTimeout(resolve, (step + 1) * 30_000 - Date.now() + 50));
      step = Math.floor(Date.now() / 30_000);
    }
    usedSteps.set(username, step);
    return totpAt(secret, step * 30);
  };
  /** Takes a sign-in answer past MFA: registers an authenticator app when asked to, or types its code. */
  const finish = async (username: string, response: ApiResponse): Promise<ApiResponse> => {
    const flow = response.body.flow;
    if (response.status === 200 && response.body.status === 'enrol-required') {
      const enrol = await api('POST', '/api/v1/auth/enrol/totp', { json: { flow } });
      if (enrol.status !== 200) throw new Error(`enrolment failed: ${enrol.text}`);
      totpSecrets.set(username, String(enrol.body.secret));
      return api('POST', '/api/v1/auth/enrol/totp/confirm', {
        json: { flow, code: await totpCode(username), name: 'test phone' },
      });
    }
    if (response.status === 200 && response.body.status === 'mfa-required')
      return api('POST', '/api/v1/auth/mfa', {
        json: { flow, method: 'totp', code: await totpCode(username) },
      });
    return response;
  };
  /** Sets the password, then registers an authenticator app as the default MFA settings require. */
  const completeSetup = async (username: string, token: string): Promise<string> => {
    const response = await finish(
      username,
      await api('POST', '/api/v1/auth/setup', { json: { token, password: ADMIN_PASSWORD } }),
    );
    if (response.status !== 200 || response.body.status !== 'signed-in')
      throw new Error(`setup failed: ${response.text}`);
    return String(response.body.token);
  };
  if (options.signIn !== false) adminToken = await completeSetup('admin', setupToken);
  /** Ordinary users may see and end their own sessions, as the seed policies allow (session/${aws:username}-*). */
  let selfServiceReady = false;
  const selfService = async (username: string) => {
    if (!selfServiceReady) {
      await server.permissions.createPermissionSet(SYSTEM_PRINCIPAL, {
        name: 'SelfService',
        inlinePolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['ssm:DescribeSessions', 'ssm:TerminateSession'],
              Resource: 'arn:aws:ssm:*:*:session/${aws:username}-*',
            },
          ],
        },
      });
      selfServiceReady = true;
    }
    await server.permissions.assign(SYSTEM_PRINCIPAL, {
      permissionSet: 'SelfService',
      principalType: 'user',
      principalName: username,
    });
  };

  return {
    server,
    url,
    logs,
    adminToken,
    setupToken,
    api,
    totpSecrets,
    totpCode,
    finish,
    async signIn(username, password = ADMIN_PASSWORD) {
      const response = await finish(
        username,
        await api('POST', '/api/v1/auth/login', { json: { username, password } }),
      );
      if (response.status !== 200) throw new Error(`sign-in failed: ${response.text}`);
      return String(response.body.token);
    },
    async grant(username, name, statements) {
      await server.permissions.createPermissionSet(SYSTEM_PRINCIPAL, {
        name,
        inlinePolicy: { Version: '2012-10-17', Statement: statements },
      });
      await server.permissions.assign(SYSTEM_PRINCIPAL, {
        permissionSet: name,
        principalType: 'user',
        principalName: username,
      });
    },
    async createUser(username, isAdmin = false) {
      const created = await api('POST', '/api/v1/users', { token: adminToken, json: { username, isAdmin } });
      if (created.status !== 200) throw new Error(`cannot create ${username}: ${created.text}`);
      const user = created.body.user as { id: string };
      if (!isAdmin) await selfService(username);
      const token = await completeSetup(username, String(created.body.setupToken));
      return { id: user.id, token, totpSecret: totpSecrets.get(username) as string };
    },
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns true (or throws the last failure after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Asserts an API error: the status, and `{ error: { code, message } }` with a message matching `pattern`. */
export function assertError(response: ApiResponse, status: number, code: string, pattern: RegExp): string {
  assert.equal(response.status, status, response.text);
  const error = response.body.error as { code: string; message: string } | undefined;
  assert.equal(error?.code, code, response.text);
  assert.match(error?.message ?? '', pattern);
  return error?.message ?? '';
}

/** Six digits that are none of the codes the server accepts for `secret` now (its ±1 step window, and a step more). */
export function wrongTotpCode(secret: string): string {
  const near = [-60, -30, 0, 30, 60].map((offset) => totpAt(secret, Date.now() / 1000 + offset));
  for (let i = 0; ; i++) {
    const code = String(i).padStart(6, '0');
    if (!near.includes(code)) return code;
  }
}
