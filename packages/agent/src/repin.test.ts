import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { caSignedCertificate, selfSignedCertificate } from '../../../test/certificates.ts';
import { runAgent } from './agent.ts';
import { type AgentIdentity, generateAgentKeys, loadIdentity, saveIdentity } from './identity.ts';
import { RegistrationError, repinAgent } from './register.ts';
import { pinMismatch, pinnedTlsOptions, pinServerCertificate, type TlsPin } from './tls-pin.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-repin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function certificate(name: string, kind: 'self' | 'ca' = 'self') {
  const at = join(dir, name);
  mkdirSync(at);
  return kind === 'self' ? selfSignedCertificate(at) : caSignedCertificate(at);
}

/** An https server on loopback that shows `cert` (the server's certificate after it was replaced). */
async function serverWith(cert: { certFile: string; keyFile: string }) {
  const server = createServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (_q, r) => r.end('ok'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A GET with only `pin` trusted: the error it fails with, or undefined when it got through. */
function getWithPin(url: string, pin: TlsPin): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const req = request(`${url}/`, pinnedTlsOptions(pin), (res) => {
      res.resume();
      res.on('end', () => resolve(undefined));
    });
    req.on('error', resolve);
    req.end();
  });
}

describe("the server's certificate was replaced after it was pinned", () => {
  const now = certificate('now');
  let current: Awaited<ReturnType<typeof serverWith>>;
  let oldPin: TlsPin;
  before(async () => {
    const old = certificate('old');
    const oldServer = await serverWith(old);
    oldPin = (await pinServerCertificate(new URL(oldServer.url), old.fingerprint)) as TlsPin;
    oldServer.server.close();
    current = await serverWith(now);
  });
  after(() => current.server.close());
  /** A registered agent's identity, pinned to the certificate the server showed before it was replaced. */
  const pinnedIdentity = (): AgentIdentity => ({
    version: 1,
    url: current.url,
    instanceId: 'mi-0123456789abcdef0',
    name: 'web',
    ...generateAgentKeys(),
    tls: oldPin,
  });

  it('says so, with the pinned fingerprint and how to pin the new one; other failures are not taken for it', async () => {
    const self = await getWithPin(current.url, oldPin);
    assert.ok(self);
    const said = pinMismatch(self, oldPin, 'do this');
    assert.match(String(said), /the server's TLS certificate is not the one pinned \(SHA-256 [0-9A-F:]{95};/);
    assert.match(
      String(said),
      /replaced on purpose, .* and do this; if not, someone may be posing as the server/,
    );
    // A pinned certificate from a private CA, and a server now showing one from another CA.
    const caOld = certificate('ca-old', 'ca');
    const caNow = certificate('ca-now', 'ca');
    const caOldServer = await serverWith(caOld);
    const caPin = (await pinServerCertificate(new URL(caOldServer.url), caOld.fingerprint)) as TlsPin;
    caOldServer.server.close();
    const caNowServer = await serverWith(caNow);
    try {
      const error = await getWithPin(caNowServer.url, caPin);
      assert.ok(error);
      assert.ok(pinMismatch(error, caPin, 'x'), `${(error as NodeJS.ErrnoException).code}: ${error.message}`);
    } finally {
      caNowServer.server.close();
    }
    const refused = await getWithPin('https://127.0.0.1:9', oldPin);
    assert.ok(refused);
    assert.equal(pinMismatch(refused, oldPin, 'x'), undefined);
    assert.equal(pinMismatch(self, null, 'x'), undefined, 'nothing pinned: not a pin problem');
  });

  it('the agent logs it as an error saying what to do, on every failed connection', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const identity = pinnedIdentity();
    const agent = runAgent({
      identity,
      runAs: { name: 'nobody', uid: 65534, gid: 65534, home: '/', shell: '/bin/sh' },
      log,
      backoff: { initialMs: 100, maxMs: 100 },
    });
    try {
      const deadline = Date.now() + 10_000;
      while (lines.filter((l) => l.includes('not the one pinned')).length < 2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      agent.stop();
    }
    const pinned = lines
      .map((l) => JSON.parse(l))
      .filter((l) => String(l.msg).includes('not the one pinned'));
    assert.ok(pinned.length >= 2, lines.join(''));
    assert.equal(pinned[0].level, 50);
    assert.match(pinned[0].msg, /run `sesame-agent pin --fingerprint <new>`, then restart the agent/);
  });

  it('`sesame-agent pin` checks the new certificate against the fingerprint and keeps the same instance', async () => {
    const path = join(dir, 'identity.json');
    const identity = pinnedIdentity();
    await saveIdentity(path, identity);
    await assert.rejects(repinAgent(path, oldPin.fingerprint256), (error: Error) => {
      assert.ok(error instanceof RegistrationError);
      assert.match(
        error.message,
        /fingerprint is .*, not the expected .*: this may not be your Sesame server/,
      );
      return true;
    });
    assert.deepEqual(await loadIdentity(path), identity, 'unchanged after a wrong fingerprint');
    const updated = await repinAgent(path, now.fingerprint.toLowerCase());
    assert.equal(updated.tls?.fingerprint256, now.fingerprint);
    assert.deepEqual(await loadIdentity(path), updated);
    assert.deepEqual({ ...updated, tls: oldPin }, identity, 'only the pin changed');
    assert.equal(await getWithPin(current.url, updated.tls as TlsPin), undefined);
    await saveIdentity(path, { ...identity, url: 'http://127.0.0.1:9' });
    await assert.rejects(repinAgent(path, now.fingerprint), /plain http: there is no certificate to pin/);
  });
});
