import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type AgentIdentity, generateAgentKeys, loadIdentity } from './identity.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const keys = generateAgentKeys();
const good: AgentIdentity = {
  version: 1,
  url: 'https://sesame.example.com',
  instanceId: 'mi-0123456789abcdef0',
  name: 'web-01',
  ...keys,
  tls: null,
};

async function load(value: unknown): Promise<AgentIdentity> {
  const path = join(dir, 'identity.json');
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return loadIdentity(path);
}

test('a good identity loads; one written without tls is taken as not pinned', async () => {
  assert.deepEqual(await load(good), good);
  const { tls: _none, ...unpinned } = good;
  assert.deepEqual(await load(unpinned), good);
});

test('a damaged identity says which file and what is wrong in it', async () => {
  for (const [value, problem] of [
    ['null', /identity\.json is not a JSON object; register the agent again/],
    ['[1]', /is not a JSON object/],
    [{ ...good, privateKey: 'not a key' }, /has a "privateKey" that is not an Ed25519 private key/],
    [
      { ...good, privateKey: generateAgentKeys().publicKey },
      /has a "privateKey" that is not an Ed25519 private key/,
    ],
    [{ ...good, url: 'ftp://x' }, /has a "url" that is not an http\(s\) URL/],
    [{ ...good, tls: 'x' }, /has a "tls" that is neither null nor a pinned certificate/],
    [{ ...good, instanceId: 7 }, /lacks "instanceId"/],
  ] as const) {
    await assert.rejects(
      load(value),
      (error: Error) => {
        assert.match(error.message, problem);
        assert.match(error.message, new RegExp(dir.replaceAll('/', '\\/')));
        return true;
      },
      JSON.stringify(value).slice(0, 60),
    );
  }
});
