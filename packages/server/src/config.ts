import { isIP } from 'node:net';
import { SesameError } from './errors.ts';
import { parseSecretsKey } from './secrets-key.ts';

/** Server configuration. Durations carry their unit in the name; secrets have no defaults. */
export type ServerConfig = {
  host: string;
  port: number;
  /** The URL people and agents use to reach this server (printed links, agent registration). */
  publicUrl: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
  /**
   * Seals the secrets the database keeps (TOTP secrets, OIDC client secrets): 32 bytes, hex or base64. Unset, the
   * data directory's secrets.key is used (made on the first start); servers sharing a database need the same key.
   */
  secretsKey: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  /**
   * Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs). Without it every person behind a
   * proxy has the proxy's address: one lockout for all, and "context-change" MFA cannot tell places apart.
   */
  trustProxy: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  arn: { partition: string; region: string; account: string };
  /**
   * maxPerUser: sessions one person may have open (starting or running) at once; twice as many connections.
   * maxRecordingMiB: the most one session's recording may hold; the session ends when it gets there.
   */
  sessions: { idleTimeoutMs: number; maxDurationMs: number; maxPerUser: number; maxRecordingMiB: number };
  auth: {
    /** Sign-in session length for someone with no permission set (which otherwise sets it). */
    tokenTtlMs: number;
    /** Life of one CLI access token; the CLI refreshes it until the sign-in session ends. */
    accessTokenTtlMs: number;
    setupTokenTtlMs: number;
    /** Failures are counted over this window; too many lock the account (or address) for lockoutMs. */
    failureWindowMs: number;
    lockoutMs: number;
  };
  signIn: {
    maxAccountFailures: number;
    maxAddressFailures: number;
    /** scrypt cost for new password hashes: N = 2^scryptLog2N. */
    scryptLog2N: number;
  };
  smtp: SmtpConfig | undefined;
  agents: { handshakeTimeoutMs: number; keepaliveIntervalMs: number; keepaliveTimeoutMs: number };
};

export type SmtpConfig = {
  host: string;
  port: number;
  secure: boolean;
  /** Allow a mail server on another machine that offers no STARTTLS (codes and links then cross in clear). */
  plaintext: boolean;
  user: string | undefined;
  password: string | undefined;
  from: string;
};

const MINUTE = 60_000;

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8080,
  publicUrl: undefined,
  dataDir: '.sesame',
  databaseUrl: undefined,
  secretsKey: undefined,
  tls: undefined,
  trustProxy: [],
  logLevel: 'info',
  arn: { partition: 'aws', region: 'local', account: '000000000000' },
  sessions: {
    idleTimeoutMs: 20 * MINUTE,
    maxDurationMs: 1440 * MINUTE,
    maxPerUser: 32,
    maxRecordingMiB: 4096,
  },
  auth: {
    tokenTtlMs: 60 * MINUTE,
    accessTokenTtlMs: 15 * MINUTE,
    setupTokenTtlMs: 7 * 24 * 60 * MINUTE,
    failureWindowMs: 15 * MINUTE,
    lockoutMs: 15 * MINUTE,
  },
  signIn: { maxAccountFailures: 5, maxAddressFailures: 50, scryptLog2N: 15 },
  smtp: undefined,
  agents: { handshakeTimeoutMs: 10_000, keepaliveIntervalMs: 15_000, keepaliveTimeoutMs: 45_000 },
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** The nested duration settings and the range each accepts, in milliseconds. */
const DURATIONS = {
  sessions: { idleTimeoutMs: [1000, 60 * MINUTE], maxDurationMs: [1000, 1440 * MINUTE] },
  auth: {
    tokenTtlMs: [MINUTE, 7 * 24 * 60 * MINUTE],
    accessTokenTtlMs: [MINUTE, 24 * 60 * MINUTE],
    setupTokenTtlMs: [MINUTE, 30 * 24 * 60 * MINUTE],
    failureWindowMs: [1000, 24 * 60 * MINUTE],
    lockoutMs: [1000, 24 * 60 * MINUTE],
  },
  agents: {
    // Under the agents' 60 s of a stable connection (agent.ts STABLE_MS): a store that hangs until this timeout
    // must not look to them like a connection that held, or they would redial it without backing off.
    handshakeTimeoutMs: [100, 30_000],
    keepaliveIntervalMs: [100, 10 * MINUTE],
    keepaliveTimeoutMs: [100, 10 * MINUTE],
  },
} as const satisfies Record<string, Record<string, readonly [number, number]>>;

const KNOWN_KEYS: Record<string, readonly string[] | null> = {
  host: null,
  port: null,
  publicUrl: null,
  dataDir: null,
  databaseUrl: null,
  secretsKey: null,
  tls: ['certFile', 'keyFile'],
  trustProxy: null,
  logLevel: null,
  arn: ['partition', 'region', 'account'],
  sessions: [...Object.keys(DURATIONS.sessions), 'maxPerUser', 'maxRecordingMiB'],
  auth: Object.keys(DURATIONS.auth),
  agents: Object.keys(DURATIONS.agents),
  signIn: ['maxAccountFailures', 'maxAddressFailures', 'scryptLog2N'],
  smtp: ['host', 'port', 'secure', 'plaintext', 'user', 'password', 'from'],
};

const SIGN_IN_LIMITS = {
  maxAccountFailures: [1, 1000],
  maxAddressFailures: [1, 100_000],
  scryptLog2N: [10, 20],
} as const;

/** Where a value came from. Environment variables are text, so only they may spell numbers as digits. */
type Source = { where: string; text: boolean };

function fail(source: Source, key: string, problem: string): never {
  throw new SesameError('INVALID', `${source.where}: ${key} ${problem}`);
}

/** Keys whose values are never shown in an error (the message goes to the console and on into logs). */
const SECRET_KEYS = new Set(['databaseUrl', 'secretsKey', 'smtp.user', 'smtp.password']);

function str(source: Source, key: string, value: unknown, pattern?: RegExp, hint?: string): string {
  const got = () =>
    SECRET_KEYS.has(key)
      ? `got a ${value === null ? 'null' : typeof value}, not shown`
      : `got ${show(value)}`;
  if (typeof value !== 'string' || value.length === 0)
    fail(source, key, `must be a non-empty string (${got()})`);
  if (pattern && !pattern.test(value)) fail(source, key, `${hint ?? `must match ${pattern}`} (${got()})`);
  return value;
}

function int(source: Source, key: string, value: unknown, min: number, max: number, unit = ''): number {
  const n = source.text && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(source, key, `must be an integer${unit} from ${min} to ${max} (got ${show(value)})`);
  }
  return n;
}

/**
 * What JSON.parse said, without the text V8 quotes from around the error (the file may hold a password): its
 * first clause, and the line and column when V8 gives a position.
 */
function jsonProblem(error: unknown, text: string): string {
  const message = (error as Error).message;
  const clause = message.split(/,\s*(?:\.\.\.)?"/)[0] ?? message;
  const at = / in JSON at position (\d+)/.exec(clause);
  if (!at) return clause;
  const before = text.slice(0, Number(at[1])).split('\n');
  return `${clause.slice(0, at.index)} at line ${before.length}, column ${(before.at(-1) ?? '').length + 1}`;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function url(source: Source, key: string, value: unknown, protocols: string[]): string {
  const text = str(source, key, value);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    fail(source, key, `must be a URL (got ${SECRET_KEYS.has(key) ? 'a value not shown' : show(text)})`);
  }
  if (!protocols.includes(parsed.protocol)) fail(source, key, `must use ${protocols.join(' or ')}`);
  return text;
}

/** A group of duration settings: each given one is checked against its range, the others keep their value. */
function durations(
  source: Source,
  group: keyof typeof DURATIONS,
  input: Record<string, unknown>,
  current: Record<string, number>,
): Record<string, number> {
  const next = { ...current };
  for (const [name, [min, max]] of Object.entries(DURATIONS[group]) as [
    string,
    readonly [number, number],
  ][]) {
    if (input[name] !== undefined)
      next[name] = int(source, `${group}.${name}`, input[name], min, max, ' of milliseconds');
  }
  return next;
}

function applyObject(config: ServerConfig, input: Record<string, unknown>, source: Source): void {
  for (const [key, value] of Object.entries(input)) {
    // Object.hasOwn: `toString`, `constructor` or `__proto__` are not settings even though every object has them.
    const nested = Object.hasOwn(KNOWN_KEYS, key) ? KNOWN_KEYS[key] : undefined;
    if (nested === undefined)
      fail(source, key, `is not a known setting (known: ${Object.keys(KNOWN_KEYS).join(', ')})`);
    if (nested) {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        fail(source, key, 'must be an object');
      for (const inner of Object.keys(value)) {
        if (!nested.includes(inner))
          fail(source, `${key}.${inner}`, `is not a known setting (known: ${nested.join(', ')})`);
      }
    }
    applyValue(config, key, value, source);
  }
}

function applyValue(config: ServerConfig, key: string, value: unknown, source: Source): void {
  const v = value as Record<string, unknown>;
  switch (key) {
    case 'host':
      config.host = str(source, key, value);
      break;
    case 'port':
      config.port = int(source, key, value, 0, 65535);
      break;
    case 'publicUrl':
      config.publicUrl = url(source, key, value, ['http:', 'https:']).replace(/\/+$/, '');
      break;
    case 'dataDir':
      config.dataDir = str(source, key, value);
      break;
    case 'databaseUrl':
      config.databaseUrl = url(source, key, value, ['postgres:', 'postgresql:']);
      break;
    case 'secretsKey': {
      const parsed = parseSecretsKey(str(source, key, value));
      if (!Buffer.isBuffer(parsed)) fail(source, key, parsed.problem);
      config.secretsKey = value as string;
      break;
    }
    case 'logLevel':
      if (!LOG_LEVELS.includes(value as never)) fail(source, key, `must be one of ${LOG_LEVELS.join(', ')}`);
      config.logLevel = value as ServerConfig['logLevel'];
      break;
    case 'trustProxy': {
      const list = source.text && typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' && isAddressOrCidr(v)))
        fail(
          source,
          key,
          `must be a list of IP addresses or CIDRs, e.g. ["10.0.0.0/8"] (got ${show(value)})`,
        );
      config.trustProxy = list as string[];
      break;
    }
    case 'tls':
      config.tls = {
        certFile: str(source, 'tls.certFile', v.certFile),
        keyFile: str(source, 'tls.keyFile', v.keyFile),
      };
      break;
    case 'arn':
      config.arn = {
        partition:
          v.partition === undefined
            ? config.arn.partition
            : str(source, 'arn.partition', v.partition, /^[a-z-]+$/),
        region:
          v.region === undefined ? config.arn.region : str(source, 'arn.region', v.region, /^[a-z0-9-]+$/),
        account:
          v.account === undefined
            ? config.arn.account
            : str(source, 'arn.account', v.account, /^\d{12}$/, 'must be 12 digits'),
      };
      break;
    case 'signIn':
      for (const [name, [min, max]] of Object.entries(SIGN_IN_LIMITS)) {
        if (v[name] !== undefined)
          config.signIn[name as keyof typeof SIGN_IN_LIMITS] = int(
            source,
            `signIn.${name}`,
            v[name],
            min,
            max,
          );
      }
      break;
    case 'smtp':
      config.smtp = smtp(source, v, config.smtp);
      break;
    case 'sessions':
      config.sessions = {
        ...(durations(source, key, v, config.sessions) as ServerConfig['sessions']),
        maxPerUser:
          v.maxPerUser === undefined
            ? config.sessions.maxPerUser
            : int(source, 'sessions.maxPerUser', v.maxPerUser, 1, 10_000),
        maxRecordingMiB:
          v.maxRecordingMiB === undefined
            ? config.sessions.maxRecordingMiB
            : int(source, 'sessions.maxRecordingMiB', v.maxRecordingMiB, 1, 1024 * 1024),
      };
      break;
    case 'auth':
    case 'agents':
      config[key] = durations(source, key, v, config[key]) as never;
      break;
  }
}

function smtp(source: Source, v: Record<string, unknown>, current: SmtpConfig | undefined): SmtpConfig {
  const optional = (key: string) =>
    v[key] === undefined ? current?.[key as 'user'] : str(source, `smtp.${key}`, v[key]);
  const host = v.host === undefined ? current?.host : str(source, 'smtp.host', v.host);
  const from =
    v.from === undefined
      ? current?.from
      : str(source, 'smtp.from', v.from, /^[^\s@]+@[^\s@]+$|<[^\s@]+@[^\s@]+>$/, 'must be an email address');
  if (!host || !from) fail(source, 'smtp', 'needs at least host and from');
  const flag = (key: 'secure' | 'plaintext') => {
    const value = v[key] === undefined ? (current?.[key] ?? false) : v[key];
    if (typeof value !== 'boolean' && !(source.text && (value === 'true' || value === 'false')))
      fail(source, `smtp.${key}`, `must be true or false (got ${show(value)})`);
    return value === true || value === 'true';
  };
  return {
    host,
    port: v.port === undefined ? (current?.port ?? 587) : int(source, 'smtp.port', v.port, 1, 65535),
    secure: flag('secure'),
    plaintext: flag('plaintext'),
    user: optional('user'),
    password: optional('password'),
    from,
  };
}

function isAddressOrCidr(value: string): boolean {
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const ENV_KEYS: Record<string, string> = {
  SESAME_HOST: 'host',
  SESAME_PORT: 'port',
  SESAME_PUBLIC_URL: 'publicUrl',
  SESAME_DATA_DIR: 'dataDir',
  SESAME_DATABASE_URL: 'databaseUrl',
  SESAME_SECRETS_KEY: 'secretsKey',
  SESAME_LOG_LEVEL: 'logLevel',
  SESAME_TRUST_PROXY: 'trustProxy',
};

/**
 * Pure: builds the configuration from defaults, then the JSON config file's text (if any), then environment
 * variables. Throws SesameError('INVALID') naming the file or variable and the key that is wrong.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  file?: { path: string; text: string },
): ServerConfig {
  const config: ServerConfig = structuredClone(DEFAULT_CONFIG);
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(file.text);
    } catch (error) {
      throw new SesameError(
        'INVALID',
        `config file ${file.path}: not valid JSON (${jsonProblem(error, file.text)})`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SesameError('INVALID', `config file ${file.path}: must contain a JSON object`);
    }
    applyObject(config, parsed as Record<string, unknown>, {
      where: `config file ${file.path}`,
      text: false,
    });
  }
  for (const [variable, key] of Object.entries(ENV_KEYS)) {
    const value = env[variable];
    if (value !== undefined && value !== '')
      applyValue(config, key, value, { where: `environment variable ${variable}`, text: true });
  }
  const smtpEnv: Record<string, string> = {};
  for (const name of KNOWN_KEYS.smtp ?? []) {
    const value = env[`SESAME_SMTP_${name.toUpperCase()}`];
    if (value !== undefined && value !== '') smtpEnv[name] = value;
  }
  if (Object.keys(smtpEnv).length > 0)
    config.smtp = smtp({ where: 'environment variables SESAME_SMTP_*', text: true }, smtpEnv, config.smtp);
  if (config.sessions.idleTimeoutMs > config.sessions.maxDurationMs) {
    const { idleTimeoutMs, maxDurationMs } = config.sessions;
    throw new SesameError(
      'INVALID',
      `${file ? `config file ${file.path}` : 'configuration'}: sessions.idleTimeoutMs (${idleTimeoutMs}) must not exceed sessions.maxDurationMs (${maxDurationMs})`,
    );
  }
  return config;
}

/** The sign-in throttle's settings (createThrottle), as the server and `sesame-server recover` both use them. */
export function throttleSettings(config: ServerConfig) {
  return {
    windowMs: config.auth.failureWindowMs,
    lockoutMs: config.auth.lockoutMs,
    limits: { account: config.signIn.maxAccountFailures, address: config.signIn.maxAddressFailures },
  };
}
