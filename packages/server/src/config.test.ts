import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CONFIG, loadConfig } from './config.ts';
import { SesameError } from './errors.ts';

const PATH = '/etc/sesame/config.json';
const MINUTE = 60_000;

/** loadConfig with `file` as the config file's text; returns the SesameError it threw. */
function rejection(env: Record<string, string>, text: string | undefined): SesameError {
  try {
    loadConfig(env, text === undefined ? undefined : { path: PATH, text });
  } catch (error) {
    assert.ok(error instanceof SesameError, `expected a SesameError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID');
    return error;
  }
  assert.fail(`accepted ${text ?? JSON.stringify(env)}`);
}

const json = (value: unknown) => JSON.stringify(value);

// [what, file text, words the message must contain (besides the file path)]
const badFiles: [string, string, string[]][] = [
  ['not JSON', '{"port": 8080', ['not valid JSON']],
  ['trailing text', '{"port": 8080} x', ['not valid JSON']],
  ['an array', '[1, 2]', ['must contain a JSON object']],
  ['a string', '"port"', ['must contain a JSON object']],
  ['null', 'null', ['must contain a JSON object']],
  ['unknown top-level key', json({ prot: 8080 }), ['prot', 'not a known setting', 'port']],
  ['inherited name toString', json({ toString: {} }), ['toString', 'not a known setting']],
  ['inherited name constructor', json({ constructor: {} }), ['constructor', 'not a known setting']],
  ['__proto__', '{"__proto__": {"port": 1}}', ['__proto__', 'not a known setting']],
  ['unknown nested key', json({ sessions: { idleTimeout: 5 } }), ['sessions.idleTimeout', 'idleTimeoutMs']],
  ['unknown tls key', json({ tls: { certFile: 'c', keyFile: 'k', ca: 'x' } }), ['tls.ca']],
  ['nested not an object', json({ sessions: 5 }), ['sessions', 'must be an object']],
  ['nested array', json({ arn: ['aws'] }), ['arn', 'must be an object']],
  ['port as a string', json({ port: '8080' }), ['port', 'integer', '"8080"']],
  ['port fraction', json({ port: 80.5 }), ['port', 'integer']],
  ['port negative', json({ port: -1 }), ['port', '0 to 65535']],
  ['port too big', json({ port: 65536 }), ['port', '0 to 65535']],
  ['host a number', json({ host: 5 }), ['host', 'non-empty string']],
  ['host empty', json({ host: '' }), ['host', 'non-empty string']],
  ['dataDir null', json({ dataDir: null }), ['dataDir']],
  ['logLevel unknown', json({ logLevel: 'loud' }), ['logLevel', 'debug']],
  ['publicUrl not a URL', json({ publicUrl: 'sesame.example.com' }), ['publicUrl', 'must be a URL']],
  ['publicUrl ftp', json({ publicUrl: 'ftp://sesame.example.com' }), ['publicUrl', 'http: or https:']],
  ['databaseUrl mysql', json({ databaseUrl: 'mysql://db/sesame' }), ['databaseUrl', 'postgres:']],
  ['tls without keyFile', json({ tls: { certFile: 'cert.pem' } }), ['tls.keyFile']],
  ['arn account', json({ arn: { account: '123' } }), ['arn.account', '12 digits']],
  ['arn region', json({ arn: { region: 'EU West' } }), ['arn.region']],
  [
    'idle timeout as text',
    json({ sessions: { idleTimeoutMs: '60000' } }),
    ['sessions.idleTimeoutMs', 'integer'],
  ],
  ['idle timeout zero', json({ sessions: { idleTimeoutMs: 0 } }), ['sessions.idleTimeoutMs']],
  ['idle timeout above 60 min', json({ sessions: { idleTimeoutMs: 61 * MINUTE } }), ['idleTimeoutMs']],
  ['max duration 0.5 s', json({ sessions: { maxDurationMs: 500 } }), ['sessions.maxDurationMs', '1000']],
  ['max duration 1441 min', json({ sessions: { maxDurationMs: 1441 * MINUTE } }), ['maxDurationMs']],
  ['sessions per user 0', json({ sessions: { maxPerUser: 0 } }), ['sessions.maxPerUser', '1 to 10000']],
  ['sessions per user 1.5', json({ sessions: { maxPerUser: 1.5 } }), ['sessions.maxPerUser']],
  [
    'recording limit 0',
    json({ sessions: { maxRecordingMiB: 0 } }),
    ['sessions.maxRecordingMiB', '1 to 1048576'],
  ],
  [
    'recording limit above 1 TiB',
    json({ sessions: { maxRecordingMiB: 1048577 } }),
    ['sessions.maxRecordingMiB'],
  ],
  ['recording limit as text', json({ sessions: { maxRecordingMiB: '512' } }), ['sessions.maxRecordingMiB']],
  [
    'idle timeout beyond max duration',
    json({ sessions: { idleTimeoutMs: 30 * MINUTE, maxDurationMs: 10 * MINUTE } }),
    ['sessions.idleTimeoutMs', 'sessions.maxDurationMs'],
  ],
  ['token ttl below a minute', json({ auth: { tokenTtlMs: 1000 } }), ['auth.tokenTtlMs']],
  ['trustProxy not a list', json({ trustProxy: '10.0.0.1' }), ['trustProxy', 'IP addresses or CIDRs']],
  ['trustProxy bad CIDR', json({ trustProxy: ['10.0.0.0/33'] }), ['trustProxy']],
  ['trustProxy a host name', json({ trustProxy: ['proxy.example'] }), ['trustProxy']],
  ['account failures 0', json({ signIn: { maxAccountFailures: 0 } }), ['signIn.maxAccountFailures']],
  ['scrypt cost 2^30', json({ signIn: { scryptLog2N: 30 } }), ['signIn.scryptLog2N']],
  ['smtp without from', json({ smtp: { host: 'mail' } }), ['smtp', 'host and from']],
  ['smtp from not an address', json({ smtp: { host: 'mail', from: 'sesame' } }), ['smtp.from']],
  ['smtp unknown key', json({ smtp: { host: 'mail', from: 'a@b.c', tls: true } }), ['smtp.tls']],
  ['smtp port as text', json({ smtp: { host: 'mail', from: 'a@b.c', port: '25' } }), ['smtp.port']],
  [
    'smtp plaintext not a boolean',
    json({ smtp: { host: 'mail', from: 'a@b.c', plaintext: 'yes' } }),
    ['smtp.plaintext', 'must be true or false'],
  ],
  ['handshake timeout 0', json({ agents: { handshakeTimeoutMs: 0 } }), ['agents.handshakeTimeoutMs']],
  ['handshake timeout 31 s', json({ agents: { handshakeTimeoutMs: 31_000 } }), ['agents.handshakeTimeoutMs']],
  ['keepalive as boolean', json({ agents: { keepaliveIntervalMs: true } }), ['agents.keepaliveIntervalMs']],
];

describe('loadConfig rejects a bad config file, naming the file and the key', () => {
  for (const [what, text, words] of badFiles) {
    test(what, () => {
      const error = rejection({}, text);
      assert.ok(error.message.includes(`config file ${PATH}`), error.message);
      for (const word of words) assert.ok(error.message.includes(word), `"${word}" not in: ${error.message}`);
    });
  }

  test('a database password in a broken file is not quoted back', () => {
    // SESAME_CONFIG pointed at a password file by mistake: V8 quotes short JSON text whole.
    const error = rejection({}, 'sesame:hunter2secret');
    assert.ok(!error.message.includes('hunter2secret'), error.message);
    const badUrl = rejection({}, json({ databaseUrl: 'postgres//sesame:hunter2secret@db' }));
    assert.ok(!badUrl.message.includes('hunter2secret'), badUrl.message);
    // A longer file: V8 quotes the text around the error between "..." marks.
    const long = `{\n  "port": 8080,\n  "smtp": {"host": "mail", "from": "a@b.c", "password": “hunter2secret”}\n}`;
    const quoted = rejection({}, long);
    assert.ok(!quoted.message.includes('hunter2'), quoted.message);
    assert.match(quoted.message, /not valid JSON \(Unexpected token/);
  });

  test('a value of the wrong type under a secret key is not shown, and a JSON error says line and column', () => {
    for (const [value, type] of [
      [12345678, 'number'],
      [{ password: 'hunter2secret' }, 'object'],
    ] as const) {
      for (const file of [
        { smtp: { host: 'mail', from: 'a@b.c', password: value } },
        { smtp: { host: 'mail', from: 'a@b.c', user: value } },
        { databaseUrl: value },
        { secretsKey: value },
      ]) {
        const error = rejection({}, json(file));
        assert.ok(!/12345678|hunter2secret/.test(error.message), error.message);
        assert.match(error.message, new RegExp(`got a ${type}, not shown`));
      }
    }
    assert.match(rejection({}, '{\n  "port": 8080,\n}').message, /not valid JSON \(.* at line 3, column 1\)/);
  });
});

// [variable, value, words the message must contain (besides the variable name)]
const badEnv: [string, string, string[]][] = [
  ['SESAME_PORT', 'http', ['port', '"http"']],
  ['SESAME_TRUST_PROXY', '10.0.0.1,proxy.example', ['trustProxy']],
  ['SESAME_PORT', '70000', ['port', '0 to 65535']],
  ['SESAME_PORT', '-1', ['port']],
  ['SESAME_PORT', '8080.5', ['port']],
  ['SESAME_PUBLIC_URL', 'sesame.example.com', ['publicUrl', 'must be a URL']],
  ['SESAME_PUBLIC_URL', 'ws://sesame.example.com', ['publicUrl', 'http: or https:']],
  ['SESAME_DATABASE_URL', 'mysql://user:hunter2secret@db/sesame', ['databaseUrl', 'postgres:']],
  ['SESAME_DATABASE_URL', 'not a url hunter2secret', ['databaseUrl', 'must be a URL']],
  ['SESAME_LOG_LEVEL', 'verbose', ['logLevel', 'info']],
  ['SESAME_SECRETS_KEY', 'hunter2secret', ['secretsKey', '32 random bytes', '13 characters, not shown']],
];

describe('loadConfig rejects bad environment variables, naming the variable and the key', () => {
  for (const [variable, value, words] of badEnv) {
    test(`${variable}=${value}`, () => {
      const error = rejection({ [variable]: value }, undefined);
      assert.ok(error.message.includes(`environment variable ${variable}`), error.message);
      for (const word of words) assert.ok(error.message.includes(word), `"${word}" not in: ${error.message}`);
      assert.ok(!error.message.includes('hunter2secret'), 'a database password was echoed');
    });
  }
});

describe('loadConfig accepts good configuration', () => {
  test('no file and no variables: the defaults', () => {
    assert.deepEqual(loadConfig({}), DEFAULT_CONFIG);
  });

  test('a complete file', () => {
    const file = {
      host: '0.0.0.0',
      port: 8443,
      publicUrl: 'https://sesame.example.com/',
      dataDir: '/var/lib/sesame',
      databaseUrl: 'postgres://sesame@db/sesame',
      secretsKey: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      tls: { certFile: '/etc/sesame/cert.pem', keyFile: '/etc/sesame/key.pem' },
      trustProxy: ['10.0.0.0/8', '2001:db8::1'],
      logLevel: 'warn',
      arn: { partition: 'aws-us-gov', region: 'us-gov-west-1', account: '123456789012' },
      sessions: {
        idleTimeoutMs: 60 * MINUTE,
        maxDurationMs: 1440 * MINUTE,
        maxPerUser: 10_000,
        maxRecordingMiB: 1,
      },
      auth: {
        tokenTtlMs: MINUTE,
        accessTokenTtlMs: 5 * MINUTE,
        setupTokenTtlMs: 60 * MINUTE,
        failureWindowMs: 10 * MINUTE,
        lockoutMs: 30 * MINUTE,
      },
      signIn: { maxAccountFailures: 3, maxAddressFailures: 100, scryptLog2N: 16 },
      smtp: {
        host: 'smtp.example.com',
        port: 587,
        secure: false,
        plaintext: false,
        user: 'sesame',
        password: 'smtp-secret',
        from: 'Sesame <sesame@example.com>',
      },
      agents: { handshakeTimeoutMs: 100, keepaliveIntervalMs: 5000, keepaliveTimeoutMs: 10 * MINUTE },
    };
    const config = loadConfig({}, { path: PATH, text: json(file) });
    assert.deepEqual(config, { ...file, publicUrl: 'https://sesame.example.com' });
  });

  test('the duration bounds themselves are allowed', () => {
    // The floor is 1 s (not README's 1 min) so that end-to-end tests can watch a session time out.
    const text = json({ sessions: { idleTimeoutMs: 1000, maxDurationMs: 1000 } });
    assert.deepEqual(loadConfig({}, { path: PATH, text }).sessions, {
      idleTimeoutMs: 1000,
      maxDurationMs: 1000,
      maxPerUser: 32,
      maxRecordingMiB: 4096,
    });
  });

  test('a partial nested object keeps the other defaults', () => {
    const config = loadConfig({}, { path: PATH, text: json({ arn: { account: '123456789012' } }) });
    assert.deepEqual(config.arn, { ...DEFAULT_CONFIG.arn, account: '123456789012' });
    assert.deepEqual(config.sessions, DEFAULT_CONFIG.sessions);
  });

  test('environment variables apply, and beat the file', () => {
    const file = {
      path: PATH,
      text: json({ host: '10.0.0.1', port: 9000, logLevel: 'debug', dataDir: '/a' }),
    };
    const env = {
      SESAME_HOST: '::1',
      SESAME_PORT: '0',
      SESAME_PUBLIC_URL: 'http://sesame.test:8080/',
      SESAME_DATA_DIR: '/b',
      SESAME_DATABASE_URL: 'postgresql://db/sesame',
      SESAME_LOG_LEVEL: 'silent',
    };
    const config = loadConfig(env, file);
    assert.equal(config.host, '::1');
    assert.equal(config.port, 0);
    assert.equal(config.publicUrl, 'http://sesame.test:8080');
    assert.equal(config.dataDir, '/b');
    assert.equal(config.databaseUrl, 'postgresql://db/sesame');
    assert.equal(config.logLevel, 'silent');
  });

  test('empty variables are ignored; unrelated variables too', () => {
    const config = loadConfig({ SESAME_PORT: '', SESAME_HOST: '', PATH: '/usr/bin', SESAME_OTHER: 'x' });
    assert.deepEqual(config, DEFAULT_CONFIG);
  });

  test('loading does not change the defaults', () => {
    loadConfig({ SESAME_PORT: '1' }, { path: PATH, text: json({ arn: { region: 'eu-west-1' } }) });
    assert.equal(DEFAULT_CONFIG.port, 8080);
    assert.equal(DEFAULT_CONFIG.arn.region, 'local');
  });
});
