import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer } from 'node:tls';
import { caSignedCertificate, selfSignedCertificate } from '../../../test/certificates.ts';
import { RegistrationError, registerAgent } from './register.ts';
import { isLoopback, pinnedTlsOptions, pinServerCertificate } from './tls-pin.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-register-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const register = (url: string, insecureHttp?: boolean) =>
  registerAgent({
    url,
    activationId: 'act-1',
    activationCode: 'code',
    identityPath: join(dir, 'identity.json'),
    insecureHttp,
  });

describe('registering over plain http', () => {
  it('is refused to another machine, with what to do', async () => {
    for (const url of ['http://sesame.internal:8080', 'http://10.0.0.5', 'http://[2001:db8::1]:8080']) {
      await assert.rejects(register(url), (error: Error) => {
        assert.ok(error instanceof RegistrationError);
        assert.match(error.message, /plain http to another machine/);
        assert.match(error.message, /--insecure-http/);
        return true;
      });
    }
  });

  it('is allowed on this machine, and to another with --insecure-http (it then fails to connect here)', async () => {
    for (const [url, insecure] of [
      ['http://127.0.0.1:9', false],
      ['http://localhost:9', false],
      ['http://[::1]:9', false],
      ['http://sesame.invalid:9', true],
    ] as const) {
      await assert.rejects(register(url, insecure), (error: Error) => {
        assert.doesNotMatch(error.message, /plain http/, url);
        return true;
      });
    }
  });

  it('knows loopback addresses as new URL spells them, and a bare ::1', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1'])
      assert.ok(isLoopback(host), host);
    for (const host of ['10.0.0.1', 'sesame.internal', '[2001:db8::1]', '127.0.0.1.example.com'])
      assert.ok(!isLoopback(host), host);
  });
});

describe('pinning a certificate', () => {
  it('reaches a server by an IPv6 address in brackets', async (t) => {
    const { certFile, keyFile, fingerprint } = selfSignedCertificate(dir);
    const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (s) => s.end());
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return t.skip('no IPv6 loopback on this machine');
    try {
      const { port } = server.address() as AddressInfo;
      const pin = await pinServerCertificate(new URL(`https://[::1]:${port}`), fingerprint);
      assert.equal(pin?.fingerprint256, fingerprint);
    } finally {
      server.close();
    }
  });
});

describe('pinning a certificate from a private CA', () => {
  it('connects with the pin, though the CA is trusted nowhere', async () => {
    const caDir = join(dir, 'private-ca');
    mkdirSync(caDir);
    const { certFile, keyFile, fingerprint } = caSignedCertificate(caDir);
    const server = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_q, r) =>
      r.end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const pin = await pinServerCertificate(new URL(`https://127.0.0.1:${port}`), fingerprint);
      assert.equal(pin?.fingerprint256, fingerprint);
      const body = await new Promise<string>((resolve, reject) => {
        const request = httpsRequest(
          { host: '127.0.0.1', port, path: '/', ...pinnedTlsOptions(pin) },
          (response) => {
            let text = '';
            response.on('data', (chunk) => {
              text += chunk;
            });
            response.on('end', () => resolve(text));
          },
        );
        request.on('error', reject);
        request.end();
      });
      assert.equal(body, 'ok');
    } finally {
      server.close();
    }
  });
});

describe('saving the identity', () => {
  /** A stand-in registration endpoint on loopback that counts the registrations it accepted. */
  async function registrar({ dropAnswers = 0, cutAnswers = 0, refuseAnswers = 0, port = 0 } = {}) {
    let registrations = 0;
    const keys: string[] = [];
    const server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        registrations++;
        keys.push(String(JSON.parse(Buffer.concat(chunks).toString('utf8')).publicKey));
        // Registered, but the answer is lost on the way back.
        if (dropAnswers-- > 0) return request.socket.destroy();
        if (refuseAnswers-- > 0) {
          response.writeHead(401, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({
              error: { code: 'UNAUTHENTICATED', message: 'the activation id or code is wrong' },
            }),
          );
          return;
        }
        // Or cut off in the middle of the answer, after its headers.
        if (cutAnswers-- > 0) {
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          response.write('{"instanceId": "mi-01');
          setTimeout(() => request.socket.destroy(), 20);
          return;
        }
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ instanceId: 'mi-0123456789abcdef0', name: 'web-01' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${address.port}`,
      port: address.port,
      registrations: () => registrations,
      keys,
      close: (done?: () => void) => server.close(done),
    };
  }
  const registerAt = (url: string, identityPath: string, activationId = 'act-1') =>
    registerAgent({ url, activationId, activationCode: 'code', identityPath });

  it('fails before registering when the identity cannot be written, so the activation is not spent', async () => {
    const server = await registrar();
    try {
      writeFileSync(join(dir, 'a-file'), '');
      await assert.rejects(registerAt(server.url, join(dir, 'a-file', 'identity.json')), (error: Error) => {
        assert.ok(error instanceof RegistrationError);
        assert.match(
          error.message,
          /cannot write the agent identity beside .*a-file\/identity\.json: .*nothing was registered/,
        );
        return true;
      });
      assert.equal(server.registrations(), 0);
    } finally {
      server.close();
    }
  });

  it('saves the identity 0600 and leaves no pending key behind', async () => {
    const server = await registrar();
    try {
      const path = join(dir, 'saved', 'identity.json');
      const identity = await registerAt(server.url, path);
      assert.equal(identity.instanceId, 'mi-0123456789abcdef0');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(existsSync(`${path}.pending`), false);
      assert.equal(server.registrations(), 1);
    } finally {
      server.close();
    }
  });

  it('a lost answer keeps the key, and registering again sends the same key (the server answers with its instance)', async () => {
    const server = await registrar({ dropAnswers: 1 });
    try {
      const path = join(dir, 'lost-answer', 'identity.json');
      await assert.rejects(registerAt(server.url, path), (error: Error) => {
        assert.ok(error instanceof RegistrationError);
        assert.match(error.message, /no answer from the Sesame server .* it may have registered this agent/);
        assert.match(error.message, /Run the same command again: it uses the same key/);
        return true;
      });
      assert.equal(statSync(`${path}.pending`).mode & 0o777, 0o600);
      const identity = await registerAt(server.url, path);
      assert.deepEqual(server.keys, [identity.publicKey, identity.publicKey]);
      assert.equal(existsSync(`${path}.pending`), false);
    } finally {
      server.close();
    }
  });

  it('an answer cut off after its headers is a lost answer too (it used to leave register waiting, then exit 0)', {
    timeout: 10_000,
  }, async () => {
    const server = await registrar({ cutAnswers: 1 });
    try {
      const path = join(dir, 'cut-answer', 'identity.json');
      await assert.rejects(
        registerAt(server.url, path),
        /no answer from the Sesame server .*broke during the answer/,
      );
      assert.ok(existsSync(`${path}.pending`));
      const identity = await registerAt(server.url, path);
      assert.deepEqual(server.keys, [identity.publicKey, identity.publicKey]);
    } finally {
      server.close();
    }
  });

  it('a key that an earlier attempt sent stays pending through later failures (it may be registered)', async () => {
    const first = await registrar({ dropAnswers: 1 });
    const path = join(dir, 'kept-key', 'identity.json');
    await assert.rejects(registerAt(first.url, path), /no answer/);
    const key = readFileSync(`${path}.pending`, 'utf8');
    await new Promise<void>((resolve) => first.close(resolve));
    // The server cannot be reached, then it refuses a mistyped code: the key stays, and the message says why.
    await assert.rejects(registerAt(first.url, path), (error: Error) => {
      assert.match(error.message, /cannot reach the Sesame server/);
      assert.match(error.message, /An earlier attempt may have registered this agent: its key stays in /);
      return true;
    });
    const server = await registrar({ refuseAnswers: 1, port: first.port });
    try {
      await assert.rejects(registerAt(server.url, path), (error: Error) => {
        assert.match(error.message, /registration refused: the activation id or code is wrong\./);
        assert.match(error.message, /its key stays in .*run the same command again/);
        return true;
      });
      assert.equal(readFileSync(`${path}.pending`, 'utf8'), key);
      const identity = await registerAt(server.url, path);
      assert.equal(identity.publicKey, first.keys[0]);
      assert.deepEqual(server.keys, [identity.publicKey, identity.publicKey]);
      assert.equal(existsSync(`${path}.pending`), false);
    } finally {
      server.close();
    }
  });

  it('a key left pending for another server or activation is neither reused nor overwritten', async () => {
    const server = await registrar({ dropAnswers: 1 });
    try {
      const path = join(dir, 'other-activation', 'identity.json');
      await assert.rejects(registerAt(server.url, path), /no answer/);
      const key = readFileSync(`${path}.pending`, 'utf8');
      await assert.rejects(
        registerAt(server.url, path, 'act-2'),
        /holds the key of an unfinished registration with another server or activation, which may have gone through/,
      );
      assert.equal(readFileSync(`${path}.pending`, 'utf8'), key);
      assert.equal(server.keys.length, 1, 'nothing was sent');
      rmSync(`${path}.pending`);
      const identity = await registerAt(server.url, path, 'act-2');
      assert.equal(server.keys.length, 2);
      assert.notEqual(server.keys[0], server.keys[1]);
      assert.equal(identity.publicKey, server.keys[1]);
    } finally {
      server.close();
    }
  });

  it('a registration that fails leaves no key behind', async () => {
    const path = join(dir, 'unreachable', 'identity.json');
    await assert.rejects(registerAt('http://127.0.0.1:9', path), /cannot reach the Sesame server/);
    assert.equal(existsSync(`${path}.pending`), false);
    assert.equal(existsSync(path), false);
  });

  it('an existing identity that cannot be read is reported, not taken for none', async () => {
    const path = join(dir, 'damaged.json');
    writeFileSync(path, '{ not json');
    await assert.rejects(registerAt('http://127.0.0.1:9', path), /not valid JSON; .*or pass --force/);
  });
});
