import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeRedirect } from './sso-service.ts';

test('safeRedirect keeps paths on this server and refuses everything that could leave it', () => {
  for (const good of ['/', '/console/', '/console/connect?target=i-0123456789abcdef0', '/account#x'])
    assert.equal(safeRedirect(good), good);
  for (const bad of [
    '//evil.example',
    '/\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/.//evil.example',
    '/%2e//evil.example',
    '/%2E//evil.example',
    '/a/..//evil.example',
    '/././/evil.example/x?y#z',
    'https://evil.example/',
    'javascript:alert(1)',
    'console',
    '',
    42,
    undefined,
    `/${'a'.repeat(1001)}`,
  ])
    assert.equal(safeRedirect(bad), undefined, JSON.stringify(bad));
});
