import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindingDevice } from './sso-service.ts';

test('a SAML binding gives its device id only when it carries one a device cookie could hold', () => {
  const device = 'a'.repeat(32);
  assert.equal(bindingDevice(`r4nd0m.${device}`), device);
  assert.equal(bindingDevice(null), null);
  // A binding made by a server before bindings carried the device: the whole value is no device id.
  assert.equal(bindingDevice('r4nd0m-without-a-dot-0123456789'), null);
  assert.equal(bindingDevice('r4nd0m.'), null, 'an empty device part');
  assert.equal(bindingDevice('r4nd0m.short'), null);
  assert.equal(bindingDevice(`r4nd0m.${'a'.repeat(101)}`), null);
  assert.equal(bindingDevice(`r4nd0m.${device}!`), null);
});
