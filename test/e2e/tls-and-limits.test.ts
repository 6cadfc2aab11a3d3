/**
 * A server with a self-signed certificate (pinned by fingerprint at registration and sign-in) and short
 * session limits: the idle timeout and the maximum session duration are enforced by the server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAsciicast } from '@sesame/server';
import { selfSignedCertificate } from '../certificates.ts';
import { bins, recordings, runProcess, startSesame } from './harness.ts';

type Sesame = Awaited<ReturnType<typeof startSesame>>;

describe('TLS with a pinned self-signed certificate, and session limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-tls-'));
  const cert = selfSignedCertificate(dir);
  let sesame: Sesame;
  let instanceId: string;

  before(async () => {
    const configFile = join(dir, 'sesame.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        sessions: { idleTimeoutMs: 2500, maxDurationMs: 6000 },
      }),
    );
    sesame = await startSesame({ SESAME_CONFIG: configFile }, { fingerprint: cert.fingerprint });
    assert.match(sesame.url, /^https:\/\//);
    assert.match(sesame.server.output.text, new RegExp(`fingerprint: ${cert.fingerprint}`));
    const agent = await sesame.registerAgent('tls-box');
    instanceId = agent.instanceId;
    sesame.startAgent(agent.identity);
    await sesame.waitForStatus(instanceId, 'Online');
  });
  after(async () => {
    await sesame?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an untrusted certificate is refused unless its fingerprint is given, and a wrong one always', async () => {
    const activation = JSON.parse(
      (await sesame.cli(['admin', 'activations', 'create', '--output', 'json'])).stdout,
    );
    const base = [
      bins.agent,
      'register',
      '--url',
      sesame.url,
      '--activation-id',
      activation.activationId,
      '--activation-code',
      activation.activationCode,
      '--identity',
      join(dir, 'x', 'identity.json'),
    ];
    const unpinned = await runProcess(base);
    assert.equal(unpinned.code, 1);
    assert.match(unpinned.stderr, /not trusted/);
    assert.ok(unpinned.stderr.includes(cert.fingerprint), 'the message shows the fingerprint to compare');
    const wrong = await runProcess([...base, '--fingerprint', 'AA'.repeat(32)]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /this may not be your Sesame server, so nothing was sent to it/);
    const login = await sesame.cli(
      ['login', '--url', sesame.url, '--user', 'admin'],
      'mallory',
      'whatever-password\n',
    );
    assert.equal(login.code, 7);
    assert.match(login.stderr, /not trusted/);
  });

  test('the register command an activation prints keeps the code out of argv and carries the pin', async () => {
    const created = await sesame.cli(['admin', 'activations', 'create']);
    assert.equal(created.code, 0, created.stderr);
    const [, code = '', id = '', fingerprint = ''] =
      /\n {2}SESAME_ACTIVATION_CODE=(\S+) sesame-agent register --url \S+ --activation-id (\S+) --fingerprint (\S+)\n/.exec(
        created.stdout,
      ) ?? [];
    assert.ok(code && id, created.stdout);
    assert.doesNotMatch(created.stdout, /--activation-code/);
    assert.equal(
      fingerprint.replaceAll(':', '').toUpperCase(),
      cert.fingerprint.replaceAll(':', '').toUpperCase(),
    );
    // Run as printed, it registers.
    const registered = await runProcess(
      [
        bins.agent,
        'register',
        '--url',
        sesame.url,
        '--activation-id',
        id,
        '--fingerprint',
        fingerprint,
        '--identity',
        join(dir, 'printed', 'identity.json'),
      ],
      { env: { SESAME_ACTIVATION_CODE: code } },
    );
    assert.equal(registered.code, 0, registered.stderr);
    // `sesame-agent pin` re-checks the certificate against a fingerprint and keeps the same instance.
    const identityPath = join(dir, 'printed', 'identity.json');
    const before = JSON.parse(readFileSync(identityPath, 'utf8'));
    const pin = (fp: string) =>
      runProcess([bins.agent, 'pin', '--fingerprint', fp, '--identity', identityPath]);
    const wrongPin = await pin('AA'.repeat(32));
    assert.equal(wrongPin.code, 1);
    assert.match(wrongPin.stderr, /this may not be your Sesame server/);
    const repinned = await pin(fingerprint);
    assert.equal(repinned.code, 0, repinned.stderr);
    assert.match(repinned.stdout, new RegExp(`${before.instanceId} now trusts .* restart the agent`));
    assert.deepEqual(JSON.parse(readFileSync(identityPath, 'utf8')), before);
  });

  test('http:// to the TLS server: register and login say the URL may need https://', async () => {
    const plain = sesame.url.replace(/^https:/, 'http:');
    const register = await runProcess(
      [
        bins.agent,
        'register',
        '--url',
        plain,
        '--activation-id',
        'act-x',
        '--identity',
        join(dir, 'plain', 'id.json'),
      ],
      { env: { SESAME_ACTIVATION_CODE: 'code' } },
    );
    assert.notEqual(register.code, 0);
    assert.match(register.stderr, new RegExp(`speaks TLS: use ${sesame.url} \\(nothing was registered\\)`));
    const login = await sesame.cli(
      ['login', '--url', plain, '--user', 'admin'],
      'plain',
      'whatever-password\n',
    );
    assert.equal(login.code, 7);
    assert.match(login.stderr, /if the server speaks TLS, its URL starts with https:\/\//);
  });

  test('over TLS, browsers are told to keep to https, and API answers and pages are never cached', async () => {
    const headers = (path: string) =>
      new Promise<IncomingHttpHeaders>((resolve, reject) => {
        // The certificate is self-signed: these requests look only at the headers.
        const request = httpsGet(`${sesame.url}${path}`, { rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve(response.headers);
        });
        request.on('error', reject);
      });
    for (const path of ['/api/v1/me', '/login', '/account']) {
      const h = await headers(path);
      assert.equal(h['strict-transport-security'], 'max-age=31536000', path);
      assert.equal(h['cache-control'], 'no-store', path);
    }
    assert.notEqual((await headers('/assets/api.js'))['cache-control'], 'no-store', 'scripts may be cached');
  });

  test('a session over TLS ends after the idle timeout and the recording says so', async () => {
    const shell = sesame.shell(instanceId);
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    shell.pty.write('echo over-tls\r');
    await shell.output.wait(/[\r\n]over-tls\r?\r\n/);
    assert.equal(await shell.exit, 255);
    assert.match(shell.output.text, /idle timeout/);
    const file = recordings(sesame.dataDir).find((f) => f.endsWith(`${sessionId}.cast`)) as string;
    const { events } = parseAsciicast(readFileSync(file, 'utf8'));
    assert.match(String(events.at(-1)?.[2]), /session ended: idle .*\(idle timeout\)/);
  });

  test('typing keeps a session alive until the maximum duration ends it', async () => {
    const shell = sesame.shell(instanceId);
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    const typing = setInterval(() => shell.pty.write('\r'), 500);
    const code = await shell.exit;
    clearInterval(typing);
    assert.equal(code, 255);
    assert.match(shell.output.text, /maximum session duration reached/);
    const ended = await sesame.endedSession(sessionId as string);
    assert.equal(ended.reason, 'maximum session duration reached');
    // The server's own times: the session outlived the idle timeout, typed into, and ended at the maximum.
    assert.ok(ended.endedAt - ended.startedAt >= 5900, JSON.stringify(ended));
  });
});
