import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer } from 'node:tls';
import { selfSignedCertificate } from '../../../test/certificates.ts';
import { RegistrationError, registerAgent } from './register.ts';
import { isLoopback, pinServerCertificate } from './tls-pin.ts';

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

  it('knows loopback addresses as new URL spells them', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) assert.ok(isLoopback(host), host);
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
